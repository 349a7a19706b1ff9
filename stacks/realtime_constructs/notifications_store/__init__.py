from .._tables import TableOptions
from .notifications_store import DEFAULT_RETENTION_DAYS, PARTITION_KEY, SORT_KEY, NotificationsStore

__all__ = ["DEFAULT_RETENTION_DAYS", "PARTITION_KEY", "SORT_KEY", "NotificationsStore", "TableOptions"]
