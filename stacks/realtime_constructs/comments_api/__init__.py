from .._tables import TableOptions
from .comments_api import (
    BROADCAST_PATH,
    COMMENT_PATH,
    COMMENTS_PATH,
    CONNECTIONS_PATH,
    IDEMPOTENCY_TABLE_OPTIONS,
    CommentsApi,
    CommentsApiOptions,
)

__all__ = [
    "BROADCAST_PATH",
    "COMMENTS_PATH",
    "COMMENT_PATH",
    "CONNECTIONS_PATH",
    "IDEMPOTENCY_TABLE_OPTIONS",
    "CommentsApi",
    "CommentsApiOptions",
    "TableOptions",
]
