"""The named WebSocket actions (subscribe, unsubscribe, typing, ping) and the $default echo.

Each function returns the messages to send back to the caller, in order; the handler sends them.
Bad parameters become an `error` message with a stable `code` (docs/contract.md), never an exception.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from realtime_comments.comments.repository import CommentsRepository
from realtime_comments.connections import ConnectionsRepository
from realtime_comments.connections.repository import ConnectionGone, TooManySubscriptions
from realtime_comments.envelope import ERROR, PONG, SUBSCRIBED, TEST, TYPING, UNSUBSCRIBED, encode_message
from realtime_comments.validation import InvalidParameter, safe_text, validate_post_id, validate_seq
from realtime_comments.websocket.comments_list import comments_list_message

KNOWN_ACTIONS = ("subscribe", "unsubscribe", "typing", "ping")
# At most one `typing` per connection in this many milliseconds is passed on.
TYPING_INTERVAL_MS = 2000
NOT_SUBSCRIBED = "NOT_SUBSCRIBED"

# Sends a ready message to some connections (inline or through the fan-out queue).
Relay = Callable[[str, list[str]], Any]

# The `code` of every error frame (docs/contract.md lists them).
INVALID_MESSAGE = "INVALID_MESSAGE"
UNKNOWN_ACTION = "UNKNOWN_ACTION"
VALIDATION_ERROR = "VALIDATION_ERROR"
TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"
NOT_CONNECTED = "NOT_CONNECTED"
RATE_LIMITED = "RATE_LIMITED"
INTERNAL_ERROR = "INTERNAL_ERROR"


@dataclass(frozen=True)
class ActionContext:
    connection_id: str
    user_id: str | None
    connections: ConnectionsRepository
    comments: CommentsRepository
    page_size: int
    max_subscriptions: int
    relay: Relay | None = None
    clock: Callable[[], float] = time.time


def error_message(action: str, code: str, message: str) -> str:
    # `action` is the client's text: a JSON escape can make it a lone surrogate, which no frame
    # can carry, so it is echoed with U+FFFD in its place.
    return encode_message(ERROR, {"action": safe_text(action), "code": code, "message": message})


def echo_message(frame: str) -> str:
    return encode_message(TEST, {"message": safe_text(frame)})


def subscribe(context: ActionContext, body: dict[str, Any]) -> list[str]:
    post_id = validate_post_id(body.get("postId"))
    since = body.get("since")
    if since is not None:
        since = validate_seq(since, "since")
    try:
        viewers = context.connections.subscribe(context.connection_id, post_id, context.max_subscriptions)
    except TooManySubscriptions:
        return [
            error_message(
                "subscribe",
                TOO_MANY_SUBSCRIPTIONS,
                f"a connection may hold at most {context.max_subscriptions} subscriptions; "
                "unsubscribe from a post first",
            )
        ]
    except ConnectionGone:
        return [error_message("subscribe", NOT_CONNECTED, "this connection is closed; reconnect")]
    return [
        encode_message(SUBSCRIBED, {"postId": post_id, "viewers": viewers or 0}),
        comments_list_message(context.comments, post_id, limit=context.page_size, since=since),
    ]


def unsubscribe(context: ActionContext, body: dict[str, Any]) -> list[str]:
    post_id = validate_post_id(body.get("postId"))
    context.connections.unsubscribe(context.connection_id, post_id)
    return [encode_message(UNSUBSCRIBED, {"postId": post_id})]


def typing(context: ActionContext, body: dict[str, Any]) -> list[str]:
    """Relay `typing` to the post's other subscribers; nothing back to the sender unless it does
    not subscribe to the post. Not stored: the only write is the sender's rate-limit stamp."""
    post_id = validate_post_id(body.get("postId"))
    subscription = context.connections.get_subscription(context.connection_id, post_id)
    if subscription is None:
        return [
            error_message("typing", NOT_SUBSCRIBED, f"this connection does not subscribe to post {post_id}")
        ]
    now_ms = int(context.clock() * 1000)
    if not context.connections.claim_typing_slot(context.connection_id, now_ms, TYPING_INTERVAL_MS):
        return []  # within 2 s of the last one: dropped without an error
    user_id = context.user_id or str(subscription.get("userId", ""))
    others = [c for c in context.connections.subscriber_ids(post_id) if c != context.connection_id]
    if others and context.relay is not None:
        context.relay(encode_message(TYPING, {"postId": post_id, "userId": user_id}), others)
    return []


def ping(context: ActionContext, body: dict[str, Any]) -> list[str]:
    return [encode_message(PONG, {})]


_ACTIONS = {"subscribe": subscribe, "unsubscribe": unsubscribe, "typing": typing, "ping": ping}


def run_action(context: ActionContext, action: str, body: dict[str, Any] | None) -> list[str]:
    """The replies to one action frame (`body` is None when the frame was not a JSON object)."""
    if body is None:
        return [error_message(action, INVALID_MESSAGE, "the message must be a JSON object")]
    handler = _ACTIONS.get(action)
    if handler is None:
        return [
            error_message(
                action, UNKNOWN_ACTION, f"unknown action; expected one of {', '.join(KNOWN_ACTIONS)}"
            )
        ]
    try:
        return handler(context, body)
    except InvalidParameter as exc:
        return [error_message(action, VALIDATION_ERROR, str(exc))]


def rate_limited_message(action: str, retry_after: float) -> str:
    return error_message(
        action, RATE_LIMITED, f"too many messages on this connection; retry in {retry_after:.1f} s"
    )
