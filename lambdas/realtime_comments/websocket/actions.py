"""The named WebSocket actions (subscribe, unsubscribe, ping) and the $default echo.

Each function returns the messages to send back to the caller, in order; the handler sends them.
Bad parameters become an `error` message, never an exception.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from realtime_comments.comments.repository import CommentsRepository
from realtime_comments.connections import ConnectionsRepository
from realtime_comments.envelope import ERROR, PONG, SUBSCRIBED, TEST, UNSUBSCRIBED, encode_message
from realtime_comments.validation import InvalidParameter, safe_text, validate_post_id, validate_seq
from realtime_comments.websocket.comments_list import comments_list_message

KNOWN_ACTIONS = ("subscribe", "unsubscribe", "ping")


@dataclass(frozen=True)
class ActionContext:
    connection_id: str
    user_id: str | None
    connections: ConnectionsRepository
    comments: CommentsRepository
    page_size: int
    connection_ttl_seconds: int


def error_message(action: str, message: str) -> str:
    # `action` is the client's text: a JSON escape can make it a lone surrogate, which no frame
    # can carry, so it is echoed with U+FFFD in its place.
    return encode_message(ERROR, {"action": safe_text(action), "message": message})


def echo_message(frame: str) -> str:
    return encode_message(TEST, {"message": safe_text(frame)})


def subscribe(context: ActionContext, body: dict[str, Any]) -> list[str]:
    post_id = validate_post_id(body.get("postId"))
    since = body.get("since")
    if since is not None:
        since = validate_seq(since, "since")
    connection = context.connections.get_connection(context.connection_id)
    # The subscription expires with its connection, so the TTL sweep removes both together.
    if connection:
        expires_at = int(connection["expiresAt"])
        user_id = context.user_id or str(connection.get("userId", ""))
    else:
        expires_at = int(time.time()) + context.connection_ttl_seconds
        user_id = context.user_id or ""
    context.connections.put_subscription(context.connection_id, post_id, user_id, expires_at)
    return [
        encode_message(SUBSCRIBED, {"postId": post_id}),
        comments_list_message(context.comments, post_id, limit=context.page_size, since=since),
    ]


def unsubscribe(context: ActionContext, body: dict[str, Any]) -> list[str]:
    post_id = validate_post_id(body.get("postId"))
    context.connections.delete_subscription(context.connection_id, post_id)
    return [encode_message(UNSUBSCRIBED, {"postId": post_id})]


def ping(context: ActionContext, body: dict[str, Any]) -> list[str]:
    return [encode_message(PONG, {})]


_ACTIONS = {"subscribe": subscribe, "unsubscribe": unsubscribe, "ping": ping}


def run_action(context: ActionContext, action: str, body: dict[str, Any] | None) -> list[str]:
    """The replies to one action frame (`body` is None when the frame was not a JSON object)."""
    if body is None:
        return [error_message(action, "the message must be a JSON object")]
    handler = _ACTIONS.get(action)
    if handler is None:
        return [error_message(action, f"unknown action; expected one of {', '.join(KNOWN_ACTIONS)}")]
    try:
        return handler(context, body)
    except InvalidParameter as exc:
        return [error_message(action, str(exc))]
