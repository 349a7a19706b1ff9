"""Presence under churn (issue 11's target): a post with 1,000 subscribers while 50 users a second
subscribe to it, each unsubscribing a second later.

Part 1, end to end through the local runtime (`python -m local_runtime` serving the synthesized
template, real aiohttp WebSocket clients over loopback). First, outside the measured window,
1,000 steady clients (one user each) connect and subscribe, and a pool of churn clients (one
user each) connects without subscribing; the bench waits until the post's count is 1,000 and
quiet. Then an open-loop schedule sends `subscribe` at 50/s round robin over the pool, and each
churn client's `unsubscribe` one second after its `subscribe`, whatever the answers (a slow
answer never slows the schedule): churn by subscription on open connections, no `$connect` in
the window. Printed:
- offered rate (subscribe frames sent per second, and how late the sends ran against the
  schedule) next to the achieved rate (`subscribed` replies per second, first send to last
  answer) and the subscribe -> `subscribed` latency: whether the runtime kept up;
- `presence` messages per second at a watcher (a steady client) and the smallest gap between two
  of them (coalescing: at most one per post per second), and the deliveries per second over
  every client;
- the time from the last change (the last `unsubscribed` reply) until every steady client has
  the final count (target < 2 s);
- the runtime's CPU per subscribe (utime + stime of its processes from /proc over the window, by
  process: the gateway, the data process, each function's workers): where the time goes.

Part 2, the DynamoDB work per subscribe and unsubscribe, consumed capacity included: the same
`ws_actions` handler and the fan-out worker's presence flush, called in this process one after
the other (their DynamoDB client metered through botocore events), against the local runtime's
data process (moto) and the @connections sink, with 1,000 subscribers seeded. The capacity is
computed with DynamoDB's rounding rules (a write: 1 WCU per started KB, plus one per GSI the item
is in; a read: 1 RCU per started 4 KB strongly consistent, half eventually), from the sizes of the
items read and written; moto's own ReturnConsumedCapacity figures are shown beside it (moto
reports fixed values, e.g. 0.5 for any UpdateItem, not what AWS bills). The flush's work (its
claim and the Query of the post's subscribers) is shared by every change of its second: per
subscribe it counts as the flush's work times part 1's presence messages over its subscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.common import Row, apply_env, handler_env
from benchmarks.runtimes import tree_cpu_seconds
from benchmarks.servers import CONNECTIONS_TABLE, SinkProcess, create_tables

BENCH = "presence"
POST = "hot-post"
ITEM_OPS = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "BatchWriteItem",
    "BatchGetItem",
}
WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


def _size(value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute value (DynamoDB JSON), close enough for capacity."""
    kind, raw = next(iter(value.items()))
    if kind == "S":
        return len(raw.encode("utf-8"))
    if kind == "N":
        return 1 + math.ceil(len(raw.lstrip("-").replace(".", "")) / 2)
    if kind == "BOOL" or kind == "NULL":
        return 1
    if kind == "M":
        return 3 + sum(len(k) + _size(v) for k, v in raw.items())
    if kind == "L":
        return 3 + sum(_size(v) for v in raw)
    return len(json.dumps(raw))


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _size(value) for name, value in item.items())


