from .._tables import TableOptions
from .comments_store import BY_COMMENT_ID_INDEX, PARTITION_KEY, SORT_KEY, CommentsStore

__all__ = ["BY_COMMENT_ID_INDEX", "PARTITION_KEY", "SORT_KEY", "CommentsStore", "TableOptions"]
