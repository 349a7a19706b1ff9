"""Comments table stream -> comment.created / updated / deleted to the post's subscribers.

Records are processed in stream order; a record fails when enqueuing its fan-out failed or when
some recipients still failed transiently after the bounded retries (see `handler` for what is
reported then).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from realtime_comments import aws_clients
from realtime_comments.broadcasting.publish import publish, raise_on_transient_failures
from realtime_comments.broadcasting.recipients import Audience, BatchAudience
from realtime_comments.broadcasting.stream_messages import message_for_record
from realtime_comments.connections import ConnectionsRepository
from realtime_comments.observability import entry_point, logger
from realtime_comments.settings import Settings


def record_handler(record: DynamoDBRecord, settings: Settings, audience: Audience) -> None:
    post_message = message_for_record(record.raw_event)
    if post_message is None:
        return
    outcome = publish(post_message.message, post_message.post_id, settings, audience)
    logger.info(
        "broadcast",
        extra={
            "type": post_message.message_type,
            "recipients": outcome.recipients,
            "sent": outcome.delivery.sent,
            "gone": outcome.delivery.gone,
            "failed": outcome.delivery.failed,
            "enqueued_batches": outcome.enqueued_batches,
        },
    )
    raise_on_transient_failures(outcome)


class RecordFailed(RuntimeError):
    """The first record of the batch failed: a function error, so that the event source mapping
    bisects the batch down to that record and, once its retries are spent, sends only it to the
    on-failure queue."""


def _sequence_number(record: dict[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber") or "")


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Records in stream order; stop at the first failure.

    Lambda retries a stream batch from its first failed record, so the records after it are sent
    again anyway: processing them now would deliver them twice (once per retry), and if the failed
    record ends in the on-failure queue the range sent there would cover them too. So the failed
    record and every later one are reported unprocessed; when the failed record is the first of the
    batch, the invocation fails instead and BisectBatchOnFunctionError isolates it.
    """
    records = event.get("Records") or []
    settings = Settings.from_env()
    audience = BatchAudience(
        ConnectionsRepository(settings.connections_table_name, aws_clients.dynamodb(settings))
    )
    for index, raw in enumerate(records):
        try:
            record_handler(DynamoDBRecord(raw), settings, audience)
        except Exception as exc:
            logger.exception("record failed", extra={"sequence_number": _sequence_number(raw)})
            if index == 0:
                raise RecordFailed(f"record {_sequence_number(raw)} failed") from exc
            return {"batchItemFailures": [{"itemIdentifier": _sequence_number(r)} for r in records[index:]]}
    return {"batchItemFailures": []}
