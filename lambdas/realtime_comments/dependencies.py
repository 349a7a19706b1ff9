"""Repositories built from the settings, the way every function wires them."""

from __future__ import annotations

from realtime_comments import aws_clients
from realtime_comments.connections import ConnectionsRepository
from realtime_comments.presence import FlushScheduler, PresenceCounter
from realtime_comments.settings import Settings


def presence_counter(settings: Settings) -> PresenceCounter:
    """Viewer counts in the connections table; flush requests go to the fan-out queue (without
    one, counts are kept and `subscribed` carries them, but no `presence` message is sent)."""
    scheduler = None
    if settings.fanout_queue_url:
        scheduler = FlushScheduler(settings.fanout_queue_url, aws_clients.sqs(settings))
    return PresenceCounter(settings.connections_table_name, aws_clients.dynamodb(settings), scheduler)


def connections_repository(settings: Settings) -> ConnectionsRepository:
    """The connections table with presence kept up to date by every subscription change."""
    return ConnectionsRepository(
        settings.connections_table_name, aws_clients.dynamodb(settings), presence=presence_counter(settings)
    )
