"""Connections and per-post subscriptions (the connections table)."""

from realtime_comments.connections.repository import ConnectionsRepository

__all__ = ["ConnectionsRepository"]
