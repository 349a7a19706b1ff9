"""subscribe / unsubscribe / typing / ping: replies go to the caller with post_to_connection;
`typing` goes to the post's other subscribers (inline, or through the fan-out queue above its limit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from realtime_comments import aws_clients
from realtime_comments.comments.repository import CommentsRepository
from realtime_comments.connections import ConnectionsRepository
from realtime_comments.delivery import Fanout, fan_out
from realtime_comments.dependencies import (
    Replies,
    connections_repository,
    fanout,
    once_per_container,
    replies,
)
from realtime_comments.limits import RateLimiter
from realtime_comments.observability import entry_point, logger
from realtime_comments.settings import ActionsSettings
from realtime_comments.websocket.actions import (
    INTERNAL_ERROR,
    ActionContext,
    error_message,
    rate_limited_message,
    run_action,
)
from realtime_comments.websocket.event import authorizer_user_id, connection_id, frame_json, route_key
from realtime_comments.websocket.frame_limit import frame_key, frame_rate_limiter

aws_clients.preload("dynamodb")  # parsed in the init phase, not in the first request


@dataclass(frozen=True)
class Dependencies:
    settings: ActionsSettings
    connections: ConnectionsRepository
    comments: CommentsRepository
    replies: Replies
    fanout: Fanout
    frame_rate: RateLimiter


@once_per_container
def dependencies() -> Dependencies:
    settings = ActionsSettings.from_env()
    dynamodb = aws_clients.dynamodb(settings.region)
    return Dependencies(
        settings=settings,
        connections=connections_repository(settings),
        comments=CommentsRepository(settings.comments_table_name, dynamodb),
        replies=replies(settings),
        fanout=fanout(settings),
        frame_rate=frame_rate_limiter(
            dynamodb, settings.connections_table_name, settings.action_rate, settings.action_burst
        ),
    )


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    deps = dependencies()
    caller = connection_id(event)
    body = frame_json(event)
    # The route key is the action API Gateway selected; a body without one (it cannot happen
    # behind route selection, but the handler must not care) falls back to it.
    action = body.get("action") if body and isinstance(body.get("action"), str) else route_key(event)
    retry_after = deps.frame_rate.acquire(frame_key(caller))
    if retry_after is not None:
        deps.replies.send(caller, rate_limited_message(action, retry_after))
        return {"statusCode": 200}
    action_context = ActionContext(
        connection_id=caller,
        user_id=authorizer_user_id(event),
        connections=deps.connections,
        comments=deps.comments,
        page_size=deps.settings.comments_page_size,
        max_subscriptions=deps.settings.max_subscriptions_per_connection,
        relay=lambda message, recipients: fan_out(message, recipients, deps.fanout),
    )
    try:
        replies = run_action(action_context, action, body)
    except Exception:
        logger.exception("action failed", extra={"action": action})
        replies = [error_message(action, INTERNAL_ERROR, "internal error, please retry")]
    for reply in replies:
        deps.replies.send(caller, reply)
    return {"statusCode": 200}
