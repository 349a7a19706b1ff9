"""Reading API Gateway WebSocket events defensively: nothing a client sends may crash a handler."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def connection_id(event: dict[str, Any]) -> str:
    value = (event.get("requestContext") or {}).get("connectionId")
    # API Gateway ids never start with "#": that prefix is kept for the table's counter and
    # registry partitions (connections/repository.py), which no event may address.
    if not isinstance(value, str) or not value or value.startswith("#"):
        raise ValueError("event has no valid requestContext.connectionId")
    return value


def authorizer_user_id(event: dict[str, Any]) -> str | None:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    user_id = authorizer.get("userId") if isinstance(authorizer, dict) else None
    return user_id if isinstance(user_id, str) and user_id else None


def route_key(event: dict[str, Any]) -> str:
    value = (event.get("requestContext") or {}).get("routeKey")
    return value if isinstance(value, str) else ""


def frame_text(event: dict[str, Any]) -> str:
    """The frame as text (binary frames arrive base64-encoded; undecodable bytes are replaced)."""
    body = event.get("body")
    if body is None:
        return ""
    if not isinstance(body, str):
        return json.dumps(body)
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=False).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return body
    return body


def frame_json(event: dict[str, Any]) -> dict[str, Any] | None:
    """The frame parsed as a JSON object, or None when it is not one."""
    try:
        parsed = json.loads(frame_text(event))
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None
