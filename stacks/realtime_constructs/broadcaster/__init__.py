from .broadcaster import SKIP_COUNTER_ITEMS, Broadcaster, BroadcasterOptions

__all__ = ["SKIP_COUNTER_ITEMS", "Broadcaster", "BroadcasterOptions"]
