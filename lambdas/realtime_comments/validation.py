"""Checks shared by the WebSocket actions, the REST API and the broadcast endpoint."""

from __future__ import annotations

import math
import re
from typing import Any

MAX_POST_ID_LENGTH = 128
MAX_COMMENT_ID_LENGTH = 128
# Sequence numbers stay far below this; the bound keeps absurd input out of DynamoDB numbers.
MAX_SEQ = 10**15
# Letters, digits and a few separators: enough for UUIDs and slugs, and nothing that could clash
# with the `sub#<postId>` sort key or need escaping in a URL path.
_POST_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


# Unicode control characters (category Cc: U+0000-U+001F, U+007F-U+009F) other than tab, line
# feed and carriage return. NUL and escape sequences have no place in a comment and break
# consumers that treat text as C strings or print it to a terminal.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
MAX_JSON_DEPTH = 32


class InvalidParameter(ValueError):
    """A request parameter is missing or malformed; the message is safe to show to the client."""


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored in DynamoDB and sent back as JSON unchanged, or None.

    JSON escapes let a client send lone surrogates ("\\ud800"), which Python accepts in a str
    but which are not Unicode text: DynamoDB (UTF-8) and every later encoder refuse them.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (it contains an unpaired surrogate)"
    if _CONTROL_CHARACTERS.search(value):
        return "must not contain control characters other than tab, line feed and carriage return"
    return None


def validate_text(value: str, name: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise InvalidParameter(f"{name} {problem}")
    return value


def json_problem(value: Any, depth: int = 0) -> str | None:
    """Why a parsed JSON value cannot be sent on as JSON text unchanged, or None: strings (keys
    included) that are not Unicode text, numbers that JSON has no form for (NaN, Infinity), and
    nesting deeper than MAX_JSON_DEPTH."""
    if depth > MAX_JSON_DEPTH:
        return f"is nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode text (it contains an unpaired surrogate)"
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "must not contain NaN or Infinity"
    if isinstance(value, dict):
        for key, item in value.items():
            problem = json_problem(key, depth + 1) or json_problem(item, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = json_problem(item, depth + 1)
            if problem:
                return problem
    return None


def safe_text(value: str) -> str:
    """`value` with every unpaired surrogate replaced by U+FFFD, for echoing client text back."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


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
    return validate_text(value, "commentId")
