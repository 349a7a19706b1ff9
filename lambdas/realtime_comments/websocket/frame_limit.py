"""The action-frame rate per connection: a bucket on the connection item itself (attribute
`actionTat`), so it costs one UpdateItem per frame, needs no item of its own and leaves with
the connection."""

from __future__ import annotations

from typing import Any

from realtime_comments.connections.repository import CONNECTION_SK
from realtime_comments.limits import RateLimit, RateLimiter

ACTION_RATE_ATTRIBUTE = "actionTat"


def frame_rate_limiter(client: Any, table_name: str, per_second: int, burst: int) -> RateLimiter:
    return RateLimiter(
        client,
        table_name,
        RateLimit(per_second=per_second, burst=burst),
        attribute=ACTION_RATE_ATTRIBUTE,
        must_exist=True,
    )


def frame_key(connection_id: str) -> dict[str, Any]:
    return {"connectionId": {"S": connection_id}, "sk": {"S": CONNECTION_SK}}