class DynamoMeter:
    """Counts a client's DynamoDB calls and their capacity (computed, and moto's), per thread:
    botocore runs the event hooks in the calling thread, so concurrent calls do not mix."""

    def __init__(self, client: Any, gsi_keys: dict[str, str]) -> None:
        self._local = threading.local()
        self.largest_item = 0
        self._gsi_keys = gsi_keys  # attribute -> index name (items holding it are in the index)
        events = client.meta.events
        events.register("provide-client-params.dynamodb.*", self._ask_capacity)
        events.register("after-call.dynamodb.*", self._after)

    def _state(self) -> Any:
        state = self._local
        if not hasattr(state, "calls"):
            state.calls, state.computed, state.moto, state.request = Counter(), defaultdict(float), 0.0, {}
        return state

    def reset(self) -> None:
        state = self._state()
        state.calls, state.computed, state.moto = Counter(), defaultdict(float), 0.0

    def snapshot(self) -> tuple[Counter[str], dict[str, float], float]:
        state = self._state()
        return Counter(state.calls), dict(state.computed), state.moto

    def _ask_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ITEM_OPS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
            if model.name in WRITES:
                # The item as written (or as it was, for deletes) gives its size and its indexes.
                params.setdefault("ReturnValues", "ALL_NEW" if model.name == "UpdateItem" else "ALL_OLD")
            self._state().request = params

    @staticmethod
    def _index_keys(request: dict[str, Any]) -> int:
        """Bytes of the keys a KEYS_ONLY byPost entry holds beyond a `connectionId` projection
        (postId and the table's sk `sub#<postId>`): a Query is billed on the entries it reads."""
        if request.get("IndexName") != "byPost":
            return 0
        values = [v["S"] for v in (request.get("ExpressionAttributeValues") or {}).values() if "S" in v]
        post = values[0] if values else ""
        return len("postId") + len(post) + len("sk") + len(f"sub#{post}")

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        name = model.name
        if name not in ITEM_OPS:
            return
        rcu = wcu = 0.0
        if name in WRITES:
            item = parsed.get("Attributes") or {}
            if name == "PutItem":  # the larger of the new item and the one it replaced
                new = self._state().request.get("Item") or {}
                item = new if item_size(new) >= item_size(item) else item
            size = item_size(item)
            wcu = max(1, math.ceil(size / 1024)) * (1 + sum(1 for key in self._gsi_keys if key in item))
        elif name == "GetItem":
            size = item_size(parsed.get("Item") or {})
            rcu = max(1, math.ceil(size / 4096)) * 1.0
        elif name == "Query":
            items = parsed.get("Items") or []
            size = sum(item_size(i) for i in items) + len(items) * self._index_keys(self._state().request)
            rcu = max(1, math.ceil(size / 4096)) * 0.5  # every Query here is eventually consistent or a GSI
        else:
            size = 0
        consumed = parsed.get("ConsumedCapacity")
        moto = sum(c.get("CapacityUnits", 0) for c in consumed) if isinstance(consumed, list) else 0
        if isinstance(consumed, dict):
            moto = consumed.get("CapacityUnits", 0)
        state = self._state()
        state.calls[name] += 1
        state.computed["RCU"] += rcu
        state.computed["WCU"] += wcu
        state.moto += moto
        self.largest_item = max(self.largest_item, size if name != "Query" else 0)


class DataProcess:
    """The local runtime's data process (moto with per-table write atomicity and fast Query
    paths): plain moto's threaded server interleaves concurrent ADDs and loses updates."""

    def __init__(self) -> None:
        import subprocess
        import sys

        from benchmarks.common import ROOT

        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "local_runtime.data_store", "--host", "127.0.0.1"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError(f"data process did not start: {line!r}")
        self.endpoint = json.loads(line[len("READY ") :])["url"]

    def __enter__(self) -> DataProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()  # it stops at the end of its standard input
        try:
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001
            self.proc.kill()


