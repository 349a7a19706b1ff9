"""Lambda event source mappings: DynamoDB stream pollers and SQS pollers.

Stream semantics follow Lambda's: batches of up to BatchSize records in order; a function error
retries the batch (bisecting it first when BisectBatchOnFunctionError is set); with
ReportBatchItemFailures the batch is retried from the first failed sequence number; after
MaximumRetryAttempts retries, or once a record is older than MaximumRecordAgeInSeconds, the
batch is skipped and a failure record is sent to the OnFailure destination (an SQS queue).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .filters import record_passes
from .model import EventSourceSpec
from .template import REGION

if TYPE_CHECKING:
    from .data_client import DataApiClient
    from .functions import Functions, InvokeResult

log = logging.getLogger("local_runtime.esm")


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_jsonable(v) for v in value]
    return value


def lambda_stream_record(rec: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A DynamoDB Streams GetRecords record -> the record shape Lambda passes to the function."""
    out = _jsonable(rec)
    out["eventVersion"] = out.get("eventVersion", "1.1")
    out["eventSourceARN"] = stream_arn
    out.setdefault("awsRegion", REGION)
    ident = rec.get("userIdentity")
    if ident:
        out["userIdentity"] = {"type": ident.get("Type"), "principalId": ident.get("PrincipalId")}
    return out


def batch_failures(result: Any) -> list[str] | None:
    """Item identifiers of a partial batch response; None means 'the whole batch failed'."""
    if result is None or not isinstance(result, dict):
        return []
    failures = result.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        return None
    ids = []
    for f in failures:
        ident = f.get("itemIdentifier") if isinstance(f, dict) else None
        if not ident:
            return None  # malformed/empty identifier: Lambda treats the whole batch as failed
        ids.append(str(ident))
    return ids


