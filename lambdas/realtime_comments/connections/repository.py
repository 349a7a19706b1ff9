"""Data access for the connections table (item shapes in docs/design.md, "Connections").

One table holds both kinds of item, keyed by `connectionId`:
- the connection itself, sk "connection";
- one subscription per post, sk "sub#<postId>", carrying `postId` so that the sparse GSI
  `byPost` lists a post's subscribers with one Query.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from realtime_comments.envelope import utc_timestamp
from realtime_comments.serialization import from_attributes, to_attributes

CONNECTION_SK = "connection"
SUBSCRIPTION_SK_PREFIX = "sub#"
BY_POST_INDEX = "byPost"
_BATCH_WRITE_LIMIT = 25
_UNPROCESSED_RETRIES = 8


def subscription_sk(post_id: str) -> str:
    return SUBSCRIPTION_SK_PREFIX + post_id


class ConnectionsRepository:
    def __init__(self, table_name: str, client: Any) -> None:
        self.table_name = table_name
        self.client = client

    # --- connections -----------------------------------------------------------------------
    def put_connection(self, connection_id: str, user_id: str, expires_at: int) -> dict[str, Any]:
        item = {
            "connectionId": connection_id,
            "sk": CONNECTION_SK,
            "userId": user_id,
            "connectedAt": utc_timestamp(),
            "expiresAt": expires_at,
        }
        self.client.put_item(TableName=self.table_name, Item=to_attributes(item))
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
        """Delete the connection and all its subscriptions; returns how many items went."""
        keys = [
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
        for start in range(0, len(keys), _BATCH_WRITE_LIMIT):
            self._batch_delete(keys[start : start + _BATCH_WRITE_LIMIT])
        return len(keys)

    def all_connection_ids(self) -> Iterator[str]:
        """Every connection id (a Scan: only for broadcast_to_all, never per comment)."""
        for page in self._paginate(
            "scan",
            TableName=self.table_name,
            FilterExpression="sk = :sk",
            ExpressionAttributeValues={":sk": {"S": CONNECTION_SK}},
            ProjectionExpression="connectionId",
        ):
            for item in page.get("Items", []):
                yield item["connectionId"]["S"]

    def count_connections(self) -> int:
        return sum(
            page.get("Count", 0)
            for page in self._paginate(
                "scan",
                TableName=self.table_name,
                Select="COUNT",
                FilterExpression="sk = :sk",
                ExpressionAttributeValues={":sk": {"S": CONNECTION_SK}},
            )
        )

    # --- subscriptions ---------------------------------------------------------------------
    def put_subscription(self, connection_id: str, post_id: str, user_id: str, expires_at: int) -> None:
        item = {
            "connectionId": connection_id,
            "sk": subscription_sk(post_id),
            "postId": post_id,
            "userId": user_id,
            "subscribedAt": utc_timestamp(),
            "expiresAt": expires_at,
        }
        self.client.put_item(TableName=self.table_name, Item=to_attributes(item))

    def delete_subscription(self, connection_id: str, post_id: str) -> None:
        self.client.delete_item(
            TableName=self.table_name,
            Key=to_attributes({"connectionId": connection_id, "sk": subscription_sk(post_id)}),
        )

    def subscriber_ids(self, post_id: str) -> list[str]:
        """The ids of the connections subscribed to a post: one paginated Query on the GSI."""
        return [
            item["connectionId"]["S"]
            for page in self._paginate(
                "query",
                TableName=self.table_name,
                IndexName=BY_POST_INDEX,
                KeyConditionExpression="postId = :post",
                ExpressionAttributeValues={":post": {"S": post_id}},
            )
            for item in page.get("Items", [])
        ]

    # --- helpers ---------------------------------------------------------------------------
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
