"""$default: echo whatever the client sent (malformed JSON included) as a `test` message."""

from __future__ import annotations

from typing import Any

from realtime_comments.dependencies import once_per_container, replies
from realtime_comments.observability import entry_point
from realtime_comments.settings import ReplySettings
from realtime_comments.websocket.actions import echo_message
from realtime_comments.websocket.event import connection_id, frame_text

sender = once_per_container(lambda: replies(ReplySettings.from_env()))


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    sender().send(connection_id(event), echo_message(frame_text(event)))
    return {"statusCode": 200}
