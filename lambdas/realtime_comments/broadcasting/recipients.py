"""Who receives a message: a post's subscribers (one Query), or everyone (a Scan, broadcast_to_all only)."""

from __future__ import annotations

from realtime_comments.connections import ConnectionsRepository


def recipients(connections: ConnectionsRepository, post_id: str | None) -> list[str]:
    if post_id is None:
        return list(connections.all_connection_ids())
    return connections.subscriber_ids(post_id)
