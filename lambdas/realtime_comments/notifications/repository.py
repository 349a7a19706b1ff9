"""Data access for the notifications table: partition `userId`, sort `id` (creation time first,
so a Query newest first is one partition read backwards), TTL `expiresAt`.

Every read and write is keyed by the caller's own `userId`, so no id or cursor from anyone else
can reach another user's items.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from realtime_comments.notifications.model import Notification
from realtime_comments.serialization import from_attributes, to_attributes
from realtime_comments.validation import InvalidParameter, text_problem

MAX_ID_LENGTH = 200
_UNREAD = "#read = :false AND expiresAt > :now"


@dataclass(frozen=True)
class NotificationPage:
    notifications: list[Notification]
    unread_count: int
    next_cursor: str | None

    def to_api(self) -> dict[str, Any]:
        return {
            "notifications": [n.to_api() for n in self.notifications],
            "unreadCount": self.unread_count,
            "nextCursor": self.next_cursor,
        }


def _is_possible_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and text_problem(value) is None


def encode_cursor(notification_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": notification_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise InvalidParameter("cursor is not a cursor this API returned") from exc
    if not isinstance(value, dict) or not _is_possible_id(value.get("id")):
        raise InvalidParameter("cursor is not a cursor this API returned")
    return str(value["id"])


class NotificationsRepository:
    def __init__(self, table_name: str, client: Any, clock: Any = time.time) -> None:
        self.table_name = table_name
        self.client = client
        self.clock = clock

    def put_once(self, notification: Notification, ttl_seconds: int) -> bool:
        """Store a notification unless it is already there (a redelivered stream record);
        returns whether it was stored now."""
        created = _epoch(notification.created_at) or self.clock()
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_attributes(notification.to_item(int(created) + ttl_seconds)),
                ConditionExpression="attribute_not_exists(id)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def page(self, user_id: str, limit: int, cursor: str | None = None) -> NotificationPage:
        """Up to `limit` unexpired notifications of `user_id`, newest first, and the unread count."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "userId = :user",
            "FilterExpression": "expiresAt > :now",
            "ExpressionAttributeValues": to_attributes({":user": user_id, ":now": int(self.clock())}),
            "ScanIndexForward": False,
            "ConsistentRead": True,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = to_attributes({"userId": user_id, "id": decode_cursor(cursor)})
        found: list[Notification] = []
        more = False
        # One item beyond the page tells whether another page follows; a filtered page may come
        # back short, so keep reading until the page is full or the partition ends.
        while True:
            kwargs["Limit"] = limit + 1 - len(found)
            response = self.client.query(**kwargs)
            found.extend(Notification.from_item(from_attributes(item)) for item in response.get("Items", []))
            if len(found) > limit:
                more = True
                break
            if not response.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        page = found[:limit]
        next_cursor = encode_cursor(page[-1].id) if more and page else None
        return NotificationPage(page, self.unread_count(user_id), next_cursor)

    def unread_count(self, user_id: str) -> int:
        """Unread, unexpired notifications of the user: a COUNT Query of their own partition
        (at most the retention period's worth of small items, about 40 per read unit)."""
        return sum(page.get("Count", 0) for page in self._unread_pages(user_id, select_count=True))

    def mark_read(self, user_id: str, ids: Iterable[object]) -> None:
        """Mark the user's own notifications read; ids that are not theirs (or not ids) are ignored."""
        for notification_id in dict.fromkeys(value for value in ids if _is_possible_id(value)):
            self._mark(user_id, str(notification_id))

    def mark_all_read(self, user_id: str) -> None:
        for page in self._unread_pages(user_id, select_count=False):
            for item in page.get("Items", []):
                self._mark(user_id, item["id"]["S"])

    def _mark(self, user_id: str, notification_id: str) -> None:
        # Someone else's, unknown, expired and swept, or already read: nothing to do.
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table_name,
                Key=to_attributes({"userId": user_id, "id": notification_id}),
                UpdateExpression="SET #read = :true",
                ConditionExpression="attribute_exists(id) AND #read = :false",
                ExpressionAttributeNames={"#read": "read"},
                ExpressionAttributeValues=to_attributes({":true": True, ":false": False}),
            )

    def _unread_pages(self, user_id: str, *, select_count: bool) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "userId = :user",
            "FilterExpression": _UNREAD,
            "ExpressionAttributeNames": {"#read": "read"},
            "ExpressionAttributeValues": to_attributes(
                {":user": user_id, ":false": False, ":now": int(self.clock())}
            ),
            "ConsistentRead": True,
        }
        if select_count:
            kwargs["Select"] = "COUNT"
        else:
            kwargs["ProjectionExpression"] = "id"
        while True:
            response = self.client.query(**kwargs)
            yield response
            if not response.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _epoch(iso: str) -> float | None:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