class Wakeup:
    """A poller's wake-up: set from any thread once :meth:`bind` has seen the poller's event loop."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> None:
        self._loop = asyncio.get_running_loop()

    def set(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._event.set)

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, stop: asyncio.Event, timeout: float) -> None:
        """Until this or ``stop`` is set, or ``timeout`` seconds pass."""
        waits = {asyncio.ensure_future(self._event.wait()), asyncio.ensure_future(stop.wait())}
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()


class StreamPoller:
    def __init__(
        self,
        spec: EventSourceSpec,
        functions: Functions,
        streams_client: Any,
        sqs_client: Any,
        on_failure_url: str | None,
        function_arn: str,
        poll_interval: float = 1.0,
        data_api: DataApiClient | None = None,
    ):
        self.spec = spec
        self.functions = functions
        self.streams = streams_client
        self.sqs = sqs_client
        self.on_failure_url = on_failure_url
        self.function_arn = function_arn
        self.poll_interval = poll_interval  # the fallback: every stream write wakes the poller
        self.data_api = data_api
        self.name = f"{spec.function[:24]}<-stream"
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.stats = {"invocations": 0, "records": 0, "errors": 0, "skipped": 0}
        self.wakeup = Wakeup()  # set when moto appends a stream record (see data_store.py)

    def wake(self) -> None:
        """Wake the poller now (the data process reported a stream write); safe from any thread."""
        self.wakeup.set()

    async def start(self) -> None:
        self.wakeup.bind()
        desc = await asyncio.to_thread(self.streams.describe_stream, StreamArn=self.spec.source_arn)
        shards = desc["StreamDescription"].get("Shards", [])
        iterators = []
        for shard in shards:
            it = await asyncio.to_thread(
                self.streams.get_shard_iterator,
                StreamArn=self.spec.source_arn,
                ShardId=shard["ShardId"],
                ShardIteratorType="LATEST",
            )
            iterators.append((shard["ShardId"], it["ShardIterator"]))
        self._task = asyncio.create_task(self._run(iterators))

    async def stop(self) -> None:
        self._stop.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()

    async def _run(self, iterators: list[tuple[str, str]]) -> None:
        pending: list[dict[str, Any]] = []
        shard_id, iterator = iterators[0] if iterators else ("", "")
        while not self._stop.is_set():
            try:
                if not pending:
                    resp = await self._get_records(iterator)
                    iterator = resp.get("NextShardIterator") or iterator
                    records = [lambda_stream_record(r, self.spec.source_arn) for r in resp.get("Records", [])]
                    pending = [r for r in records if record_passes(self.spec.filters, r)]
                    self.stats["filtered"] = self.stats.get("filtered", 0) + len(records) - len(pending)
                    if not pending:
                        await self._wait_for_records()
                        continue
                if not self.spec.enabled:
                    pending = []
                    continue
                batch = pending[: self.spec.batch_size]
                pending = pending[len(batch) :]
                await self._process(batch, shard_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a poller never dies; it logs and carries on
                log.exception("ESM  %s: poll failed", self.name)
                await self._sleep(0.5)

    async def _get_records(self, iterator: str) -> dict[str, Any]:
        """One GetRecords: on the event loop through ``data_api`` (the runtime's pollers), else
        through the boto3 client in a thread."""
        if self.data_api is not None:
            return await self.data_api.call(
                "DynamoDBStreams_20120810.GetRecords", {"ShardIterator": iterator, "Limit": 1000}
            )
        return await asyncio.to_thread(self.streams.get_records, ShardIterator=iterator, Limit=1000)

    async def _wait_for_records(self) -> None:
        """Until a stream write wakes us up, or the poll interval passes (the fallback)."""
        await self.wakeup.wait(self._stop, self.poll_interval)
        self.wakeup.clear()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def _invoke(self, batch: list[dict[str, Any]]) -> InvokeResult:
        started = time.perf_counter()
        res = await self.functions.invoke(self.spec.function, {"Records": batch})
        self.stats["invocations"] += 1
        ms = (time.perf_counter() - started) * 1000
        first, last = batch[0]["dynamodb"]["SequenceNumber"], batch[-1]["dynamodb"]["SequenceNumber"]
        if res.ok:
            fails = batch_failures(res.result) if self.spec.report_batch_item_failures else []
            note = "ok" if not fails else f"{'all' if fails is None else len(fails)} failed"
            log.info(
                "ESM  %s %d record(s) [%s..%s] -> %s (%.0f ms)",
                self.name,
                len(batch),
                first[-6:],
                last[-6:],
                note,
                ms,
            )
        else:
            self.stats["errors"] += 1
            log.error(
                "ESM  %s %d record(s) -> function error %s (%.0f ms)",
                self.name,
                len(batch),
                res.error_text,
                ms,
            )
        return res

    def _too_old(self, rec: dict[str, Any]) -> bool:
        if self.spec.max_record_age is None or self.spec.max_record_age < 0:
            return False
        created = rec.get("dynamodb", {}).get("ApproximateCreationDateTime")
        return isinstance(created, int | float) and time.time() - created > self.spec.max_record_age

    async def _process(
        self, batch: list[dict[str, Any]], shard_id: str, attempts_left: int | None = None
    ) -> None:
        """Deliver ``batch`` with Lambda's retry semantics; returns when it is done or skipped."""
        if attempts_left is None:
            attempts_left = self.spec.max_retry_attempts  # -1: retry until the record expires
        invocations = 0
        backoff = 0.05
        while batch and not self._stop.is_set():
            old = [r for r in batch if self._too_old(r)]
            if old:
                await self._on_failure(old, shard_id, "RecordAgeExceeded", invocations)
                batch = [r for r in batch if not self._too_old(r)]
                if not batch:
                    return
            res = await self._invoke(batch)
            invocations += 1
            if res.ok:
                failed = batch_failures(res.result) if self.spec.report_batch_item_failures else []
                if not failed:
                    self.stats["records"] += len(batch)
                    return
                if failed is not None:
                    seqs = [r["dynamodb"]["SequenceNumber"] for r in batch]
                    idx = min((seqs.index(f) for f in failed if f in seqs), default=None)
                    if idx is None:
                        failed = None  # identifiers not in the batch: the whole batch failed
                    else:
                        self.stats["records"] += idx
                        batch = batch[idx:]
            elif self.spec.bisect_on_error and len(batch) > 1:
                # Bisecting does not count against the retry quota (as in Lambda).
                mid = len(batch) // 2
                await self._process(batch[:mid], shard_id, attempts_left)
                await self._process(batch[mid:], shard_id, attempts_left)
                return
            if attempts_left == 0:
                await self._on_failure(batch, shard_id, "RetryAttemptsExhausted", invocations)
                return
            self.stats["retries"] = self.stats.get("retries", 0) + 1
            if attempts_left > 0:
                attempts_left -= 1
            await self._sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    async def _on_failure(
        self, batch: list[dict[str, Any]], shard_id: str, condition: str, invocations: int
    ) -> None:
        self.stats["skipped"] += len(batch)
        log.error("ESM  %s: %d record(s) skipped (%s)", self.name, len(batch), condition)
        if not self.on_failure_url:
            return
        first, last = batch[0], batch[-1]
        record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": condition,
                "approximateInvokeCount": invocations,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso_from_epoch(
                    first["dynamodb"].get("ApproximateCreationDateTime")
                ),
                "approximateArrivalOfLastRecord": _iso_from_epoch(
                    last["dynamodb"].get("ApproximateCreationDateTime")
                ),
                "batchSize": len(batch),
                "streamArn": self.spec.source_arn,
            },
        }
        try:
            await asyncio.to_thread(
                self.sqs.send_message, QueueUrl=self.on_failure_url, MessageBody=json.dumps(record)
            )
        except Exception:  # noqa: BLE001
            log.exception("ESM  %s: could not send to the on-failure queue", self.name)


