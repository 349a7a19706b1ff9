"""$default: echo whatever the client sent (malformed JSON included) as a `test` message."""

from __future__ import annotations

from typing import Any

from realtime_comments.delivery import send_to_connection
from realtime_comments.observability import entry_point
from realtime_comments.settings import Settings
from realtime_comments.websocket.actions import echo_message
from realtime_comments.websocket.event import connection_id, frame_text


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    send_to_connection(connection_id(event), echo_message(frame_text(event)), settings=Settings.from_env())
    return {"statusCode": 200}
