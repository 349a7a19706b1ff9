from .._tables import TableOptions
from .connections_store import BY_POST_INDEX, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE, ConnectionsStore

__all__ = ["BY_POST_INDEX", "PARTITION_KEY", "SORT_KEY", "TTL_ATTRIBUTE", "ConnectionsStore", "TableOptions"]
