"""$disconnect: delete the connection and every subscription it holds."""

from __future__ import annotations

from typing import Any

from realtime_comments import aws_clients
from realtime_comments.dependencies import connections_repository, once_per_container
from realtime_comments.observability import entry_point, logger
from realtime_comments.settings import DisconnectSettings
from realtime_comments.websocket.event import connection_id

aws_clients.preload("dynamodb")  # parsed in the init phase, not in the first request

connections = once_per_container(lambda: connections_repository(DisconnectSettings.from_env()))


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    removed = connections().delete_connection(connection_id(event))
    logger.debug("connection removed", extra={"items": removed})
    return {"statusCode": 200}
