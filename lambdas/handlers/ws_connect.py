"""$connect: store the connection with the user id the authorizer verified, within the user's
limit of concurrent connections (refused at the handshake beyond it)."""

from __future__ import annotations

import time
from typing import Any

from realtime_comments import aws_clients
from realtime_comments.connections import ConnectionsRepository
from realtime_comments.limits import UserConnectionSlots, release_connection_slot
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
    caller = connection_id(event)
    dynamodb = aws_clients.dynamodb(settings)
    slots = UserConnectionSlots(dynamodb, settings.connections_table_name, settings.max_connections_per_user)
    if not slots.claim(user_id, caller):
        logger.info("connection refused: the user holds the most connections allowed")
        return {"statusCode": 429}
    connections = ConnectionsRepository(settings.connections_table_name, dynamodb)
    try:
        connections.put_connection(caller, user_id, int(time.time()) + settings.connection_ttl_seconds)
    except Exception:
        release_connection_slot(dynamodb, settings.connections_table_name, user_id, caller)
        raise
    return {"statusCode": 200}