def _iso_from_epoch(value: Any) -> str | None:
    if not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class SqsPoller:
    def __init__(
        self,
        spec: EventSourceSpec,
        functions: Functions,
        sqs_client: Any,
        queue_url: str,
        poll_interval: float = 1.0,
    ):
        self.spec = spec
        self.functions = functions
        self.sqs = sqs_client
        self.queue_url = queue_url
        # The fallback, for messages that become visible again or whose delay ends: every message
        # put on the queue wakes the poller. Polling every 0.1 s instead, the runtime's pollers
        # took ~45 ms of CPU a second, idle or not.
        self.poll_interval = poll_interval
        self.name = f"{spec.function[:24]}<-sqs"
        self.stats = {"invocations": 0, "records": 0, "errors": 0}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.wakeup = Wakeup()  # set when a message is put on the queue (see data_store.py)

    def wake(self) -> None:
        """Poll now (the data process reported a message put on the queue); safe from any thread."""
        self.wakeup.set()

    async def start(self) -> None:
        self.wakeup.bind()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.wakeup.clear()  # before the poll: a message sent during it wakes the next one
                resp = await asyncio.to_thread(
                    self.sqs.receive_message,
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=max(1, min(10, self.spec.batch_size)),
                    WaitTimeSeconds=0,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
                messages = resp.get("Messages", [])
                if not messages or not self.spec.enabled:
                    await self.wakeup.wait(self._stop, self.poll_interval)
                    continue
                await self._deliver(messages)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("ESM  %s: poll failed", self.name)
                await asyncio.sleep(0.5)

    async def _deliver(self, messages: list[dict[str, Any]]) -> None:
        records_all = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m.get("Body", ""),
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {
                    k: {**{kk[0].lower() + kk[1:]: vv for kk, vv in v.items()}}
                    for k, v in (m.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": m.get("MD5OfBody"),
                "eventSource": "aws:sqs",
                "eventSourceARN": self.spec.source_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
        records = [r for r in records_all if record_passes(self.spec.filters, r)]
        dropped = [m for m, r in zip(messages, records_all, strict=True) if r not in records]
        if dropped:  # filtered out: Lambda deletes them without invoking
            await asyncio.to_thread(
                self.sqs.delete_message_batch,
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(dropped)],
            )
            messages = [m for m in messages if m not in dropped]
        if not records:
            return
        started = time.perf_counter()
        res = await self.functions.invoke(self.spec.function, {"Records": _jsonable(records)})
        ms = (time.perf_counter() - started) * 1000
        self.stats["invocations"] += 1
        if not res.ok:
            self.stats["errors"] += 1
            log.error(
                "ESM  %s %d message(s) -> function error %s (%.0f ms); left for redelivery",
                self.name,
                len(records),
                res.error_text,
                ms,
            )
            return
        failed = set(batch_failures(res.result) or []) if self.spec.report_batch_item_failures else set()
        if self.spec.report_batch_item_failures and batch_failures(res.result) is None:
            log.error("ESM  %s: invalid batchItemFailures; whole batch left for redelivery", self.name)
            return
        done = [m for m in messages if m["MessageId"] not in failed]
        self.stats["records"] += len(done)
        if done:
            await asyncio.to_thread(
                self.sqs.delete_message_batch,
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        log.info(
            "ESM  %s %d message(s) -> %s (%.0f ms)",
            self.name,
            len(records),
            "ok" if not failed else f"{len(failed)} failed",
            ms,
        )
