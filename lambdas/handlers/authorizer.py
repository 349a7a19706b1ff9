"""$connect REQUEST authorizer: JWT from ?token= and the Origin header (docs/design.md, WebSocket API)."""

from __future__ import annotations

from typing import Any

from realtime_comments.auth.authorize import Unauthorized, authorize
from realtime_comments.dependencies import once_per_container
from realtime_comments.observability import entry_point, logger
from realtime_comments.settings import AuthorizerSettings

settings = once_per_container(AuthorizerSettings.from_env)


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    try:
        response = authorize(event, settings())
    except Unauthorized:
        # The reason is logged by class name only: tokens never reach the logs.
        logger.info("connection refused: missing or invalid token")
        raise
    if response["policyDocument"]["Statement"][0]["Effect"] == "Deny":
        logger.info("connection denied: origin not allowed")
    return response
