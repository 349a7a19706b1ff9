"""Fan-out queue worker: each SQS message {"message", "connectionIds"} is delivered concurrently;
a presence flush request {"presenceFlush": {"postId"}} sends the post's `presence` message (to its
subscribers, inline or in batches like any post message) once a second has passed since its last one."""

from __future__ import annotations

import functools
import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from realtime_comments.broadcasting.publish import publish, raise_on_transient_failures, record_metrics
from realtime_comments.broadcasting.recipients import recipients
from realtime_comments.delivery import FanoutResult
from realtime_comments.dependencies import (
    Replies,
    connections_repository,
    fanout,
    once_per_container,
    presence_counter,
    replies,
)
from realtime_comments.envelope import PRESENCE, encode_message
from realtime_comments.observability import entry_point, logger
from realtime_comments.presence import parse_flush_request
from realtime_comments.settings import FanoutWorkerSettings

processor = BatchProcessor(event_type=EventType.SQS)


@once_per_container
def settings() -> FanoutWorkerSettings:
    return FanoutWorkerSettings.from_env()


@once_per_container
def sender() -> Replies:
    return replies(settings(), send_concurrency=settings().fanout.send_concurrency)


class MalformedFanoutMessage(ValueError):
    pass


def parse_body(body: str) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise MalformedFanoutMessage("fan-out message is not JSON") from exc
    if not isinstance(parsed, dict):
        raise MalformedFanoutMessage("fan-out message is not an object")
    return parsed


def parse_batch(parsed: dict[str, Any]) -> tuple[str, list[str]]:
    message, ids = parsed.get("message"), parsed.get("connectionIds")
    if not isinstance(message, str) or not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise MalformedFanoutMessage("fan-out message needs a string `message` and a list `connectionIds`")
    if not _encodable(message):  # a lone surrogate (JSON escape): no frame can carry it
        raise MalformedFanoutMessage("fan-out message is not valid Unicode text")
    return message, ids


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def flush_presence(post_id: str) -> None:
    presence = presence_counter(settings())
    viewers = presence.flush(post_id)
    if viewers is None:  # the last one is under a second old: ask again when it is not
        if presence.scheduler is not None:
            presence.scheduler.schedule(post_id, 1)
        return
    audience = functools.partial(recipients, connections_repository(settings()))
    message = encode_message(PRESENCE, {"postId": post_id, "viewers": viewers})
    outcome = publish(message, post_id, audience, fanout(settings()))
    logger.info("presence", extra={"viewers": viewers, "recipients": outcome.recipients})
    raise_on_transient_failures(outcome)


def record_handler(record: SQSRecord) -> None:
    parsed = parse_body(record.body)
    try:
        post_id = parse_flush_request(parsed)
    except ValueError as exc:
        raise MalformedFanoutMessage(str(exc)) from exc
    if post_id is not None:
        flush_presence(post_id)
        return
    message, connection_ids = parse_batch(parsed)
    outcome = FanoutResult(recipients=len(connection_ids))
    outcome.delivery = sender().deliver(message, connection_ids)
    record_metrics(outcome)
    logger.info("fan-out batch", extra={"recipients": outcome.recipients, "sent": outcome.delivery.sent})
    raise_on_transient_failures(outcome)


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
