"""$default: echo whatever the client sent (malformed JSON included) as a `test` message."""

from __future__ import annotations

from typing import Any

from realtime_comments import aws_clients
from realtime_comments.delivery import send_to_connection
from realtime_comments.observability import entry_point
from realtime_comments.settings import Settings
from realtime_comments.websocket.actions import echo_message, rate_limited_message
from realtime_comments.websocket.event import connection_id, frame_text
from realtime_comments.websocket.frame_limit import frame_key, frame_rate_limiter


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    settings = Settings.from_env()
    caller = connection_id(event)
    # Frames that match no action count against the same per-connection rate as actions do.
    limiter = frame_rate_limiter(
        aws_clients.dynamodb(settings),
        settings.connections_table_name,
        settings.action_rate,
        settings.action_burst,
    )
    retry_after = limiter.acquire(frame_key(caller))
    reply = (
        echo_message(frame_text(event))
        if retry_after is None
        else rate_limited_message("$default", retry_after)
    )
    send_to_connection(caller, reply, settings=settings)
    return {"statusCode": 200}