def _seed(client: Any, n: int) -> list[str]:
    expires = str(int(time.time()) + 86400)
    ids, items = [], []
    for i in range(n):
        cid, user = f"seed{i:06d}=", f"seed-user-{i}"
        ids.append(cid)
        common = {"userId": {"S": user}, "expiresAt": {"N": expires}}
        items.append(
            {
                "connectionId": {"S": cid},
                "sk": {"S": "connection"},
                "connectedUserId": {"S": user},
                "connectedAt": {"S": "2026-01-01T00:00:00Z"},
                **common,
            }
        )
        items.append(
            {
                "connectionId": {"S": cid},
                "sk": {"S": f"sub#{POST}"},
                "postId": {"S": POST},
                "subscribedAt": {"S": "2026-01-01T00:00:00Z"},
                **common,
            }
        )
        items.append(
            {
                "connectionId": {"S": f"#viewer#{POST}"},
                "sk": {"S": user},
                "connections": {"N": "1"},
                "expiresAt": {"N": expires},
            }
        )
    items.append(
        {"connectionId": {"S": f"#presence#{POST}"}, "sk": {"S": "presence"}, "viewers": {"N": str(n)}}
    )
    for start in range(0, len(items), 25):
        request = {CONNECTIONS_TABLE: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
    return ids


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


# ------------------------------------------------------------------ part 1: through the runtime
HOLD_S = 1.0  # a churn client unsubscribes this long after its subscribe
QUIET_S = 1.5  # the count is "quiet" when no presence message came for this long
SETUP_CONCURRENCY = 50
DRAIN_CAP_S = 240.0  # the longest wait for late answers after the last send
DRAIN_STALL_S = 20.0  # ... or until none came for this long


class Viewer:
    """One WebSocket client of the post: what it received, with arrival times (perf_counter)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ws: Any = None
        self.task: asyncio.Task[None] | None = None
        self.presence: list[tuple[float, int]] = []
        self.stamps: list[str] = []  # each presence message's `timestamp`: when its flush was claimed
        self.replies: dict[str, list[float]] = {"subscribed": [], "unsubscribed": []}
        self.sent: dict[str, list[float]] = {"subscribe": [], "unsubscribe": []}
        self.listed = asyncio.Event()
        self.errors: list[str] = []

    async def connect(self, session: Any, url: str) -> None:
        self.ws = await asyncio.wait_for(session.ws_connect(url, heartbeat=None, max_msg_size=0), timeout=60)
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        import aiohttp

        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.perf_counter()
            data = json.loads(message.data)
            kind = data.get("type")
            if kind == "presence":
                self.presence.append((now, int(data["data"]["viewers"])))
                self.stamps.append(str(data.get("timestamp", "")))
            elif kind in self.replies:
                self.replies[kind].append(now)
            elif kind == "comments.list":
                self.listed.set()
            elif kind == "error":
                self.errors.append(message.data[:200])
                self.listed.set()

    async def send(self, action: str) -> None:
        self.sent[action].append(time.perf_counter())
        await self.ws.send_str(json.dumps({"action": action, "postId": POST}))

    async def subscribe_and_wait(self, timeout: float = 120) -> bool:
        self.listed.clear()
        await self.send("subscribe")
        await asyncio.wait_for(self.listed.wait(), timeout=timeout)
        return not self.errors

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), timeout=15)
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


def _process_cpu(root_pid: int) -> dict[str, float]:
    """CPU seconds (utime + stime) of the runtime's processes, summed by role."""
    from benchmarks.runtimes import _CLK_TCK, _stat_fields, descendants

    by_role: dict[str, float] = defaultdict(float)
    for pid in descendants(root_pid):
        fields = _stat_fields(pid)
        if fields is None or len(fields) < 15:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            role = "gateway (runtime process)" if pid == root_pid else "other"
            if "local_runtime.data_store" in cmdline:
                role = "data process (moto)"
            elif "worker.py" in cmdline:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = dict(part.split(b"=", 1) for part in f.read().split(b"\0") if b"=" in part)
                handler = env.get(b"_HANDLER", b"?").decode(errors="replace")  # handlers.ws_actions.handler
                role = handler.removeprefix("handlers.").removesuffix(".handler")
        except OSError:
            continue
        by_role[role] += sum(int(value) for value in fields[11:15]) / _CLK_TCK
    return dict(by_role)


async def _churn(
    urls: dict[str, str],
    root_pid: int,
    subscribers: int,
    rate: float,
    seconds: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    import aiohttp

    pool_size = max(1, math.ceil(rate * (HOLD_S + 1.0)))  # a client re-subscribes ~1 s after leaving
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None, sock_connect=60)
    )
    steady = [Viewer(f"steady-{i}") for i in range(subscribers)]
    churners = [Viewer(f"churn-{i}") for i in range(pool_size)]
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)
    try:

        async def open_one(viewer: Viewer, subscribe: bool) -> None:
            async with gate:
                async with session.post(urls["tokenUrl"], json={"username": viewer.name}) as response:
                    response.raise_for_status()
                    token = (await response.json())["token"]
                await viewer.connect(session, f"{urls['websocketUrl']}?token={token}")
                if subscribe and not await viewer.subscribe_and_wait():
                    raise RuntimeError(f"{viewer.name} could not subscribe: {viewer.errors[:1]}")

        setup_started = time.perf_counter()
        log(
            f"presence: {subscribers:,} steady clients connect and subscribe,"
            f" {pool_size} churn clients connect ..."
        )
        await asyncio.gather(*(open_one(v, True) for v in steady), *(open_one(c, False) for c in churners))
        watcher = steady[0]
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline and not (
            watcher.presence
            and watcher.presence[-1][1] == subscribers
            and time.perf_counter() - watcher.presence[-1][0] > QUIET_S
        ):
            await asyncio.sleep(0.1)
        setup_s = time.perf_counter() - setup_started
        start_count = watcher.presence[-1][1] if watcher.presence else None
        log(
            f"presence: set up in {setup_s:.0f} s (count {start_count}); churn: {rate:g} subscribes/s"
            f" for {seconds:g} s, each unsubscribing {HOLD_S:g} s later ..."
        )

        total = max(1, int(rate * seconds))
        schedule: list[tuple[float, int, int, str]] = []
        for i in range(total):
            schedule.append((i / rate, 0, i, "subscribe"))
            schedule.append((i / rate + HOLD_S, 1, i, "unsubscribe"))
        schedule.sort()
        cpu_before = _process_cpu(root_pid)
        load_before = os.getloadavg()
        t0 = time.perf_counter() + 0.2
        lags: list[float] = []
        for due_in, _, i, action in schedule:
            due = t0 + due_in
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            lags.append(time.perf_counter() - due)
            await churners[i % pool_size].send(action)
        sends_done = time.perf_counter()

        def answered() -> int:
            return sum(len(c.replies["subscribed"]) + len(c.replies["unsubscribed"]) for c in churners)

        # A runtime that cannot keep up answers late: wait for the backlog while it still drains.
        deadline, seen, progress = time.perf_counter() + DRAIN_CAP_S, -1, time.perf_counter()
        while time.perf_counter() < deadline and time.perf_counter() - progress < DRAIN_STALL_S:
            now_answered = answered()
            if now_answered >= 2 * total or any(c.errors for c in churners):
                break
            if now_answered != seen:
                seen, progress = now_answered, time.perf_counter()
            await asyncio.sleep(0.05)
        replies = sorted(t for c in churners for kind in c.replies.values() for t in kind)
        last_change = replies[-1] if replies else sends_done
        final = subscribers  # every churn client has left again
        deadline = last_change + 10
        while time.perf_counter() < deadline and not all(
            v.presence and v.presence[-1][1] == final and v.presence[-1][0] >= last_change - 1.0
            for v in steady
        ):
            await asyncio.sleep(0.02)
        settle_end = time.perf_counter()
        cpu_after = _process_cpu(root_pid)
        load_after = os.getloadavg()
    finally:
        await asyncio.gather(*(v.close() for v in steady + churners), return_exceptions=True)
        await session.close()

    sub_sent = sorted(t for c in churners for t in c.sent["subscribe"])
    sub_replies = sorted(t for c in churners for t in c.replies["subscribed"])
    latencies = {
        action: [
            reply - sent
            for c in churners
            for sent, reply in zip(c.sent[action], c.replies[reply_kind], strict=False)
        ]
        for action, reply_kind in (("subscribe", "subscribed"), ("unsubscribe", "unsubscribed"))
    }
    offered = (len(sub_sent) - 1) / (sub_sent[-1] - sub_sent[0]) if len(sub_sent) > 1 else 0.0
    # Achieved: subscribes answered per second from the first send to the last answer (a backlog
    # that grows through the window stretches the span, so it shows here).
    achieved = len(sub_replies) / (sub_replies[-1] - sub_sent[0]) if sub_replies else 0.0
    window = max(1e-9, last_change - t0)
    in_window = [t for t, _ in watcher.presence if t0 <= t <= settle_end]
    gaps = [b - a for a, b in zip(in_window, in_window[1:], strict=False)]
    # The server's spacing (the coalescing itself), free of delivery jitter: the messages'
    # timestamps, taken right after each flush claim.
    sent = [
        datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        for (t, _), stamp in zip(watcher.presence, watcher.stamps, strict=True)
        if t0 <= t <= settle_end and stamp
    ]
    sent_gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    deliveries = sum(1 for v in steady + churners for t, _ in v.presence if t0 <= t <= last_change)
    settled = [
        max(0.0, v.presence[-1][0] - last_change) if v.presence and v.presence[-1][1] == final else None
        for v in steady
    ]
    have_final = [s for s in settled if s is not None]
    cpu = {role: cpu_after.get(role, 0.0) - cpu_before.get(role, 0.0) for role in cpu_after}
    return {
        "subscribers": subscribers,
        "churn_clients": pool_size,
        "setup_s": setup_s,
        "start_count": start_count,
        "rate": rate,
        "subscribes_sent": len(sub_sent),
        "subscribes_answered": len(sub_replies),
        "unsubscribes_answered": sum(len(c.replies["unsubscribed"]) for c in churners),
        "offered_per_s": offered,
        "achieved_per_s": achieved,
        "send_lag_ms": {"p50": _pct(lags, 50) * 1000, "max": max(lags) * 1000 if lags else None},
        "latency_ms": {
            action: {"p50": _pct(v, 50) * 1000, "p99": _pct(v, 99) * 1000, "n": len(v)}
            for action, v in latencies.items()
        },
        "churn_seconds": window,
        "presence_messages": len([t for t in in_window if t <= last_change]),
        "presence_per_s": len([t for t in in_window if t <= last_change]) / window,
        "min_gap_s": min(sent_gaps) if sent_gaps else None,
        "min_arrival_gap_s": min(gaps) if gaps else None,
        "deliveries_per_s": deliveries / window,
        "final_viewers": final,
        "clients_with_final": len(have_final),
        "settled_s": max(have_final) if have_final and len(have_final) == len(settled) else None,
        "errors": [e for c in churners + steady for e in c.errors][:5],
        "cpu_s": cpu,
        "cpu_ms_per_subscribe": {k: v * 1000 / max(1, len(sub_replies)) for k, v in sorted(cpu.items())},
        "load_before": load_before,
        "load_after": load_after,
    }


