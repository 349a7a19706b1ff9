"""Abuse limits kept in DynamoDB with O(1) single-item work: request rates (rate.py) and
concurrent connections per user (connection_slots.py). Subscriptions per connection are counted
on the connection item itself (connections/repository.py)."""

from realtime_comments.limits.connection_slots import UserConnectionSlots, release_connection_slot
from realtime_comments.limits.rate import RateLimit, RateLimited, RateLimiter, retry_after_header

__all__ = [
    "RateLimit",
    "RateLimited",
    "RateLimiter",
    "UserConnectionSlots",
    "comment_write_key",
    "release_connection_slot",
    "retry_after_header",
]


def comment_write_key(user_id: str) -> dict[str, dict[str, str]]:
    """The user's comment-write bucket, beside their connection slots in the connections table."""
    from realtime_comments.limits.connection_slots import USER_PREFIX

    return {"connectionId": {"S": USER_PREFIX + user_id}, "sk": {"S": "writes"}}
