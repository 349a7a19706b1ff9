"""The server-to-client message envelope: {"type": T, "data": D, "timestamp": ISO-8601 UTC with Z}."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

COMMENT_CREATED = "comment.created"
COMMENT_UPDATED = "comment.updated"
COMMENT_DELETED = "comment.deleted"
COMMENTS_LIST = "comments.list"
TEST = "test"
SUBSCRIBED = "subscribed"
UNSUBSCRIBED = "unsubscribed"
PONG = "pong"
ERROR = "error"
NOTIFICATION_CREATED = "notification.created"
PRESENCE = "presence"
TYPING = "typing"

# Types another service may send through the broadcast endpoint (docs/design.md).
BROADCASTABLE_TYPES = frozenset({COMMENT_CREATED, COMMENT_UPDATED, COMMENT_DELETED, COMMENTS_LIST, TEST})

# API Gateway refuses WebSocket frames above 128 KB (post_to_connection `Data`).
MAX_MESSAGE_BYTES = 128 * 1024


def utc_timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 in UTC with millisecond precision and a `Z` suffix, e.g. 2026-01-01T00:00:00.000Z."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def build_message(message_type: str, data: dict[str, Any], timestamp: str | None = None) -> dict[str, Any]:
    return {"type": message_type, "data": data, "timestamp": timestamp or utc_timestamp()}


def to_json(message: dict[str, Any]) -> str:
    """Compact JSON; non-ASCII stays UTF-8 so that the byte size matches what goes on the wire."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def encode_message(message_type: str, data: dict[str, Any]) -> str:
    return to_json(build_message(message_type, data))


def byte_size(text: str) -> int:
    return len(text.encode("utf-8"))
