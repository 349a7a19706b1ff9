"""Presence under churn: a post with 1,000 subscribers while 50 new users subscribe per second
(each unsubscribing about a second later). Real handlers (ws_actions, the fan-out worker) against
moto (DynamoDB + SQS) and the @connections sink, in this process.

Prints: `presence` messages per second for the post (target: at most 1), the deliveries per second
they make, how long after the last change every subscriber had the final count (target: < 2 s),
and the DynamoDB work per subscribe and per unsubscribe: calls by operation and capacity units.
The capacity is computed with DynamoDB's rounding rules (a write: 1 WCU per started KB, plus one
per GSI the item is in; a read: 1 RCU per started 4 KB strongly consistent, half eventually),
from the sizes of the items read and written, and moto's own ReturnConsumedCapacity figures are
shown beside it (moto reports fixed values, e.g. 0.5 for any UpdateItem, not what AWS bills).
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.common import Row, apply_env, handler_env
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
            size = sum(item_size(i) for i in items)
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


def run(
    subscribers: int = 1_000,
    rate: float = 50.0,
    seconds: float = 6.0,
    log: Callable[[str], None] = print,
) -> tuple[list[Row], dict[str, Any]]:
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
        log(f"presence: seeding {subscribers:,} subscribers of one post ...")
        _seed(aws_clients_dynamodb(), subscribers)

        from handlers import fanout_worker, ws_actions, ws_connect
        from realtime_comments import aws_clients
        from realtime_comments.settings import ActionsSettings

        from benchmarks.events import connect_event, sqs_record, ws_event

        meter = DynamoMeter(
            aws_clients.dynamodb(ActionsSettings.from_env().region),
            {"postId": "byPost", "connectedUserId": "byUser"},
        )
        flushes: list[tuple[float, int, int]] = []  # (time, viewers, recipients)
        stop = threading.Event()

        original_publish = fanout_worker.publish

        def counting_publish(
            message: str, post_id: str | None, settings: Any = None, audience: Any = None
        ) -> Any:
            claimed = time.monotonic()  # the flush was claimed just before: its time is the message's
            outcome = original_publish(message, post_id, settings, audience)
            flushes.append((claimed, json.loads(message)["data"]["viewers"], outcome.recipients))
            return outcome

        fanout_worker.publish = counting_publish  # type: ignore[assignment]

        def worker() -> None:
            while not stop.is_set():
                got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
                messages = got.get("Messages", [])
                if not messages:
                    time.sleep(0.02)
                    continue
                fanout_worker.handler({"Records": [sqs_record(m["Body"]) for m in messages]}, None)
                sqs.delete_message_batch(
                    QueueUrl=queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                    ],
                )

        worker_thread = threading.Thread(target=worker, daemon=True)
        worker_thread.start()

        churners = int(rate * seconds)
        ids = [f"churn{i:05d}=" for i in range(churners)]
        for i, cid in enumerate(ids):  # connected beforehand: $connect is not part of the figure
            ws_connect.handler(connect_event(cid, user_id=f"churn-user-{i}"), None)
        sub_work: list[tuple[Counter[str], dict[str, float], float]] = []
        unsub_work: list[tuple[Counter[str], dict[str, float], float]] = []

        def measured(action: str, cid: str, user: str, into: list[Any]) -> None:
            meter.reset()  # this thread's counters: this call's work only
            ws_actions.handler(
                ws_event(cid, action, json.dumps({"action": action, "postId": POST}), user_id=user), None
            )
            calls, computed, moto_units = meter.snapshot()
            into.append((calls, {k: computed.get(k, 0.0) for k in ("RCU", "WCU")}, moto_units))

        log(f"presence: {rate:g} subscribes/s for {seconds:g} s (each unsubscribes ~1 s later) ...")
        started = time.monotonic()
        joined: list[Any] = []

        def leave(j: int) -> None:
            joined[j].result()  # after its own subscribe, however late that ran
            measured("unsubscribe", ids[j], f"churn-user-{j}", unsub_work)

        with ThreadPoolExecutor(max_workers=16) as pool:
            for i, cid in enumerate(ids):
                due = started + i / rate
                time.sleep(max(0.0, due - time.monotonic()))
                joined.append(pool.submit(measured, "subscribe", cid, f"churn-user-{i}", sub_work))
                if i >= int(rate):  # the one that joined a second ago leaves
                    pool.submit(leave, i - int(rate))
            for j in range(max(0, churners - int(rate)), churners):
                pool.submit(leave, j)
        last_change = time.monotonic()
        churn_seconds = last_change - started
        final = ws_actions_viewers(meter_client=None)
        deadline = last_change + 5
        while time.monotonic() < deadline and not (
            flushes and flushes[-1][1] == final and flushes[-1][0] > last_change - 1
        ):
            time.sleep(0.02)
        settled = (flushes[-1][0] - last_change) if flushes and flushes[-1][1] == final else None
        stop.set()
        worker_thread.join(timeout=5)
        fanout_worker.publish = original_publish  # type: ignore[assignment]

    in_churn = [f for f in flushes if started <= f[0] <= last_change + 0.1]
    gaps = [b[0] - a[0] for a, b in zip(flushes, flushes[1:], strict=False)]
    per_s = len(in_churn) / churn_seconds if churn_seconds else 0.0
    achieved = len(sub_work) / churn_seconds if churn_seconds else 0.0
    deliveries_per_s = sum(f[2] for f in in_churn) / churn_seconds if churn_seconds else 0.0

    def mean_work(work: list[Any]) -> dict[str, Any]:
        if not work:
            return {}
        calls: Counter[str] = Counter()
        for counted, _, _ in work:
            calls.update(counted)
        return {
            "calls": {k: round(v / len(work), 2) for k, v in sorted(calls.items())},
            "RCU": sum(w[1]["RCU"] for w in work) / len(work),
            "WCU": sum(w[1]["WCU"] for w in work) / len(work),
            "moto_units": sum(w[2] for w in work) / len(work),
        }

    sub, unsub = mean_work(sub_work), mean_work(unsub_work)
    flush_ops: dict[str, int] = {}
    data = {
        "subscribers": subscribers,
        "rate": rate,
        "seconds": churn_seconds,
        "subscribes": len(sub_work),
        "unsubscribes": len(unsub_work),
        "subscribes_per_s": achieved,
        "presence_messages": len(in_churn),
        "presence_per_s": per_s,
        "deliveries_per_s": deliveries_per_s,
        "min_gap_s": min(gaps) if gaps else None,
        "settled_s": settled,
        "final_viewers": final,
        "per_subscribe": sub,
        "per_unsubscribe": unsub,
        "largest_item_bytes": meter.largest_item,
        "all_calls": dict(flush_ops),
    }
    rate_met = per_s <= 1.05 and (not gaps or min(gaps) >= 0.95)
    settled_met = settled is not None and settled < 2.0
    ok = rate_met and settled_met
    calls_text = ", ".join(f"{v:g} {k}" for k, v in sub.get("calls", {}).items())
    unsub_text = ", ".join(f"{v:g} {k}" for k, v in unsub.get("calls", {}).items())
    min_gap = min(gaps) if gaps else float("nan")
    rows = [
        Row(
            BENCH,
            f"presence msgs/s, {subscribers:,} subscribers + {rate:g} subscribes/s",
            n=subscribers,
            seconds=churn_seconds,
            msgs_per_s=per_s,
            check=(
                f"{len(in_churn)} presence messages, min gap {min_gap:.2f} s;"
                f" {deliveries_per_s:,.0f} deliveries/s;"
                f" {achieved:.0f} subscribes/s reached ({len(sub_work) + len(unsub_work)} viewer changes"
                f" in {churn_seconds:.1f} s)"
            ),
            target="<= 1 per post per s",
            met="yes" if rate_met else "NO",
        ),
        Row(
            BENCH,
            "last change -> every subscriber has the count",
            seconds=settled,
            check=f"final viewers {final}",
            target="< 2 s",
            met="yes" if settled_met else "NO",
        ),
        Row(
            BENCH,
            "DynamoDB work per subscribe",
            check=(
                f"{calls_text}; {sub.get('RCU', 0):.2f} RCU + {sub.get('WCU', 0):.2f} WCU"
                f" (moto reports {sub.get('moto_units', 0):.2f} units)"
            ),
            target="O(1), no count by Query/Scan",
            met="yes" if "Scan" not in sub.get("calls", {}) else "NO",
            note="Query: the subscribe's comments.list page; presence's own writes are UpdateItems",
        ),
        Row(
            BENCH,
            "DynamoDB work per unsubscribe",
            check=f"{unsub_text}; {unsub.get('RCU', 0):.2f} RCU + {unsub.get('WCU', 0):.2f} WCU",
            target="O(1)",
            met="yes" if "Query" not in unsub.get("calls", {}) else "NO",
        ),
    ]
    if not ok:
        rows[0].note = "targets missed: see the rows"
    return rows, data


def aws_clients_dynamodb() -> Any:
    from realtime_comments import aws_clients
    from realtime_comments.settings import ActionsSettings

    return aws_clients.dynamodb(ActionsSettings.from_env().region)


def ws_actions_viewers(meter_client: Any = None) -> int:
    from realtime_comments.dependencies import presence_counter
    from realtime_comments.settings import ActionsSettings

    return presence_counter(ActionsSettings.from_env()).viewers(POST)


if __name__ == "__main__":
    from benchmarks.common import render_table

    result_rows, result = run()
    print(render_table(result_rows))
    print(json.dumps(result, indent=1, default=str))
