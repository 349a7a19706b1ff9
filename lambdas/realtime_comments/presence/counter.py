"""The viewer count of each post, in the connections table's bookkeeping partitions.

Items (docs/design.md, "Presence"):
- per post and user, `{connectionId: "#viewer#<postId>", sk: <userId>, connections: N, expiresAt}`:
  how many of the user's connections subscribe to the post;
- per post, `{connectionId: "#presence#<postId>", sk: "presence", viewers, sentAt?, flushPending?}`:
  the number of users whose `connections` is above zero, when the last `presence` message went
  (epoch ms), and since when a flush request is waiting (epoch ms; absent when none is).

A subscription that appears or goes costs one UpdateItem on the user's item, and a second on the
post's item only when the user starts or stops viewing: O(1) whatever the number of subscribers,
and never a Query or Scan. The post item's ALL_OLD answer tells whether a flush is already
pending, so only the first change in a window asks for one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from realtime_comments.presence.flush import FlushScheduler
from realtime_comments.serialization import to_attributes

VIEWER_PREFIX = "#viewer#"
PRESENCE_PREFIX = "#presence#"
PRESENCE_SK = "presence"
# At most one `presence` message per post in this many milliseconds.
COALESCE_MS = 1000
# A flush request older than this is taken as lost (its send failed, or it went to the DLQ) and
# the next change asks again, so one lost message cannot silence a post for good.
STALE_FLUSH_MS = 10_000


def viewer_key(post_id: str, user_id: str) -> dict[str, Any]:
    return {"connectionId": f"{VIEWER_PREFIX}{post_id}", "sk": user_id}


def presence_key(post_id: str) -> dict[str, Any]:
    return {"connectionId": f"{PRESENCE_PREFIX}{post_id}", "sk": PRESENCE_SK}


class PresenceCounter:
    def __init__(
        self,
        table_name: str,
        client: Any,
        scheduler: FlushScheduler | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table_name = table_name
        self.client = client
        self.scheduler = scheduler
        self.clock = clock

    def join(self, post_id: str, user_id: str, expires_at: int) -> int:
        """One more connection of `user_id` subscribes to the post; returns the post's viewers."""
        connections = self._add_connection(post_id, user_id, 1, expires_at)
        if connections == 1:
            return self._change_viewers(post_id, 1)
        return self.viewers(post_id)

    def leave(self, post_id: str, user_id: str) -> None:
        """One connection of `user_id` no longer subscribes to the post."""
        if self._add_connection(post_id, user_id, -1, None) == 0:
            self._change_viewers(post_id, -1)

    def viewers(self, post_id: str) -> int:
        item = self.client.get_item(
            TableName=self.table_name,
            Key=to_attributes(presence_key(post_id)),
            ProjectionExpression="viewers",
            ConsistentRead=True,
        ).get("Item")
        return max(0, int(item["viewers"]["N"])) if item and "viewers" in item else 0

    def flush(self, post_id: str) -> int | None:
        """Claim the post's next `presence` message: the viewers to send, or None while the last
        one is less than COALESCE_MS old (the caller asks again later; the flag stays set)."""
        now_ms = int(self.clock() * 1000)
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=to_attributes(presence_key(post_id)),
                UpdateExpression="SET sentAt = :now REMOVE flushPending",
                ConditionExpression="attribute_not_exists(sentAt) OR sentAt <= :cutoff",
                ExpressionAttributeValues=to_attributes({":now": now_ms, ":cutoff": now_ms - COALESCE_MS}),
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return max(0, int(response["Attributes"].get("viewers", {}).get("N", "0")))

    def seconds_until_next(self, sent_at_ms: int | None) -> float:
        if sent_at_ms is None:
            return 0.0
        return max(0.0, (sent_at_ms + COALESCE_MS) / 1000 - self.clock())

    def _add_connection(self, post_id: str, user_id: str, delta: int, expires_at: int | None) -> int:
        update = "ADD connections :delta"
        values: dict[str, Any] = {":delta": delta}
        if expires_at is not None:
            # The item outlives every connection counted in it (each subscribe pushes it out).
            update += " SET expiresAt = :expires"
            values[":expires"] = expires_at
        response = self.client.update_item(
            TableName=self.table_name,
            Key=to_attributes(viewer_key(post_id, user_id)),
            UpdateExpression=update,
            ExpressionAttributeValues=to_attributes(values),
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["connections"]["N"])

    def _change_viewers(self, post_id: str, delta: int) -> int:
        now_ms = int(self.clock() * 1000)
        response = self.client.update_item(
            TableName=self.table_name,
            Key=to_attributes(presence_key(post_id)),
            UpdateExpression="ADD viewers :delta SET flushPending = if_not_exists(flushPending, :now)",
            ExpressionAttributeValues=to_attributes({":delta": delta, ":now": now_ms}),
            ReturnValues="ALL_OLD",
        )
        old = response.get("Attributes") or {}
        viewers = max(0, int(old.get("viewers", {}).get("N", "0")) + delta)
        pending_since = int(old["flushPending"]["N"]) if "flushPending" in old else None
        if self.scheduler is not None and (pending_since is None or pending_since < now_ms - STALE_FLUSH_MS):
            sent_at = int(old["sentAt"]["N"]) if "sentAt" in old else None
            self.scheduler.schedule(post_id, self.seconds_until_next(sent_at))
        return viewers
