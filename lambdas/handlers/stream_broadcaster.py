"""Comments table stream -> comment.created / updated / deleted to the post's subscribers.

Records are processed one by one with Powertools' BatchProcessor; a record fails (and is
reported in batchItemFailures, so only it and later records are retried) when enqueuing its
fan-out failed or when some recipients still failed transiently after the bounded retries.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from realtime_comments.broadcasting.publish import publish, raise_on_transient_failures
from realtime_comments.broadcasting.stream_messages import message_for_record
from realtime_comments.observability import entry_point, logger
from realtime_comments.settings import Settings

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    post_message = message_for_record(record.raw_event)
    if post_message is None:
        return
    outcome = publish(post_message.message, post_message.post_id, Settings.from_env())
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


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
