"""$default: echo whatever the client sent (malformed JSON included) as a `test` message."""

from __future__ import annotations

from typing import Any

from realtime_comments import aws_clients
from realtime_comments.dependencies import once_per_container, replies
from realtime_comments.limits import RateLimiter
from realtime_comments.observability import entry_point
from realtime_comments.settings import DefaultRouteSettings
from realtime_comments.websocket.actions import echo_message, rate_limited_message
from realtime_comments.websocket.event import connection_id, frame_text
from realtime_comments.websocket.frame_limit import frame_key, frame_rate_limiter

settings = once_per_container(DefaultRouteSettings.from_env)
sender = once_per_container(lambda: replies(settings()))


@once_per_container
def frame_rate() -> RateLimiter:
    config = settings()
    return frame_rate_limiter(
        aws_clients.dynamodb(config.region),
        config.connections_table_name,
        config.action_rate,
        config.action_burst,
    )


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    caller = connection_id(event)
    # Frames that match no action count against the same per-connection rate as actions do.
    retry_after = frame_rate().acquire(frame_key(caller))
    reply = (
        echo_message(frame_text(event))
        if retry_after is None
        else rate_limited_message("$default", retry_after)
    )
    sender().send(caller, reply)
    return {"statusCode": 200}
