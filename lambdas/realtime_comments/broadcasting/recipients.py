"""Who receives a message: a post's subscribers (one Query on byPost), or everyone
(broadcast_to_all: Queries per shard of `byShard` and the legacy registry, reading one small key per
live connection)."""

from __future__ import annotations

from collections.abc import Callable

from realtime_comments.connections import ConnectionsRepository

Audience = Callable[[str | None], list[str]]


def recipients(connections: ConnectionsRepository, post_id: str | None) -> list[str]:
    if post_id is None:
        return list(connections.all_connection_ids())
    return connections.subscriber_ids(post_id)


class BatchAudience:
    """Recipients read once per post per stream batch.

    A batch of 85 comments on one post made 85 identical Queries, one after another, before any
    delivery: one Query per post per batch costs a fraction of the read units and of the time.
    The subscriber set is then as of the batch's first record on that post; a connection that
    subscribes later in the same batch gets those comments from its `subscribe` reply, as it gets
    every comment created before it subscribed.
    """

    def __init__(self, connections: ConnectionsRepository) -> None:
        self._connections = connections
        self._read: dict[str | None, list[str]] = {}

    def __call__(self, post_id: str | None) -> list[str]:
        if post_id not in self._read:
            self._read[post_id] = recipients(self._connections, post_id)
        return self._read[post_id]
