"""At most N open connections per user: one small item per user lists the connections holding a slot.

Item `connectionId="#user#<userId>", sk="connections"` with `slots` = {connectionId: expires (epoch
seconds)} and a `version` for optimistic writes. $connect reads it, drops expired slots, and
writes it back only if nobody changed it meanwhile (at most N entries: O(1) work).

$disconnect and 410 cleanup leave the item alone (one call fewer on the path a disconnect storm
takes): a closed connection's slot is taken back by the next $connect that finds the user at the
limit. Only then does $connect read the connection items of the slots it holds (one consistent
BatchGetItem of at most N keys) and drop each slot whose item is gone and whose claim is older
than `CONNECT_GRACE_SECONDS`; a $connect under the limit reads nothing more than before. So a
user at the limit who closes a tab that was open for less than the grace, and opens another at
once, is refused until the grace has passed since that tab connected.

A slot also expires by itself after API Gateway's maximum connection duration, so a connection
item that outlives its connection (a `$disconnect` that never ran: API Gateway delivers it
best-effort) locks a slot for at most two hours, not for the connection item's TTL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from realtime_comments.connections.repository import CONNECTION_SK
from realtime_comments.limits import rate

logger = Logger(child=True)

USER_PREFIX = "#user#"
SLOTS_SK = "connections"
# API Gateway closes every WebSocket connection after 2 hours; a minute of slack for clocks.
MAX_CONNECTION_SECONDS = 2 * 3600 + 60
# $connect claims its slot before it writes its connection item, so a slot without an item may
# belong to a $connect still running. API Gateway gives up on $connect after its 29-second
# integration timeout, and a connection whose $connect did not answer in time never opens: a slot
# claimed longer ago than this whose connection item is gone is dead (a second of clock slack).
CONNECT_GRACE_SECONDS = 30
_ATTEMPTS = 5
_BATCH_GET_LIMIT = 100
_UNPROCESSED_RETRIES = 8


def slots_key(user_id: str) -> dict[str, Any]:
    return {"connectionId": {"S": USER_PREFIX + user_id}, "sk": {"S": SLOTS_SK}}


class UserConnectionSlots:
    def __init__(
        self, client: Any, table_name: str, limit: int, *, clock: Callable[[], float] | None = None
    ) -> None:
        if limit < 1:
            raise ValueError("the connection limit per user must be at least 1")
        self.client = client
        self.table_name = table_name
        self.limit = limit
        self.clock = clock

    def claim(self, user_id: str, connection_id: str) -> bool:
        """Take a slot for the connection; False (nothing written) when the user holds the limit.
        A connection that already holds a slot (a retried $connect) keeps it. At the limit, the
        slots of connections that are gone (past the grace) are dropped first."""
        for _ in range(_ATTEMPTS):
            now = int((self.clock or rate.wall_clock)())
            item = self.client.get_item(
                TableName=self.table_name, Key=slots_key(user_id), ConsistentRead=True
            ).get("Item")
            version = int(item["version"]["N"]) if item else 0
            slots = {
                held: int(expires["N"])
                for held, expires in (item or {}).get("slots", {}).get("M", {}).items()
                if int(expires["N"]) > now
            }
            if connection_id in slots:
                return True
            if len(slots) >= self.limit:
                past_grace = [
                    held for held, expires in slots.items() if _claimed(expires) < now - CONNECT_GRACE_SECONDS
                ]
                for dead in self._gone(past_grace):
                    del slots[dead]
            if len(slots) >= self.limit:
                return False
            slots[connection_id] = now + MAX_CONNECTION_SECONDS
            try:
                self.client.put_item(
                    TableName=self.table_name,
                    Item={
                        **slots_key(user_id),
                        "slots": {"M": {held: {"N": str(expires)} for held, expires in slots.items()}},
                        "version": {"N": str(version + 1)},
                        "expiresAt": {"N": str(max(slots.values()))},
                    },
                    ConditionExpression="attribute_not_exists(connectionId) OR version = :version",
                    ExpressionAttributeValues={":version": {"N": str(version)}},
                )
                return True
            except self.client.exceptions.ConditionalCheckFailedException:
                continue  # another $connect of this user wrote first: read again
        # Only reachable when one user opens many connections at the same instant.
        return False

    def _gone(self, connection_ids: list[str]) -> set[str]:
        """Those of the connections whose connection item does not exist: consistent BatchGetItems
        of the keys alone. A key DynamoDB leaves unprocessed after the retries counts as existing,
        so a throttled read can refuse a $connect but never lets a user past the limit."""
        gone = set(connection_ids)
        for start in range(0, len(connection_ids), _BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [
                        {"connectionId": {"S": held}, "sk": {"S": CONNECTION_SK}}
                        for held in connection_ids[start : start + _BATCH_GET_LIMIT]
                    ],
                    "ConsistentRead": True,
                    "ProjectionExpression": "connectionId",
                }
            }
            for attempt in range(_UNPROCESSED_RETRIES):
                response = self.client.batch_get_item(RequestItems=request)
                for found in response.get("Responses", {}).get(self.table_name, []):
                    gone.discard(found["connectionId"]["S"])
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
            else:
                gone.difference_update(key["connectionId"]["S"] for key in request[self.table_name]["Keys"])
        return gone


def _claimed(expires: int) -> int:
    """When the slot was claimed: its stored expiry is the claim plus the longest connection."""
    return expires - MAX_CONNECTION_SECONDS


def release_connection_slot(client: Any, table_name: str, user_id: str, connection_id: str) -> None:
    """Give the connection's slot back: $connect does when it fails after its claim. A failure is
    logged, not raised: the slot is then reclaimed after the grace like any dead slot."""
    try:
        client.update_item(
            TableName=table_name,
            Key=slots_key(user_id),
            UpdateExpression="REMOVE slots.#connection ADD version :one",
            ConditionExpression="attribute_exists(connectionId)",
            ExpressionAttributeNames={"#connection": connection_id},
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    except client.exceptions.ConditionalCheckFailedException:
        pass  # the user has no slot item (it expired, or predates the limit)
    except (ClientError, BotoCoreError):
        logger.warning("connection slot not released", exc_info=True)
