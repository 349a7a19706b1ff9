"""$connect: store the connection with the user id the authorizer verified, within the user's
limit of concurrent connections (refused at the handshake beyond it; at the limit, the slots of
connections that closed are taken back first: limits/connection_slots.py)."""

from __future__ import annotations

import time
from typing import Any

from realtime_comments import aws_clients
from realtime_comments.dependencies import connections_repository, once_per_container
from realtime_comments.limits import UserConnectionSlots, release_connection_slot
from realtime_comments.observability import entry_point, logger
from realtime_comments.settings import ConnectSettings
from realtime_comments.websocket.event import authorizer_user_id, connection_id

aws_clients.preload("dynamodb")  # parsed in the init phase, not in the first request

settings = once_per_container(ConnectSettings.from_env)
connections = once_per_container(lambda: connections_repository(settings()))


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    ttl_seconds = settings().connection_ttl_seconds
    user_id = authorizer_user_id(event)
    if user_id is None:
        # Only reachable if the route were deployed without the authorizer: refuse, store nothing.
        logger.warning("connect without an authorizer userId")
        return {"statusCode": 403}
    caller = connection_id(event)
    config = settings()
    dynamodb = aws_clients.dynamodb(config.region)
    slots = UserConnectionSlots(dynamodb, config.connections_table_name, config.max_connections_per_user)
    if not slots.claim(user_id, caller):
        logger.info("connection refused: the user holds the most connections allowed")
        return {"statusCode": 429}
    try:
        connections().put_connection(caller, user_id, int(time.time()) + ttl_seconds)
    except Exception:
        # At once, rather than after the grace a $connect at the limit would wait for it.
        release_connection_slot(dynamodb, config.connections_table_name, user_id, caller)
        raise
    return {"statusCode": 200}