# ------------------------------------------------------------ part 2: DynamoDB work per call
def _work(subscribers: int, calls: int, log: Callable[[str], None]) -> dict[str, Any]:
    with DataProcess() as moto, SinkProcess(latency_ms=10.0) as sink:
        create_tables(moto.endpoint)
        import boto3

        sqs = boto3.client(
            "sqs",
            endpoint_url=moto.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto's dummy credentials
        )
        queue_url = sqs.create_queue(QueueName=f"fanout-{uuid.uuid4().hex[:6]}")["QueueUrl"]
        apply_env(
            handler_env(
                callback_url=sink.callback_url,
                dynamodb_endpoint=moto.endpoint,
                sqs_endpoint=moto.endpoint,
                queue_url=queue_url,
                send_concurrency=64,
            )
        )
        log(
            f"presence: DynamoDB work: {subscribers:,} subscribers seeded,"
            f" {calls} subscribes and unsubscribes ..."
        )
        _seed(aws_clients_dynamodb(), subscribers)

        from handlers import fanout_worker, ws_actions, ws_connect
        from realtime_comments.presence import flush_request

        from benchmarks.events import connect_event, sqs_record, ws_event

        meter = DynamoMeter(aws_clients_dynamodb(), {"postId": "byPost", "connectedUserId": "byUser"})
        ids = [f"churn{i:05d}=" for i in range(calls)]
        for i, cid in enumerate(ids):  # connected beforehand: $connect is not part of the figure
            ws_connect.handler(connect_event(cid, user_id=f"churn-user-{i}"), None)

        def measured(action: str, cid: str, user: str) -> tuple[Counter[str], dict[str, float], float]:
            meter.reset()
            ws_actions.handler(
                ws_event(cid, action, json.dumps({"action": action, "postId": POST}), user_id=user), None
            )
            return meter.snapshot()

        # CPU per call without the runtime around it: this process (the handler, boto3) and the
        # data process (moto), the two largest shares of part 1's CPU per subscribe.
        cpu: dict[str, float] = {}
        here, data = time.process_time(), tree_cpu_seconds(moto.proc.pid)
        sub_work = [measured("subscribe", cid, f"churn-user-{i}") for i, cid in enumerate(ids)]
        cpu["handler_ms_per_subscribe"] = (time.process_time() - here) * 1000 / calls
        cpu["data_ms_per_subscribe"] = (tree_cpu_seconds(moto.proc.pid) - data) * 1000 / calls
        here, data = time.process_time(), tree_cpu_seconds(moto.proc.pid)
        unsub_work = [measured("unsubscribe", cid, f"churn-user-{i}") for i, cid in enumerate(ids)]
        cpu["handler_ms_per_unsubscribe"] = (time.process_time() - here) * 1000 / calls
        cpu["data_ms_per_unsubscribe"] = (tree_cpu_seconds(moto.proc.pid) - data) * 1000 / calls
        meter.reset()
        fanout_worker.handler({"Records": [sqs_record(flush_request(POST))]}, None)
        flush_work = meter.snapshot()
        final = ws_actions_viewers()
    return {
        "per_subscribe": _mean_work(sub_work),
        "per_unsubscribe": _mean_work(unsub_work),
        "per_flush": _mean_work([flush_work]),
        "largest_item_bytes": meter.largest_item,
        "final_viewers": final,
        "cpu": cpu,
    }


