"""$connect: store the connection with the user id the authorizer verified."""

from __future__ import annotations

import time
from typing import Any

from realtime_comments import aws_clients
from realtime_comments.connections import ConnectionsRepository
from realtime_comments.observability import entry_point, logger
from realtime_comments.settings import Settings
from realtime_comments.websocket.event import authorizer_user_id, connection_id


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    settings = Settings.from_env()
    user_id = authorizer_user_id(event)
    if user_id is None:
        # Only reachable if the route were deployed without the authorizer: refuse, store nothing.
        logger.warning("connect without an authorizer userId")
        return {"statusCode": 403}
    connections = ConnectionsRepository(settings.connections_table_name, aws_clients.dynamodb(settings))
    connections.put_connection(
        connection_id(event), user_id, int(time.time()) + settings.connection_ttl_seconds
    )
    return {"statusCode": 200}
