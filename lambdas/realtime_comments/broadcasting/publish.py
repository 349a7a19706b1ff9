"""Send a ready message to a post's subscribers (or to everyone), inline or through the fan-out queue."""

from __future__ import annotations

from realtime_comments.broadcasting.recipients import Audience
from realtime_comments.delivery import Fanout, FanoutResult, fan_out
from realtime_comments.observability import MetricUnit, metrics


class TransientDeliveryFailure(RuntimeError):
    """Some recipients still failed for a transient reason: the caller's record must be retried."""


def publish(message: str, post_id: str | None, audience: Audience, fanout: Fanout) -> FanoutResult:
    """Deliver `message` to `post_id`'s subscribers, or to every connection when post_id is None.

    `audience` finds the recipients (`recipients.SingleAudience` or `BatchAudience`)."""
    outcome = fan_out(message, audience(post_id), fanout)
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
