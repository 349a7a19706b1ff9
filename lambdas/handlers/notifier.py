"""Comments table stream -> a notification for the parent's author, pushed to their connections.

The event source mapping passes only INSERTs of replies (FilterCriteria); a record fails when the
store could not be written or some of the user's connections still failed transiently, and the
batch is then retried from it (see `process_in_order`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from realtime_comments import aws_clients
from realtime_comments.broadcasting.stream_batch import process_in_order
from realtime_comments.connections import ConnectionsRepository
from realtime_comments.dependencies import Replies, connections_repository, once_per_container, replies
from realtime_comments.notifications import NotificationsRepository
from realtime_comments.notifications.notify import notify
from realtime_comments.observability import MetricUnit, entry_point, logger, metrics
from realtime_comments.settings import NotifierSettings

aws_clients.preload("dynamodb")  # parsed in the init phase, not in the first request


class PushFailed(RuntimeError):
    """Some of the user's connections still failed transiently: retry the record."""


@dataclass(frozen=True)
class Dependencies:
    settings: NotifierSettings
    notifications: NotificationsRepository
    connections: ConnectionsRepository
    replies: Replies


@once_per_container
def dependencies() -> Dependencies:
    settings = NotifierSettings.from_env()
    return Dependencies(
        settings=settings,
        notifications=NotificationsRepository(
            settings.notifications_table_name, aws_clients.dynamodb(settings.region)
        ),
        connections=connections_repository(settings),
        replies=replies(settings, send_concurrency=settings.fanout.send_concurrency),
    )


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    deps = dependencies()

    def handle(raw: dict[str, Any]) -> None:
        notified = notify(
            raw,
            deps.notifications,
            deps.connections,
            deps.replies.deliver,
            deps.settings.notification_ttl_seconds,
        )
        if notified is None:
            return
        if notified.stored:
            metrics.add_metric(name="NotificationsCreated", unit=MetricUnit.Count, value=1)
        logger.info(
            "notification",
            extra={"stored": notified.stored, "sent": notified.delivery.sent, "gone": notified.delivery.gone},
        )
        if notified.delivery.has_transient_failures:
            raise PushFailed(f"{len(notified.delivery.transient_failed_ids)} connections still failing")

    return process_in_order(event.get("Records") or [], handle)
