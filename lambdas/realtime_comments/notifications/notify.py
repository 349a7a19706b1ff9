"""A stream record of the comments table -> a stored notification, pushed to its user's connections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from realtime_comments.connections import ConnectionsRepository
from realtime_comments.delivery import DeliveryResult
from realtime_comments.delivery.fanout import Deliver
from realtime_comments.envelope import NOTIFICATION_CREATED, encode_message
from realtime_comments.notifications.model import Notification, notification_for_reply
from realtime_comments.notifications.repository import NotificationsRepository
from realtime_comments.serialization import from_attributes


@dataclass(frozen=True)
class Notified:
    notification: Notification
    stored: bool  # False: a redelivered record, already stored
    delivery: DeliveryResult


def notification_for_record(record: dict[str, Any]) -> Notification | None:
    """The notification an INSERT of a reply to someone else's comment makes, else None."""
    if record.get("eventName") != "INSERT":
        return None
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    if not image:
        return None
    item = from_attributes(image)
    if int(item.get("seq", 0)) == 0 or "id" not in item:
        return None
    return notification_for_reply(item)


def notify(
    record: dict[str, Any],
    notifications: NotificationsRepository,
    connections: ConnectionsRepository,
    deliver: Deliver,
    ttl_seconds: int,
) -> Notified | None:
    """Store the record's notification once and push it to every open connection of its user.

    The push happens on a redelivery too (the first attempt may have stored it and then failed
    before sending): delivery is at least once, and clients de-duplicate by the notification id.
    """
    notification = notification_for_record(record)
    if notification is None:
        return None
    stored = notifications.put_once(notification, ttl_seconds)
    message = encode_message(NOTIFICATION_CREATED, {"notification": notification.to_api()})
    recipients = connections.connection_ids_of_user(notification.user_id)
    delivery = deliver(message, recipients) if recipients else DeliveryResult()
    return Notified(notification, stored, delivery)
