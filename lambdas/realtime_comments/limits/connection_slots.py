"""At most N open connections per user: one small item per user lists the connections holding a slot.

Item `connectionId="#user#<userId>", sk="connections"` with `slots` = {connectionId: expires (epoch
seconds)} and a `version` for optimistic writes. $connect reads it, drops expired slots, and
writes it back only if nobody changed it meanwhile (at most N entries: O(1) work). $disconnect and
410 cleanup remove their slot. A slot also expires by itself after API Gateway's maximum
connection duration, so a `$disconnect` that never runs (API Gateway delivers it best-effort)
locks a slot for at most two hours, not for the connection item's TTL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from realtime_comments.limits import rate

logger = Logger(child=True)

USER_PREFIX = "#user#"
SLOTS_SK = "connections"
# API Gateway closes every WebSocket connection after 2 hours; a minute of slack for clocks.
MAX_CONNECTION_SECONDS = 2 * 3600 + 60
_ATTEMPTS = 5


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
        A connection that already holds a slot (a retried $connect) keeps it."""
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


def release_connection_slot(client: Any, table_name: str, user_id: str, connection_id: str) -> None:
    """Give the connection's slot back. A failure is logged, not raised: the slot then expires by
    itself, and failing $disconnect over it would be worse."""
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
