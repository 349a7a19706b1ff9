"""Unit tests of the gateway helpers and the stream retry semantics (no sockets)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from local_runtime.filters import compile_filters, matches, record_passes
from local_runtime.functions import InvokeResult
from local_runtime.http_api import CompiledRoute
from local_runtime.model import EventSourceSpec, RouteSpec
from local_runtime.streams import StreamPoller, batch_failures
from local_runtime.websocket import evaluate_policy, new_connection_id

ARN = "arn:aws:execute-api:us-east-1:000000000000:abc/dev/$connect"


def test_connection_ids_look_like_api_gateways() -> None:
    ids = {new_connection_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 16 and i.endswith("=") for i in ids)


@pytest.mark.parametrize(
    ("doc", "effect"),
    [
        ({"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ARN}]}, "Allow"),
        (
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*"}
                ]
            },
            "Allow",
        ),
        ({"Statement": {"Effect": "Allow", "Action": ["execute-api:*"], "Resource": [ARN]}}, "Allow"),
        ({"Statement": [{"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": ARN}]}, "Deny"),
        (
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"},
                    {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": ARN},
                ]
            },
            "Deny",
        ),
        (
            {"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:other"}]},
            "Deny",
        ),
        ({}, "Deny"),
    ],
)
def test_policy_evaluation(doc: dict, effect: str) -> None:
    assert evaluate_policy(doc, ARN) == effect


def test_http_route_matching_priority() -> None:
    routes = sorted(
        (
            CompiledRoute(RouteSpec(k, k, "F"))
            for k in (
                "GET /api/{proxy+}",
                "GET /api/v1/posts/{postId}/comments",
                "ANY /api/v1/posts/{postId}/comments",
                "PATCH /api/v1/posts/{postId}/comments/{commentId}",
            )
        ),
        key=lambda r: r.score,
        reverse=True,
    )

    def find(method: str, path: str) -> tuple[str, dict] | None:
        for r in routes:
            p = r.match(method, path)
            if p is not None:
                return r.spec.route_key, p
        return None

    assert find("GET", "/api/v1/posts/p%201/comments") == (
        "GET /api/v1/posts/{postId}/comments",
        {"postId": "p 1"},
    )
    assert find("POST", "/api/v1/posts/p1/comments") == (
        "ANY /api/v1/posts/{postId}/comments",
        {"postId": "p1"},
    )
    assert find("PATCH", "/api/v1/posts/p1/comments/c1")[1] == {"postId": "p1", "commentId": "c1"}
    assert find("GET", "/api/x/y") == ("GET /api/{proxy+}", {"proxy": "x/y"})
    assert find("DELETE", "/nothing") is None


def test_filters() -> None:
    f = compile_filters(
        {"Filters": [{"Pattern": '{"dynamodb":{"Keys":{"seq":{"N":[{"anything-but":["0"]}]}}}}'}]}
    )
    rec = {"dynamodb": {"Keys": {"postId": {"S": "p"}, "seq": {"N": "3"}}}}
    assert record_passes(f, rec)
    assert not record_passes(f, {"dynamodb": {"Keys": {"postId": {"S": "p"}, "seq": {"N": "0"}}}})
    assert matches({"a": [{"prefix": "ab"}]}, {"a": "abc"})
    assert matches({"a": [{"numeric": [">", 1, "<=", 5]}]}, {"a": 5})
    assert not matches({"a": [{"numeric": [">", 1]}]}, {"a": 1})
    assert matches({"a": [{"exists": False}]}, {})
    assert matches({"body": {"k": ["v"]}}, {"body": {"k": "v"}})
    assert record_passes([{"body": {"k": ["v"]}}], {"body": '{"k": "v"}'})
    assert record_passes([], {"anything": 1})


def test_batch_failures_parsing() -> None:
    assert batch_failures(None) == []
    assert batch_failures({"batchItemFailures": []}) == []
    assert batch_failures({"batchItemFailures": [{"itemIdentifier": "5"}]}) == ["5"]
    assert batch_failures({"batchItemFailures": [{"itemIdentifier": ""}]}) is None
    assert batch_failures({"batchItemFailures": "bad"}) is None


# -- stream retry semantics against a fake function --------------------------------------------


class FakeFunctions:
    def __init__(self, behaviour: Any):
        self.behaviour = behaviour
        self.calls: list[list[str]] = []

    async def invoke(self, lid: str, event: dict, timeout: float | None = None) -> InvokeResult:
        seqs = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        self.calls.append(seqs)
        return self.behaviour(seqs, len(self.calls))


def _poller(fake: FakeFunctions, **kw: Any) -> tuple[StreamPoller, list[dict]]:
    spec = EventSourceSpec(
        logical_id="E",
        function="F",
        source_kind="dynamodb",
        source_logical_id="T",
        source_arn="arn:stream",
        batch_size=10,
        **kw,
    )
    p = StreamPoller(spec, fake, None, None, None, "arn:fn")  # type: ignore[arg-type]
    sent: list[dict] = []

    async def on_failure(batch: list, shard: str, condition: str, n: int) -> None:
        sent.append({"seqs": [r["dynamodb"]["SequenceNumber"] for r in batch], "condition": condition})

    p._on_failure = on_failure  # type: ignore[method-assign]
    return p, sent


def _records(n: int) -> list[dict]:
    import time

    return [
        {"dynamodb": {"SequenceNumber": str(i), "ApproximateCreationDateTime": time.time()}}
        for i in range(1, n + 1)
    ]


def test_partial_failure_retries_from_the_first_failed_record() -> None:
    def behaviour(seqs: list[str], n: int) -> InvokeResult:
        return InvokeResult(True, {"batchItemFailures": [{"itemIdentifier": "3"}]} if n == 1 else {})

    fake = FakeFunctions(behaviour)
    p, sent = _poller(fake, report_batch_item_failures=True, max_retry_attempts=2)
    asyncio.run(p._process(_records(5), "s"))
    assert fake.calls == [["1", "2", "3", "4", "5"], ["3", "4", "5"]]
    assert sent == []


def test_bisect_isolates_a_poison_record_and_sends_it_to_on_failure() -> None:
    def behaviour(seqs: list[str], n: int) -> InvokeResult:
        return (
            InvokeResult(False, error_type="Boom", error_message="x")
            if "3" in seqs
            else InvokeResult(True, {})
        )

    fake = FakeFunctions(behaviour)
    p, sent = _poller(fake, bisect_on_error=True, max_retry_attempts=1)
    asyncio.run(p._process(_records(4), "s"))
    assert ["1", "2"] in fake.calls and ["4"] in fake.calls
    assert fake.calls.count(["3"]) == 2  # first try + 1 retry
    assert sent == [{"seqs": ["3"], "condition": "RetryAttemptsExhausted"}]


def test_old_records_are_skipped() -> None:
    fake = FakeFunctions(lambda seqs, n: InvokeResult(True, {}))
    p, sent = _poller(fake, max_record_age=60)
    recs = _records(2)
    recs[0]["dynamodb"]["ApproximateCreationDateTime"] -= 120
    asyncio.run(p._process(recs, "s"))
    assert sent == [{"seqs": ["1"], "condition": "RecordAgeExceeded"}] and fake.calls == [["2"]]
