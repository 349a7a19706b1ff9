"""Opaque page cursors for GET .../comments: base64url of {"p": postId, "s": last seq}."""

from __future__ import annotations

import base64
import binascii
import json

from realtime_comments.validation import InvalidParameter, validate_seq


def encode_cursor(post_id: str, last_seq: int) -> str:
    raw = json.dumps({"p": post_id, "s": last_seq}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(post_id: str, cursor: str) -> int:
    """The seq after which the next page starts; a cursor of another post is refused."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        seq = payload["s"]
        owner = payload["p"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError) as exc:
        raise InvalidParameter("cursor is not valid") from exc
    if owner != post_id:
        raise InvalidParameter("cursor is not valid for this post")
    try:
        return validate_seq(seq, "cursor")
    except InvalidParameter as exc:
        raise InvalidParameter("cursor is not valid") from exc
