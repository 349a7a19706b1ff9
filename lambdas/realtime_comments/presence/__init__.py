"""Presence: how many distinct users view a post, kept with O(1) writes per subscription change,
and `presence` messages coalesced to at most one per post per second (docs/design.md, "Presence")."""

from realtime_comments.presence.counter import PresenceCounter
from realtime_comments.presence.flush import FLUSH_KEY, FlushScheduler, flush_request, parse_flush_request

__all__ = ["FLUSH_KEY", "FlushScheduler", "PresenceCounter", "flush_request", "parse_flush_request"]
