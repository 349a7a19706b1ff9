"""Benchmark 5: warm cost, the CPU time (``time.process_time``) per invocation of each handler.

The handlers run in this process against moto (DynamoDB, in its own process) and the
``@connections`` sink (own process); waiting on their sockets costs no CPU here, so process time
is the handler's own work: parsing, validation, serialization, signing, botocore. Median of
``invocations`` after one warm-up call. The reference is a bare boto3 handler making one
DynamoDB PutItem, measured the same way in the same run.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import HANDLERS, Row, median
from benchmarks.events import (
    FakeContext,
    LocalIssuer,
    authorizer_event,
    broadcast_event,
    comment_item,
    comments_event,
    connect_event,
    sqs_record,
    stream_record,
    ws_event,
)
from benchmarks.servers import (
    COMMENTS_TABLE,
    CONNECTIONS_TABLE,
    handler_backends,
    subscriber_items,
)

POST = "warm-post"
SUBSCRIBERS = 10
FANOUT_BATCH = 100


def _comment_items(n: int) -> list[dict]:
    items = [{"postId": {"S": POST}, "seq": {"N": "0"}, "lastSeq": {"N": str(n)}}]
    for seq in range(1, n + 1):
        c = comment_item(POST, seq, content=f"comment {seq}")
        items.append({k: ({"N": str(v)} if k == "seq" else {"S": str(v)}) for k, v in c.items()})
    return items


def _measure(fn: Callable[[int], Any], invocations: int) -> tuple[float, float, Any]:
    fn(-1)  # warm-up: first-call caches (clients, JWKS, connection pools)
    cpu: list[float] = []
    wall: list[float] = []
    last = None
    for i in range(invocations):
        c0, w0 = time.process_time(), time.perf_counter()
        last = fn(i)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return median(cpu), median(wall), last


def run(invocations: int = 30, log: Callable[[str], None] = print) -> tuple[list[Row], dict]:
    rows: list[Row] = []
    raw: dict[str, Any] = {"invocations": invocations, "handlers": {}}
    issuer = LocalIssuer()
    try:
        with handler_backends(issuer.env()) as (moto, sink):
            _, subs = subscriber_items(POST, SUBSCRIBERS, prefix="warm-sub-")
            moto.load(CONNECTIONS_TABLE, subs)
            _, gone = subscriber_items(POST, invocations + 2, prefix="warm-dc-")
            moto.load(CONNECTIONS_TABLE, gone)
            moto.load(COMMENTS_TABLE, _comment_items(20))

            import boto3

            bare = boto3.client("dynamodb", endpoint_url=moto.endpoint, region_name="us-east-1")
            cases: list[tuple[str, str, Callable[[int], Any]]] = [
                (
                    "bare",
                    "bare boto3 handler (one PutItem)",
                    lambda i: bare.put_item(
                        TableName=CONNECTIONS_TABLE,
                        Item={"connectionId": {"S": f"bare-{i}"}, "sk": {"S": "connection"}},
                    ),
                ),
            ]

            def handler(module: str) -> Callable[[dict], Any]:
                mod = importlib.import_module(f"handlers.{module}")
                return lambda event: mod.handler(event, FakeContext())

            token = issuer.token("alice")
            h: dict[str, Callable[[dict], Any]] = {}
            for module in HANDLERS:
                try:
                    h[module] = handler(module)
                except Exception as exc:  # noqa: BLE001 - reported as a row
                    rows.append(Row("warm cost", f"handlers.{module}", check=f"not run: {exc!r}"[:80]))
            batch_ids = [f"warm-fan-{i}" for i in range(FANOUT_BATCH)]
            fan_body = json.dumps(
                {"message": '{"type":"test","data":{},"timestamp":"x"}', "connectionIds": batch_ids}
            )
            specs: list[tuple[str, str, Callable[[int], dict]]] = [
                ("authorizer", "authorizer: valid token, Allow", lambda i: authorizer_event(token)),
                ("ws_connect", "ws_connect: PutItem", lambda i: connect_event(f"warm-conn-{i}")),
                (
                    "ws_disconnect",
                    "ws_disconnect: Query + BatchWrite",
                    lambda i: ws_event(f"warm-dc-{i + 1:07d}=", "$disconnect", event_type="DISCONNECT"),
                ),
                (
                    "ws_actions",
                    "ws_actions: subscribe (put, list 20, 2 sends)",
                    lambda i: ws_event(
                        f"warm-sub-{i % SUBSCRIBERS:07d}=",
                        "subscribe",
                        json.dumps({"action": "subscribe", "postId": POST}),
                    ),
                ),
                (
                    "ws_actions",
                    "ws_actions: ping (1 send)",
                    lambda i: ws_event("warm-ping", "ping", json.dumps({"action": "ping"})),
                ),
                (
                    "ws_default",
                    "ws_default: echo (1 send)",
                    lambda i: ws_event("warm-echo", "$default", "hi"),
                ),
                (
                    "comments_api",
                    "comments_api: POST comment",
                    lambda i: comments_event(
                        "POST", "warm-api", body={"content": f"hello {i}"}, claims={"sub": "alice"}
                    ),
                ),
                ("comments_api", "comments_api: GET comments (20)", lambda i: comments_event("GET", POST)),
                (
                    "broadcast_endpoint",
                    f"broadcast_endpoint: {SUBSCRIBERS} subscribers",
                    lambda i: broadcast_event({"type": "test", "data": {"message": "hi"}, "postId": POST}),
                ),
                (
                    "stream_broadcaster",
                    f"stream_broadcaster: 1 INSERT, {SUBSCRIBERS} subscribers",
                    lambda i: {"Records": [stream_record("INSERT", comment_item(POST, 100 + i))]},
                ),
                (
                    "fanout_worker",
                    f"fanout_worker: 1 SQS batch of {FANOUT_BATCH} ids",
                    lambda i: {"Records": [sqs_record(fan_body)]},
                ),
            ]
            for module, label, make in specs:
                if module in h:
                    fn = h[module]
                    cases.append((module, label, lambda i, fn=fn, make=make: fn(make(i))))
            log(f"warm cost: {len(cases)} cases x {invocations} invocations ...")
            bare_cpu = None
            for module, label, fn in cases:
                sink.reset()
                try:
                    cpu, wall, last = _measure(fn, invocations)
                except Exception as exc:  # noqa: BLE001 - reported as a row
                    rows.append(Row("warm cost", label, check=f"FAIL: {exc!r}"[:100]))
                    continue
                if module == "bare":
                    bare_cpu = cpu
                status = _status(last)
                raw["handlers"][label] = {
                    "cpu_ms": cpu * 1000,
                    "wall_ms": wall * 1000,
                    "status": status,
                    "sink_calls": sink.stats()["calls"],
                }
                rows.append(
                    Row(
                        "warm cost",
                        label,
                        invocations,
                        cpu,
                        x_baseline=(bare_cpu / cpu) if bare_cpu else None,
                        check=f"{cpu / bare_cpu:.1f}x bare CPU" if bare_cpu else "reference",
                        note=f"CPU {cpu * 1000:.2f} ms/invocation (wall {wall * 1000:.1f} ms); {status}",
                    )
                )
    finally:
        issuer.close()
    return rows, raw


def _status(result: Any) -> str:
    if isinstance(result, dict):
        if "statusCode" in result:
            return f"status {result['statusCode']}"
        if "batchItemFailures" in result:
            return f"{len(result['batchItemFailures'])} batch failures"
        if "policyDocument" in result:
            return result["policyDocument"]["Statement"][0]["Effect"]
    return "ok"


if __name__ == "__main__":
    from benchmarks.common import render_table

    r, _ = run(invocations=10)
    print(render_table(r))
