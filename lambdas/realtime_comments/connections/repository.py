"""Data access for the connections table (item shapes in docs/design.md, "Connections").

One table holds four kinds of item, keyed by `connectionId` + `sk`:
- the connection itself, sk "connection", with the set `subscriptions` of the posts it holds
  (the limit per connection is checked on it) and `actionTat`, its action-frame rate bucket;
- one subscription per post, sk "sub#<postId>", carrying `postId` so that the sparse GSI
  `byPost` lists a post's subscribers with one Query;
- the connection item carries `registryShard` (two digits), so that the sparse GSI `byShard` lists
  every connection for `broadcast_to_all` with one Query per shard (never a Scan), and the entry
  comes and goes with the item itself, in the same write. Connections made before that GSI
  existed have a registry item instead, partition "#all#<shard>", sk = the connection id
  (`LEGACY_REGISTRY_PREFIX`): still read, and deleted with their connection;
- the connection counter, one item per shard, partition "#stats#<shard>", sk "counter",
  attribute `connectionCount` kept by atomic ADDs on connect, disconnect and 410 cleanup.
- per user, partition "#user#<userId>": the connection slots (limits/connection_slots.py:
  $connect takes back the slots of connections whose item is gone) and the comment-write bucket.
API Gateway connection ids never contain "#", so the "#..." partitions cannot collide with them.
"""

from __future__ import annotations

import contextlib
import time
import zlib
from collections.abc import Iterator
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from realtime_comments.envelope import utc_timestamp
from realtime_comments.presence import PresenceCounter
from realtime_comments.serialization import from_attributes, to_attributes

logger = Logger(child=True)

CONNECTION_SK = "connection"
SUBSCRIPTION_SK_PREFIX = "sub#"
BY_POST_INDEX = "byPost"
# Only connection items carry this copy of their userId, so the GSI `byUser` keyed by it is sparse:
# a user's open connections are one Query, without their subscription items.
BY_USER_INDEX = "byUser"
CONNECTED_USER_ATTRIBUTE = "connectedUserId"
# Only connection items carry `registryShard`, so the GSI `byShard` keyed by it is sparse: the ids
# of every open connection, one Query per shard.
BY_SHARD_INDEX = "byShard"
REGISTRY_SHARD_ATTRIBUTE = "registryShard"
# Counter and registry writes are spread over this many partitions, so that a reconnect storm
# does not exceed DynamoDB's per-partition write rate (about 1,000 writes/s) on one hot item.
SHARDS = 16
# The registry items of connections made before `byShard` (they expire with their connection,
# 24 h at most); read by broadcast_to_all and deleted by their connection's cleanup.
LEGACY_REGISTRY_PREFIX = "#all#"
COUNTER_PREFIX = "#stats#"
COUNTER_SK = "counter"
COUNTER_ATTRIBUTE = "connectionCount"
# Set on connection items that were added to the counter, so that only those are taken off it
# (items written before the counter existed, or refreshed by a retried $connect, are not).
COUNTED_ATTRIBUTE = "counted"
SUBSCRIPTIONS_ATTRIBUTE = "subscriptions"
# Set on connection items whose `subscriptions` set lists every subscription item they have
# (subscribe adds the post to the set before it writes the item, unsubscribe takes it out after
# deleting the item), so their $disconnect needs no Query. Items written before the set existed
# lack it and are Queried, as they always were.
LISTED_ATTRIBUTE = "subscriptionsListed"
_BATCH_WRITE_LIMIT = 25
_UNPROCESSED_RETRIES = 8


def subscription_sk(post_id: str) -> str:
    return SUBSCRIPTION_SK_PREFIX + post_id


def shard_of(connection_id: str) -> int:
    return zlib.crc32(connection_id.encode("utf-8", "surrogatepass")) % SHARDS


def shard_label(shard: int) -> str:
    """A shard's two digits, as the registry and counter keys carry it."""
    return f"{shard:02d}"


def registry_shard(connection_id: str) -> str:
    return shard_label(shard_of(connection_id))


def legacy_registry_key(connection_id: str) -> dict[str, Any]:
    return {"connectionId": f"{LEGACY_REGISTRY_PREFIX}{registry_shard(connection_id)}", "sk": connection_id}


def counter_key(shard: int) -> dict[str, Any]:
    return {"connectionId": f"{COUNTER_PREFIX}{shard_label(shard)}", "sk": COUNTER_SK}


