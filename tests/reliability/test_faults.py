"""Faults at the broadcaster / delivery level, against real loopback servers: the benchmarks'
@connections sink in its own process (410, 429, 5xx, a rate limit) and a proxy in front of moto
that throttles DynamoDB. Nothing committed may be lost: a record either reaches every live
subscriber exactly once or is reported in ``batchItemFailures`` for the platform to retry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.events import FakeContext, comment_item, sqs_record, stream_record
from benchmarks.servers import check_exactly_once

from .conftest import clear_project_caches


@pytest.fixture(scope="module")
def fault_env(rel_env: Any, sink_process: Any) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WEBSOCKET_CALLBACK_URL", sink_process.callback_url)
        clear_project_caches()
        yield rel_env
    clear_project_caches()


@pytest.fixture
def sink(sink_process: Any) -> Iterator[Any]:
    sink_process.reset(latency_ms=0, rate=0)
    yield sink_process
    sink_process.reset(latency_ms=0, rate=0)


def _subscribe(env: Any, post_id: str, n: int, prefix: str | None = None) -> list[str]:
    ids = [f"{prefix or post_id}-c{i:04d}" for i in range(n)]
    for cid in ids:
        for item in (
            {
                "connectionId": {"S": cid},
                "sk": {"S": "connection"},
                "userId": {"S": "u"},
                "connectedAt": {"S": "2026-01-01T00:00:00Z"},
                "expiresAt": {"N": "4102444800"},
            },
            {
                "connectionId": {"S": cid},
                "sk": {"S": f"sub#{post_id}"},
                "postId": {"S": post_id},
                "userId": {"S": "u"},
                "subscribedAt": {"S": "2026-01-01T00:00:00Z"},
                "expiresAt": {"N": "4102444800"},
            },
        ):
            env.client.put_item(TableName=env.connections, Item=item)
    return ids


def _items_of(env: Any, connection_id: str) -> list[dict]:
    return env.client.query(
        TableName=env.connections,
        KeyConditionExpression="connectionId = :c",
        ExpressionAttributeValues={":c": {"S": connection_id}},
        ConsistentRead=True,
    )["Items"]


def _insert(post_id: str, seq: int, seq_no: int) -> dict[str, Any]:
    return stream_record("INSERT", comment_item(post_id, seq, content=f"{post_id} #{seq}"), seq_no=seq_no)


def _broadcast(records: list[dict]) -> set[str]:
    """The sequence numbers the platform must retry. When the handler raises (Powertools does when
    every record failed) the invocation fails and Lambda retries the whole batch, every record."""
    from handlers import stream_broadcaster

    try:
        response = stream_broadcaster.handler({"Records": records}, FakeContext())
    except Exception:  # noqa: BLE001 - a function error: Lambda retries (or bisects) the whole batch
        return {record["dynamodb"]["SequenceNumber"] for record in records}
    return {failure["itemIdentifier"] for failure in response["batchItemFailures"]}


def test_gone_connections_are_cleaned_up_and_the_rest_delivered(fault_env: Any, sink: Any) -> None:
    ids = _subscribe(fault_env, "f-gone", 40)
    gone = ids[::4]
    sink.control(reset=False, gone=gone)
    assert _broadcast([_insert("f-gone", 1, 1)]) == set()
    live = [cid for cid in ids if cid not in gone]
    assert check_exactly_once(sink.counts(), live)["ok"] == 1
    assert sink.stats()["gone_answers"] == len(gone)
    for cid in gone:
        assert _items_of(fault_env, cid) == [], f"{cid}: connection and subscriptions must be deleted"
    for cid in live[:5]:
        assert len(_items_of(fault_env, cid)) == 2


def test_throttled_sends_are_retried_and_delivered_once(fault_env: Any, sink: Any) -> None:
    ids = _subscribe(fault_env, "f-429", 30)
    sink.control(reset=False, fail_429_first=2)  # every recipient: 429, 429, then 200
    assert _broadcast([_insert("f-429", 1, 1)]) == set()
    assert check_exactly_once(sink.counts(), ids)["ok"] == 1
    assert sink.stats()["injected_429"] == 2 * len(ids)


def test_rate_limited_endpoint_still_gets_everything(fault_env: Any, sink: Any) -> None:
    """A real token bucket (400/s) against 16 sending threads: the bounded retries absorb most of
    it; a recipient still throttled after them makes the record fail, and the platform's retry of
    the record (at least once) completes the delivery. Nothing is lost."""
    ids = _subscribe(fault_env, "f-rate", 150)
    sink.control(reset=True, rate=400, burst=5, latency_ms=2)
    record = _insert("f-rate", 1, 1)
    invocations = 1
    failures = _broadcast([record])
    while failures and invocations < 5:  # what the event source mapping does with a failed record
        failures = _broadcast([record])
        invocations += 1
    stats = sink.stats()
    assert failures == set(), stats
    counts = sink.counts()
    assert all(counts.get(cid, 0) >= 1 for cid in ids), stats
    if invocations == 1:
        assert check_exactly_once(counts, ids)["ok"] == 1, stats
    assert stats["throttled"] > 0, "the token bucket should have pushed back"


def test_persistent_5xx_reports_the_record_for_retry(fault_env: Any, sink: Any) -> None:
    ids = _subscribe(fault_env, "f-500", 10)
    sink.control(reset=False, error_ids={ids[3]: 500})
    record = _insert("f-500", 1, 1)
    assert _broadcast([record]) == {record["dynamodb"]["SequenceNumber"]}
    counts = sink.counts()
    assert counts.get(ids[3], 0) == 0
    # The platform retries the record once the endpoint recovers: everyone has it (at least once).
    sink.control(reset=False, error_ids={})
    sink.reset()
    assert _broadcast([record]) == set()
    assert check_exactly_once(sink.counts(), ids)["ok"] == 1


def test_crash_mid_batch_reports_the_failed_record_not_the_earlier_ones(fault_env: Any, sink: Any) -> None:
    posts = [f"f-batch-{i}" for i in range(5)]
    subscribers = {post: _subscribe(fault_env, post, 6) for post in posts}
    records = [_insert(post, 1, i + 1) for i, post in enumerate(posts)]
    poison = records[2]
    poison["dynamodb"]["NewImage"]["seq"] = {"N": "not-a-number"}  # the handler cannot parse it
    failures = _broadcast(records)
    seq = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert seq[2] in failures, "the failed record must be reported"
    assert not failures & {seq[0], seq[1]}, "records before the failure must not be reported"
    counts = sink.counts()
    for index, post in enumerate(posts):
        got = check_exactly_once({cid: counts.get(cid, 0) for cid in subscribers[post]}, subscribers[post])
        if index < 2:
            assert got["ok"] == 1, (post, got)
        elif index == 2:
            assert got["missing"] == len(subscribers[post]), "the poison record delivered nothing"
        else:
            # Later records: delivered exactly once, or reported (Lambda retries from the first failure).
            assert got["ok"] == 1 or seq[index] in failures, (post, got)


def test_dynamodb_throttling_is_retried_or_reported(
    fault_env: Any, sink: Any, throttling_dynamodb: Any
) -> None:
    ids = _subscribe(fault_env, "f-ddb", 12)
    record = _insert("f-ddb", 1, 1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_DYNAMODB", throttling_dynamodb.url)
        clear_project_caches()
        try:
            # A short burst of throttling: botocore's standard retries absorb it.
            throttling_dynamodb.throttle(2)
            assert _broadcast([record]) == set()
            assert throttling_dynamodb.throttled == 2
            assert check_exactly_once(sink.counts(), ids)["ok"] == 1
            # Sustained throttling: the record is reported, not lost, and delivered on the retry.
            sink.reset()
            throttling_dynamodb.throttle(50)
            assert _broadcast([record]) == {record["dynamodb"]["SequenceNumber"]}
            assert sink.stats()["delivered"] == 0
            throttling_dynamodb.throttle(0)
            assert _broadcast([record]) == set()
            assert check_exactly_once(sink.counts(), ids)["ok"] == 1
        finally:
            throttling_dynamodb.throttle(0)
            clear_project_caches()
    clear_project_caches()


def test_fanout_worker_batch_with_gone_throttled_and_failing_ids(fault_env: Any, sink: Any) -> None:
    from handlers import fanout_worker

    ids = _subscribe(fault_env, "f-fan", 30)
    sink.control(reset=False, gone=ids[:3], fail_429_first=1)
    message = '{"type":"test","data":{"message":"hi"},"timestamp":"2026-01-01T00:00:00Z"}'
    good = sqs_record(json.dumps({"message": message, "connectionIds": ids[3:20]}))
    failing_ids = ids[20:]
    sink.control(reset=False, error_ids={failing_ids[0]: 503})
    flaky = sqs_record(json.dumps({"message": message, "connectionIds": failing_ids}))
    gone = sqs_record(json.dumps({"message": message, "connectionIds": ids[:3]}))
    response = fanout_worker.handler({"Records": [good, flaky, gone]}, FakeContext())
    failures = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failures == {flaky["messageId"]}
    counts = sink.counts()
    assert check_exactly_once({c: counts.get(c, 0) for c in ids[3:20]}, ids[3:20])["ok"] == 1
    for cid in ids[:3]:
        assert _items_of(fault_env, cid) == []


def test_records_after_a_failure_are_reported_not_processed(fault_env: Any, sink: Any) -> None:
    posts = [f"f-later-{i}" for i in range(3)]
    subscribers = {post: _subscribe(fault_env, post, 3) for post in posts}
    records = [_insert(post, 1, i + 1) for i, post in enumerate(posts)]
    records[1]["dynamodb"]["NewImage"]["seq"] = {"N": "not-a-number"}
    failures = _broadcast(records)
    seq = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert failures == {seq[1], seq[2]}
    counts = sink.counts()
    assert all(counts.get(cid, 0) == 0 for cid in subscribers[posts[2]]), "a later record was already sent"
