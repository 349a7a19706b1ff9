"""$connect: store the connection with the user id the authorizer verified."""

from __future__ import annotations

import time
from typing import Any

from realtime_comments.dependencies import connections_repository, once_per_container
from realtime_comments.observability import entry_point, logger
from realtime_comments.settings import ConnectSettings
from realtime_comments.websocket.event import authorizer_user_id, connection_id

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
    connections().put_connection(connection_id(event), user_id, int(time.time()) + ttl_seconds)
    return {"statusCode": 200}