class TooManySubscriptions(Exception):
    """The connection already holds the most subscriptions it may."""


class ConnectionGone(Exception):
    """The connection item no longer exists (it disconnected, or expired)."""


class ConnectionsRepository:
    """With `presence`, every subscription that appears or goes (subscribe, unsubscribe, disconnect,
    410 cleanup) also moves the post's viewer count; without it, subscriptions alone."""

    def __init__(self, table_name: str, client: Any, presence: PresenceCounter | None = None) -> None:
        self.table_name = table_name
        self.client = client
        self.presence = presence

    # --- connections -----------------------------------------------------------------------
    def put_connection(self, connection_id: str, user_id: str, expires_at: int) -> dict[str, Any]:
        """Store a new connection (listed for broadcast_to_all by its `registryShard`) and add it
        to the counter.

        A second call for the same id (a retried $connect) stores and counts nothing more.
        """
        item = {
            "connectionId": connection_id,
            "sk": CONNECTION_SK,
            "userId": user_id,
            "connectedAt": utc_timestamp(),
            "expiresAt": expires_at,
            COUNTED_ATTRIBUTE: True,
            LISTED_ATTRIBUTE: True,
            REGISTRY_SHARD_ATTRIBUTE: registry_shard(connection_id),
        }
        if user_id:
            item[CONNECTED_USER_ATTRIBUTE] = user_id
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_attributes(item),
                ConditionExpression="attribute_not_exists(connectionId)",
            )
            created = True
        except self.client.exceptions.ConditionalCheckFailedException:
            created = False
        if created:
            self._add_to_count(connection_id, 1)
        return item

    def get_connection(self, connection_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key=to_attributes({"connectionId": connection_id, "sk": CONNECTION_SK}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return from_attributes(item) if item else None

    def delete_connection(self, connection_id: str) -> int:
        """Delete the connection and its subscriptions; returns how many connection and
        subscription items went (subscriptions as listed or found).

        The connection leaves `byShard` (broadcast_to_all) with its item. The counter goes down
        only for the caller whose DeleteItem removed a counted item, so a $disconnect racing a 410
        cleanup of the same connection decrements it once. The deleted item's `subscriptions` set
        names its subscription items, so that caller needs no Query (two calls for a connection
        without subscriptions: the DeleteItem and the counter); a caller that found the item gone
        already (the racing one, or after a TTL deletion) Queries for what may be left. The
        user's connection slot stays: the next $connect at the limit finds the item gone and
        takes it back (limits/connection_slots.py).
        """
        old = self.client.delete_item(
            TableName=self.table_name,
            Key=to_attributes({"connectionId": connection_id, "sk": CONNECTION_SK}),
            ReturnValues="ALL_OLD",
        ).get("Attributes")
        if old and old.get(LISTED_ATTRIBUTE, {}).get("BOOL"):
            keys = [
                to_attributes({"connectionId": connection_id, "sk": subscription_sk(post_id)})
                for post_id in old.get(SUBSCRIPTIONS_ATTRIBUTE, {}).get("SS", [])
            ]
        else:
            keys = self._partition_keys(connection_id)
        removed = len(keys) + (1 if old else 0)
        if self.presence is not None:
            # One by one, so that only the caller whose delete removed a subscription takes its
            # viewer off (a $disconnect racing a 410 cleanup counts each subscription off once).
            subscriptions = [key for key in keys if key["sk"]["S"].startswith(SUBSCRIPTION_SK_PREFIX)]
            keys = [key for key in keys if key not in subscriptions]
            for key in subscriptions:
                self._delete_subscription_item(key)
        if not old or REGISTRY_SHARD_ATTRIBUTE not in old:
            keys.append(to_attributes(legacy_registry_key(connection_id)))
        for start in range(0, len(keys), _BATCH_WRITE_LIMIT):
            self._batch_delete(keys[start : start + _BATCH_WRITE_LIMIT])
        if old and old.get(COUNTED_ATTRIBUTE, {}).get("BOOL"):
            self._add_to_count(connection_id, -1)
        return removed

    def _partition_keys(self, connection_id: str) -> list[dict[str, Any]]:
        """The keys of what is left in the connection's partition (one paginated Query)."""
        return [
            item
            for page in self._paginate(
                "query",
                TableName=self.table_name,
                KeyConditionExpression="connectionId = :id",
                ExpressionAttributeValues={":id": {"S": connection_id}},
                ProjectionExpression="connectionId, sk",
                ConsistentRead=True,
            )
            for item in page.get("Items", [])
        ]

    def all_connection_ids(self) -> Iterator[str]:
        """Every connection id, for broadcast_to_all: one Query of `byShard` per shard, and one of
        each legacy registry partition (empty once the connections made before `byShard` are gone).

        Sending to everyone needs every id, so this reads one small index entry per live
        connection; it never reads subscription items or anything else (no Scan). A connection
        is in exactly one of the two: its item has `registryShard`, or it has a legacy entry.
        """
        for shard in map(shard_label, range(SHARDS)):
            yield from self._ids_on_index(BY_SHARD_INDEX, REGISTRY_SHARD_ATTRIBUTE, shard)
            for page in self._paginate(
                "query",
                TableName=self.table_name,
                KeyConditionExpression="connectionId = :shard",
                ExpressionAttributeValues={":shard": {"S": f"{LEGACY_REGISTRY_PREFIX}{shard}"}},
                ProjectionExpression="sk",
            ):
                for item in page.get("Items", []):
                    yield item["sk"]["S"]

    def count_connections(self) -> int:
        """The number of open connections: one BatchGetItem of the counter shards (never below 0)."""
        names = {"#count": COUNTER_ATTRIBUTE}
        request: dict[str, Any] = {
            self.table_name: {
                "Keys": [to_attributes(counter_key(shard)) for shard in range(SHARDS)],
                "ProjectionExpression": "#count",
                "ExpressionAttributeNames": names,
            }
        }
        total = 0
        for attempt in range(_UNPROCESSED_RETRIES):
            response = self.client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self.table_name, []):
                total += int(item.get(COUNTER_ATTRIBUTE, {}).get("N", "0"))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return max(0, total)
            time.sleep(min(0.05 * 2**attempt, 1.0))
        raise RuntimeError("could not read the connection counter")

    # --- subscriptions ---------------------------------------------------------------------
    def subscribe(self, connection_id: str, post_id: str, limit: int) -> int | None:
        """Add the post to the connection's set and store its subscription item; returns the
        post's viewers after it (None without presence). One conditional UpdateItem decides: a
        post already held takes no new slot, and a connection at `limit` raises
        TooManySubscriptions with nothing written."""
        names = {"#subs": SUBSCRIPTIONS_ATTRIBUTE}
        try:
            connection = self.client.update_item(
                TableName=self.table_name,
                Key=to_attributes({"connectionId": connection_id, "sk": CONNECTION_SK}),
                UpdateExpression="ADD #subs :post",
                ConditionExpression=(
                    "attribute_exists(connectionId) AND (attribute_not_exists(#subs)"
                    " OR size(#subs) < :limit OR contains(#subs, :postId))"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":post": {"SS": [post_id]},
                    ":postId": {"S": post_id},
                    ":limit": {"N": str(limit)},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )["Attributes"]
        except self.client.exceptions.ConditionalCheckFailedException as error:
            if error.response.get("Item"):
                raise TooManySubscriptions(connection_id) from error
            raise ConnectionGone(connection_id) from error
        item = from_attributes(connection)
        # The subscription expires with its connection, so the TTL sweep removes both together.
        return self.put_subscription(
            connection_id, post_id, str(item.get("userId", "")), int(item["expiresAt"])
        )

    def unsubscribe(self, connection_id: str, post_id: str) -> None:
        """Delete the subscription item and free its slot in the connection's set."""
        self.delete_subscription(connection_id, post_id)
        # A connection that is gone takes its subscriptions with it: nothing to free then.
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table_name,
                Key=to_attributes({"connectionId": connection_id, "sk": CONNECTION_SK}),
                UpdateExpression="DELETE #subs :post",
                ConditionExpression="attribute_exists(connectionId)",
                ExpressionAttributeNames={"#subs": SUBSCRIPTIONS_ATTRIBUTE},
                ExpressionAttributeValues={":post": {"SS": [post_id]}},
            )

    def put_subscription(self, connection_id: str, post_id: str, user_id: str, expires_at: int) -> int | None:
        """Store the subscription (again: a no-op refresh); returns the post's viewers after it
        (None without presence)."""
        item = {
            "connectionId": connection_id,
            "sk": subscription_sk(post_id),
            "postId": post_id,
            "userId": user_id,
            "subscribedAt": utc_timestamp(),
            "expiresAt": expires_at,
        }
        old = self.client.put_item(
            TableName=self.table_name, Item=to_attributes(item), ReturnValues="ALL_OLD"
        ).get("Attributes")
        if self.presence is None:
            return None
        if old:  # already subscribed: nobody new is viewing
            return self.presence.viewers(post_id)
        return self.presence.join(post_id, user_id, expires_at)

    def get_subscription(self, connection_id: str, post_id: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table_name,
            Key=to_attributes({"connectionId": connection_id, "sk": subscription_sk(post_id)}),
            ConsistentRead=True,
        ).get("Item")
        return from_attributes(item) if item else None

    def claim_typing_slot(self, connection_id: str, now_ms: int, interval_ms: int) -> bool:
        """Stamp the connection's last relayed `typing` if the previous one is `interval_ms` old
        (or there is none); False means this one is to be dropped."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=to_attributes({"connectionId": connection_id, "sk": CONNECTION_SK}),
                UpdateExpression="SET lastTypingAt = :now",
                ConditionExpression=(
                    "attribute_exists(connectionId)"
                    " AND (attribute_not_exists(lastTypingAt) OR lastTypingAt <= :cutoff)"
                ),
                ExpressionAttributeValues=to_attributes({":now": now_ms, ":cutoff": now_ms - interval_ms}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def delete_subscription(self, connection_id: str, post_id: str) -> None:
        self._delete_subscription_item(
            to_attributes({"connectionId": connection_id, "sk": subscription_sk(post_id)})
        )

    def _delete_subscription_item(self, key: dict[str, Any]) -> None:
        old = self.client.delete_item(TableName=self.table_name, Key=key, ReturnValues="ALL_OLD").get(
            "Attributes"
        )
        if old and self.presence is not None:
            subscription = from_attributes(old)
            self.presence.leave(str(subscription["postId"]), str(subscription.get("userId", "")))

    def subscriber_ids(self, post_id: str) -> list[str]:
        """The ids of the connections subscribed to a post: one paginated Query on the GSI,
        returning only `connectionId` (the broadcaster needs nothing else)."""
        return self._ids_on_index(BY_POST_INDEX, "postId", post_id)

    def connection_ids_of_user(self, user_id: str) -> list[str]:
        """The ids of a user's open connections: one Query on the sparse GSI `byUser`."""
        return self._ids_on_index(BY_USER_INDEX, CONNECTED_USER_ATTRIBUTE, user_id)

    def _ids_on_index(self, index: str, attribute: str, value: str) -> list[str]:
        return [
            item["connectionId"]["S"]
            for page in self._paginate(
                "query",
                TableName=self.table_name,
                IndexName=index,
                KeyConditionExpression="#key = :value",
                ExpressionAttributeNames={"#key": attribute},
                ExpressionAttributeValues={":value": {"S": value}},
                ProjectionExpression="connectionId",
            )
            for item in page.get("Items", [])
        ]

    # --- helpers ---------------------------------------------------------------------------
    def _add_to_count(self, connection_id: str, delta: int) -> None:
        """ADD `delta` to the connection's counter shard. A failure is logged, not raised: the
        count is a health figure, and failing $connect or $disconnect over it would be worse."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=to_attributes(counter_key(shard_of(connection_id))),
                UpdateExpression="ADD #count :delta",
                ExpressionAttributeNames={"#count": COUNTER_ATTRIBUTE},
                ExpressionAttributeValues={":delta": {"N": str(delta)}},
            )
        except (ClientError, BotoCoreError):
            logger.warning("connection counter not updated", extra={"delta": delta}, exc_info=True)

    def _paginate(self, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = getattr(self.client, operation)(**kwargs)
            yield page
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return
            kwargs["ExclusiveStartKey"] = last_key

    def _batch_delete(self, keys: list[dict[str, Any]]) -> None:
        requests = {self.table_name: [{"DeleteRequest": {"Key": key}} for key in keys]}
        for attempt in range(_UNPROCESSED_RETRIES):
            response = self.client.batch_write_item(RequestItems=requests)
            requests = response.get("UnprocessedItems") or {}
            if not requests:
                return
            # DynamoDB hands back what it could not absorb under throttling: back off and resend.
            time.sleep(min(0.05 * 2**attempt, 1.0))
        raise RuntimeError(f"could not delete {len(requests[self.table_name])} connection items")
