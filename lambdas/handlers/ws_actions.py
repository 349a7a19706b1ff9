"""subscribe / unsubscribe / typing / ping: replies go to the caller with post_to_connection;
`typing` goes to the post's other subscribers (inline, or through the fan-out queue above its limit)."""

from __future__ import annotations

from typing import Any

from realtime_comments import aws_clients
from realtime_comments.comments.repository import CommentsRepository
from realtime_comments.delivery import fan_out, send_to_connection
from realtime_comments.dependencies import connections_repository
from realtime_comments.observability import entry_point, logger
from realtime_comments.settings import Settings
from realtime_comments.websocket.actions import (
    INTERNAL_ERROR,
    ActionContext,
    error_message,
    rate_limited_message,
    run_action,
)
from realtime_comments.websocket.event import authorizer_user_id, connection_id, frame_json, route_key
from realtime_comments.websocket.frame_limit import frame_key, frame_rate_limiter


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    settings = Settings.from_env()
    caller = connection_id(event)
    body = frame_json(event)
    # The route key is the action API Gateway selected; a body without one (it cannot happen
    # behind route selection, but the handler must not care) falls back to it.
    action = body.get("action") if body and isinstance(body.get("action"), str) else route_key(event)
    dynamodb = aws_clients.dynamodb(settings)
    limiter = frame_rate_limiter(
        dynamodb, settings.connections_table_name, settings.action_rate, settings.action_burst
    )
    retry_after = limiter.acquire(frame_key(caller))
    if retry_after is not None:
        send_to_connection(caller, rate_limited_message(action, retry_after), settings=settings)
        return {"statusCode": 200}
    action_context = ActionContext(
        connection_id=caller,
        user_id=authorizer_user_id(event),
        connections=connections_repository(settings),
        comments=CommentsRepository(settings.comments_table_name, dynamodb),
        page_size=settings.comments_page_size,
        max_subscriptions=settings.max_subscriptions_per_connection,
        relay=lambda message, recipients: fan_out(message, recipients, settings),
    )
    try:
        replies = run_action(action_context, action, body)
    except Exception:
        logger.exception("action failed", extra={"action": action})
        replies = [error_message(action, INTERNAL_ERROR, "internal error, please retry")]
    for reply in replies:
        send_to_connection(caller, reply, settings=settings)
    return {"statusCode": 200}
