"""Send a ready message to a post's subscribers (or to everyone), inline or through the fan-out queue."""

from __future__ import annotations

from realtime_comments import aws_clients
from realtime_comments.broadcasting.recipients import Audience, recipients
from realtime_comments.connections import ConnectionsRepository
from realtime_comments.delivery import FanoutResult, fan_out
from realtime_comments.observability import MetricUnit, metrics
from realtime_comments.settings import Settings


class TransientDeliveryFailure(RuntimeError):
    """Some recipients still failed for a transient reason: the caller's record must be retried."""


def publish(
    message: str, post_id: str | None, settings: Settings | None = None, audience: Audience | None = None
) -> FanoutResult:
    """Deliver `message` to `post_id`'s subscribers, or to every connection when post_id is None.

    `audience` finds the recipients (default: one read per call, see `recipients`)."""
    settings = settings or Settings.from_env()
    if audience is None:
        connections = ConnectionsRepository(settings.connections_table_name, aws_clients.dynamodb(settings))
        outcome = fan_out(message, recipients(connections, post_id), settings)
    else:
        outcome = fan_out(message, audience(post_id), settings)
    record_metrics(outcome)
    return outcome


def record_metrics(outcome: FanoutResult) -> None:
    delivery = outcome.delivery
    metrics.add_metric(name="MessagesSent", unit=MetricUnit.Count, value=delivery.sent)
    metrics.add_metric(name="GoneConnections", unit=MetricUnit.Count, value=delivery.gone)
    metrics.add_metric(name="FailedSends", unit=MetricUnit.Count, value=delivery.failed)
    if outcome.enqueued_batches:
        metrics.add_metric(
            name="FanoutBatchesEnqueued", unit=MetricUnit.Count, value=outcome.enqueued_batches
        )


def raise_on_transient_failures(outcome: FanoutResult) -> None:
    if outcome.delivery.has_transient_failures:
        raise TransientDeliveryFailure(
            f"{len(outcome.delivery.transient_failed_ids)} recipients still failing after retries"
        )
