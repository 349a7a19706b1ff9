"""Checks shared by the WebSocket actions, the REST API and the broadcast endpoint."""

from __future__ import annotations

import re
from typing import Any

MAX_POST_ID_LENGTH = 128
MAX_COMMENT_ID_LENGTH = 128
# Sequence numbers stay far below this; the bound keeps absurd input out of DynamoDB numbers.
MAX_SEQ = 10**15
# Letters, digits and a few separators: enough for UUIDs and slugs, and nothing that could clash
# with the `sub#<postId>` sort key or need escaping in a URL path.
_POST_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


class InvalidParameter(ValueError):
    """A request parameter is missing or malformed; the message is safe to show to the client."""


def validate_post_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidParameter("postId must be a non-empty string")
    if len(value) > MAX_POST_ID_LENGTH:
        raise InvalidParameter(f"postId must be at most {MAX_POST_ID_LENGTH} characters")
    if not _POST_ID_PATTERN.fullmatch(value):
        raise InvalidParameter("postId may contain only letters, digits, '.', '_', ':' and '-'")
    return value


def validate_seq(value: Any, name: str) -> int:
    """A non-negative integer sequence number (bool is rejected although it is an int)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEQ:
        raise InvalidParameter(f"{name} must be an integer between 0 and {MAX_SEQ}")
    return value


def validate_comment_id(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_COMMENT_ID_LENGTH:
        raise InvalidParameter(f"commentId must be 1 to {MAX_COMMENT_ID_LENGTH} characters")
    return value
