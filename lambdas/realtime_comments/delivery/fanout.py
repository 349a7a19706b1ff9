"""Inline delivery for ordinary audiences; SQS batches for the fan-out worker above the inline limit.

One Lambda invocation has one process and 15 minutes. Past FANOUT_INLINE_LIMIT recipients the
broadcaster instead enqueues messages `{"message": <envelope JSON>, "connectionIds": [...]}` of at
most FANOUT_BATCH_SIZE ids each; the fan-out worker function delivers them concurrently across
as many invocations as the queue's event source mapping allows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from realtime_comments.delivery.result import DeliveryResult
from realtime_comments.settings import FanoutOptions

# SendMessageBatch: at most 10 entries and 256 KiB per message and per request.
_SQS_BATCH_ENTRIES = 10
_SQS_MAX_BYTES = 256 * 1024
_ENQUEUE_ATTEMPTS = 5


class FanoutEnqueueError(RuntimeError):
    """Some fan-out batches could not be enqueued; the caller fails its record to be retried."""


Deliver = Callable[[str, Sequence[str]], DeliveryResult]


@dataclass(frozen=True)
class Fanout:
    """How a broadcasting function reaches an audience, built once per container by its handler.

    :param options: the inline limit and batch size (``FanoutOptions``, from the settings).
    :param deliver: sends one message to ids inline (``deliver`` bound to the transport).
    :param queue_url: the fan-out queue; empty means always inline.
    :param sqs_client: returns the boto3 SQS client of the queue; called on the first enqueue only,
        so functions that never exceed the inline limit never create it.
    """

    options: FanoutOptions
    deliver: Deliver
    queue_url: str = ""
    sqs_client: Callable[[], Any] | None = None


@dataclass
class FanoutResult:
    recipients: int = 0
    enqueued_batches: int = 0
    delivery: DeliveryResult = field(default_factory=DeliveryResult)

    @property
    def inline(self) -> bool:
        return self.enqueued_batches == 0


def fanout_body(message: str, connection_ids: Sequence[str]) -> str:
    return json.dumps({"message": message, "connectionIds": list(connection_ids)}, separators=(",", ":"))


def _bodies(message: str, connection_ids: Sequence[str], batch_size: int) -> list[str]:
    bodies: list[str] = []
    start = 0
    size = batch_size
    while start < len(connection_ids):
        body = fanout_body(message, connection_ids[start : start + size])
        if len(body.encode("utf-8")) > _SQS_MAX_BYTES and size > 1:
            size = max(1, size // 2)  # long ids or a large message: halve until a body fits
            continue
        bodies.append(body)
        start += size
    return bodies


def _requests(bodies: list[str]) -> list[list[str]]:
    """Group bodies into SendMessageBatch calls within the entry and byte limits."""
    groups: list[list[str]] = []
    current: list[str] = []
    current_bytes = 0
    for body in bodies:
        body_bytes = len(body.encode("utf-8"))
        if current and (len(current) == _SQS_BATCH_ENTRIES or current_bytes + body_bytes > _SQS_MAX_BYTES):
            groups.append(current)
            current, current_bytes = [], 0
        current.append(body)
        current_bytes += body_bytes
    if current:
        groups.append(current)
    return groups


def enqueue_batches(
    message: str,
    connection_ids: Sequence[str],
    *,
    queue_url: str,
    batch_size: int,
    sqs_client: Any,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send the fan-out messages; returns how many were enqueued. Raises FanoutEnqueueError."""
    bodies = _bodies(message, connection_ids, batch_size)
    for group in _requests(bodies):
        pending = {str(index): body for index, body in enumerate(group)}
        for attempt in range(_ENQUEUE_ATTEMPTS):
            response = sqs_client.send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": entry_id, "MessageBody": body} for entry_id, body in pending.items()],
            )
            failed = {entry["Id"] for entry in response.get("Failed", [])}
            pending = {entry_id: body for entry_id, body in pending.items() if entry_id in failed}
            if not pending:
                break
            sleep(min(0.1 * 2**attempt, 2.0))
        if pending:
            raise FanoutEnqueueError(f"{len(pending)} fan-out messages could not be enqueued")
    return len(bodies)


def fan_out(message: str, connection_ids: Sequence[str], fanout: Fanout) -> FanoutResult:
    """Deliver inline, or enqueue batches when the audience exceeds the inline limit and a queue exists."""
    ids = list(connection_ids)
    outcome = FanoutResult(recipients=len(ids))
    if not ids:
        return outcome
    if fanout.queue_url and fanout.sqs_client is not None and len(ids) > fanout.options.inline_limit:
        outcome.enqueued_batches = enqueue_batches(
            message,
            ids,
            queue_url=fanout.queue_url,
            batch_size=fanout.options.batch_size,
            sqs_client=fanout.sqs_client(),
        )
        return outcome
    outcome.delivery = fanout.deliver(message, ids)
    return outcome
