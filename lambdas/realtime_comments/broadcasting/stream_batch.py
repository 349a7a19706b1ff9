"""Processing a DynamoDB stream batch in order, stopping at the first failed record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from realtime_comments.observability import logger


class RecordFailed(RuntimeError):
    """The first record of the batch failed: a function error, so that the event source mapping
    bisects the batch down to that record and, once its retries are spent, sends only it to the
    on-failure queue."""


def sequence_number(record: dict[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber") or "")


def process_in_order(
    records: list[dict[str, Any]], handle: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Records in stream order; stop at the first failure.

    Lambda retries a stream batch from its first failed record, so the records after it are sent
    again anyway: processing them now would deliver them twice (once per retry), and if the failed
    record ends in the on-failure queue the range sent there would cover them too. So the failed
    record and every later one are reported unprocessed; when the failed record is the first of the
    batch, the invocation fails instead and BisectBatchOnFunctionError isolates it.
    """
    for index, raw in enumerate(records):
        try:
            handle(raw)
        except Exception as exc:
            logger.exception("record failed", extra={"sequence_number": sequence_number(raw)})
            if index == 0:
                raise RecordFailed(f"record {sequence_number(raw)} failed") from exc
            return {"batchItemFailures": [{"itemIdentifier": sequence_number(r)} for r in records[index:]]}
    return {"batchItemFailures": []}