def _mean_work(work: list[tuple[Counter[str], dict[str, float], float]]) -> dict[str, Any]:
    if not work:
        return {}
    calls: Counter[str] = Counter()
    for counted, _, _ in work:
        calls.update(counted)
    return {
        "calls": {k: round(v / len(work), 2) for k, v in sorted(calls.items())},
        "RCU": sum(w[1].get("RCU", 0.0) for w in work) / len(work),
        "WCU": sum(w[1].get("WCU", 0.0) for w in work) / len(work),
        "moto_units": sum(w[2] for w in work) / len(work),
    }


def run(
    subscribers: int = 1_000,
    rate: float = 50.0,
    seconds: float = 6.0,
    work_calls: int = 50,
    log: Callable[[str], None] = print,
) -> tuple[list[Row], dict[str, Any]]:
    from benchmarks.e2e import _cdk_out
    from benchmarks.runtimes import Runtime

    with tempfile.TemporaryDirectory(prefix="bench-presence-") as tmp:
        runtime = Runtime("current", _cdk_out(Path(tmp), log), Path(tmp))
        log("presence: starting the local runtime ...")
        runtime.start(timeout=180)
        try:
            churn = asyncio.run(_churn(runtime.urls, runtime.pid, subscribers, rate, seconds, log))
        finally:
            runtime.stop()
    work = _work(subscribers, work_calls, log)
    data = {"churn": churn, "work": work}
    return _rows(churn, work), data


