"""What a handler builds from its settings, once per execution environment, and passes down.

Each handler has one ``@once_per_container`` function that parses its own settings class (so a
missing or malformed variable fails the first, cold-start invocation with a ``SettingsError``)
and builds its clients and repositories from them. The builders below are the pieces several
handlers share. ``reset()`` forgets everything built, for tests that change the environment.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from realtime_comments import aws_clients
from realtime_comments.connections import ConnectionsRepository
from realtime_comments.delivery import DeliveryResult, Fanout, deliver
from realtime_comments.delivery.sender import GoneHandler
from realtime_comments.delivery.transport import Transport
from realtime_comments.presence import FlushScheduler, PresenceCounter
from realtime_comments.settings import BroadcastSettings, ReplySettings

T = TypeVar("T")

_built: list[Any] = []


def once_per_container(build: Callable[[], T]) -> Callable[[], T]:
    """Run ``build`` on first use and keep its result for the container's lifetime."""
    cached = functools.cache(build)
    _built.append(cached)
    return cached


def reset() -> None:
    """Forget every container-scoped value and client (tests change the environment between cases)."""
    for cached in _built:
        cached.cache_clear()
    aws_clients.clear_cache()


def presence_counter(settings: Any, *, send_concurrency: int = 0) -> PresenceCounter:
    """Viewer counts in the connections table; flush requests go to the fan-out queue (without
    one, counts are kept and `subscribed` carries them, but no `presence` message is sent)."""
    queue_url = getattr(settings, "fanout_queue_url", "")
    scheduler = FlushScheduler(queue_url, aws_clients.sqs(settings.region)) if queue_url else None
    client = aws_clients.dynamodb(settings.region, max_connections=aws_clients.pool_size(send_concurrency))
    return PresenceCounter(settings.connections_table_name, client, scheduler)


def connections_repository(settings: Any, *, send_concurrency: int = 0) -> ConnectionsRepository:
    """The connections table of any settings class that names it (``connections_table_name``),
    with presence kept up to date by every subscription change."""
    client = aws_clients.dynamodb(settings.region, max_connections=aws_clients.pool_size(send_concurrency))
    return ConnectionsRepository(
        settings.connections_table_name,
        client,
        presence=presence_counter(settings, send_concurrency=send_concurrency),
    )


@dataclass(frozen=True)
class Replies:
    """Sending to connections of one WebSocket API: the transport and the 410 cleanup."""

    transport: Transport
    on_gone: GoneHandler
    send_concurrency: int = 1

    def send(self, connection_id: str, message: str | bytes) -> DeliveryResult:
        return self.deliver(message, [connection_id], concurrency=1)

    def deliver(
        self, message: str | bytes, connection_ids: Sequence[str], concurrency: int | None = None
    ) -> DeliveryResult:
        return deliver(
            message,
            connection_ids,
            transport=self.transport,
            on_gone=self.on_gone,
            send_concurrency=self.send_concurrency,
            concurrency=concurrency,
        )


def forget_gone_connections(settings: ReplySettings, *, send_concurrency: int = 1) -> GoneHandler:
    """Delete a gone connection from the connections table. The DynamoDB client is built at the
    first gone connection, so a function whose sends all succeed (the fan-out worker's usual
    invocation) never pays for it at cold start."""

    @functools.cache
    def repository() -> ConnectionsRepository:
        return connections_repository(settings, send_concurrency=send_concurrency)

    def forget(connection_id: str) -> Any:
        return repository().delete_connection(connection_id)

    return forget


def replies(settings: ReplySettings, *, send_concurrency: int = 1) -> Replies:
    return Replies(
        transport=aws_clients.connections_transport(settings.websocket_callback_url, settings.region),
        on_gone=forget_gone_connections(settings, send_concurrency=send_concurrency),
        send_concurrency=send_concurrency,
    )


def fanout(settings: BroadcastSettings | ReplySettings) -> Fanout:
    sender = replies(settings, send_concurrency=settings.fanout.send_concurrency)
    return Fanout(
        options=settings.fanout,
        deliver=sender.deliver,
        queue_url=settings.fanout_queue_url,
        sqs_client=functools.partial(aws_clients.sqs, settings.region),
    )