def _calls_text(work: dict[str, Any]) -> str:
    calls = ", ".join(f"{v:g} {k}" for k, v in work.get("calls", {}).items())
    return f"{calls}; {work.get('RCU', 0):.2f} RCU + {work.get('WCU', 0):.2f} WCU"


def _rows(churn: dict[str, Any], work: dict[str, Any]) -> list[Row]:
    rate, n = churn["rate"], churn["subscribers"]
    rate_ok = (
        churn["achieved_per_s"] >= 0.95 * rate and churn["subscribes_answered"] == churn["subscribes_sent"]
    )
    gap, arrival = churn["min_gap_s"], churn["min_arrival_gap_s"]
    coalesced = churn["presence_per_s"] <= 1.05 and (gap is None or gap >= 0.95)
    settled = churn["settled_s"]
    settled_ok = settled is not None and settled < 2.0
    lat = churn["latency_ms"]
    cpu = churn["cpu_ms_per_subscribe"]
    cpu_total = sum(cpu.values())
    cores = os.cpu_count() or 1
    alone = work["cpu"]
    top = sorted(cpu.items(), key=lambda kv: -kv[1])[:4]
    sub, unsub, flush = work["per_subscribe"], work["per_unsubscribe"], work["per_flush"]
    flushes_per_sub = churn["presence_messages"] / max(1, churn["subscribes_answered"])
    load = f"load {churn['load_before'][0]:.1f} -> {churn['load_after'][0]:.1f}"
    return [
        Row(
            BENCH,
            f"churn offered vs achieved ({n:,} subscribers)",
            n=churn["subscribes_sent"],
            seconds=churn["churn_seconds"],
            msgs_per_s=churn["achieved_per_s"],
            check=(
                f"offered {churn['offered_per_s']:.1f}/s (send lag p50 {churn['send_lag_ms']['p50']:.1f} ms,"
                f" max {churn['send_lag_ms']['max']:.0f} ms), achieved {churn['achieved_per_s']:.1f}/s;"
                f" {churn['subscribes_answered']}/{churn['subscribes_sent']} subscribed,"
                f" {churn['unsubscribes_answered']} unsubscribed; subscribe -> subscribed"
                f" p50 {lat['subscribe']['p50']:.0f} ms, p99 {lat['subscribe']['p99']:.0f} ms"
            ),
            target=f"{rate:g} subscribes/s (+ as many unsubscribes)",
            met="yes" if rate_ok else "NO",
            note=load + (f"; errors: {churn['errors'][0][:80]}" if churn["errors"] else ""),
        ),
        Row(
            BENCH,
            "presence msgs/s at a watcher",
            n=churn["presence_messages"],
            msgs_per_s=churn["presence_per_s"],
            check=(
                f"{churn['presence_messages']} in {churn['churn_seconds']:.1f} s, min gap "
                f"{gap if gap is not None else float('nan'):.2f} s sent (timestamps),"
                f" {arrival if arrival is not None else float('nan'):.2f} s received;"
                f" {churn['deliveries_per_s']:,.0f} presence deliveries/s over all clients"
            ),
            target="<= 1 per post per s (sent gap >= 1 s)",
            met="yes" if coalesced else "NO",
        ),
        Row(
            BENCH,
            "last change -> every subscriber has the count",
            seconds=settled,
            check=f"{churn['clients_with_final']}/{n} steady clients have {churn['final_viewers']}",
            target="< 2 s",
            met="yes" if settled_ok else "NO",
        ),
        Row(
            BENCH,
            "runtime CPU per subscribe (+ its unsubscribe)",
            seconds=cpu_total / 1000,
            check=", ".join(f"{role} {ms:.1f} ms" for role, ms in top),
            target=f"{rate:g}/s needs <= {1000 * cores / rate:.0f} ms on {cores} cores",
            met="yes" if cpu_total * rate / 1000 <= cores else "NO",
            note=(
                f"x {rate:g}/s = {cpu_total * rate / 1000:.2f} CPU-s/s; {cores} idle cores would carry"
                f" ~{1000 * cores / cpu_total if cpu_total else float('nan'):.0f}/s"
            ),
        ),
        Row(
            BENCH,
            "  the same calls alone (handler + data process)",
            seconds=(alone["handler_ms_per_subscribe"] + alone["data_ms_per_subscribe"]) / 1000,
            check=(
                f"subscribe: handler {alone['handler_ms_per_subscribe']:.1f} ms + data process"
                f" {alone['data_ms_per_subscribe']:.1f} ms; unsubscribe:"
                f" {alone['handler_ms_per_unsubscribe']:.1f} + {alone['data_ms_per_unsubscribe']:.1f} ms"
            ),
            note=f"part 2: one call at a time, {n:,} subscribers seeded",
        ),
        Row(
            BENCH,
            "DynamoDB work per subscribe",
            check=f"{_calls_text(sub)} (moto reports {sub.get('moto_units', 0):.2f} units)",
            target="O(1), no count by Query/Scan",
            met="yes" if "Scan" not in sub.get("calls", {}) else "NO",
            note="the Query is the subscribe's comments.list page; presence's writes are UpdateItems",
        ),
        Row(
            BENCH,
            "DynamoDB work per unsubscribe",
            check=_calls_text(unsub),
            target="O(1)",
            met="yes"
            if "Query" not in unsub.get("calls", {}) and "Scan" not in unsub.get("calls", {})
            else "NO",
        ),
        Row(
            BENCH,
            "presence flush (shared by a second's changes)",
            check=(
                f"{_calls_text(flush)}; per subscribe at this churn x{flushes_per_sub:.3f}:"
                f" {flush.get('RCU', 0) * flushes_per_sub:.2f} RCU"
                f" + {flush.get('WCU', 0) * flushes_per_sub:.2f} WCU"
            ),
            target="<= 1 per post per s",
            note=f"Query of the post's {n:,} subscribers (byPost)",
        ),
    ]


def aws_clients_dynamodb() -> Any:
    from realtime_comments import aws_clients
    from realtime_comments.settings import ActionsSettings

    return aws_clients.dynamodb(ActionsSettings.from_env().region)


def ws_actions_viewers() -> int:
    from realtime_comments.dependencies import presence_counter
    from realtime_comments.settings import ActionsSettings

    return presence_counter(ActionsSettings.from_env()).viewers(POST)


if __name__ == "__main__":
    from benchmarks.common import render_table

    result_rows, result = run()
    print(render_table(result_rows))
    print(json.dumps(result, indent=1, default=str))
