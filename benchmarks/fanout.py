"""Benchmark 1: one comment to N subscribers of a post, through the local ``@connections`` sink.

* ours: the broadcaster's path in the project code: ``ConnectionsRepository.subscriber_ids`` (one
  paginated Query on ``byPost``) then ``delivery.fan_out`` (inline, concurrent, 410 cleanup, 429
  retry) with WEBSOCKET_CALLBACK_URL pointing at the sink; the broadcaster's per-record function
  is used instead when ``realtime_comments.broadcasting`` provides one.
* candidate: the same ``delivery.deliver`` with a urllib3 pool instead of the project's HTTP/1.1
  client (``benchmarks/transport_candidates.py``), the transport issue 12 weighed against it.
* baseline: the reference design (``benchmarks/baseline.py``): Scan + one-by-one boto3 sends.

Every run checks in the sink that every recipient got the message exactly once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from benchmarks.baseline import BASELINE_TABLE, baseline_items, broadcast_scan_and_send, create_baseline_table
from benchmarks.common import ROOT, Row, apply_env, handler_env, median
from benchmarks.servers import (
    CONNECTIONS_TABLE,
    MotoProcess,
    SinkProcess,
    check_exactly_once,
    create_tables,
    subscriber_items,
)


def _deployed_send_concurrency() -> int:
    """SEND_CONCURRENCY as stacks/stage_config.py deploys it (read without importing the CDK)."""
    import re

    try:
        with open(os.path.join(ROOT, "stacks", "stage_config.py")) as f:
            found = re.search(r"send_concurrency:\s*int\s*=\s*(\d+)", f.read())
        return int(found.group(1)) if found else 128
    except OSError:
        return 128


DEPLOYED_SEND_CONCURRENCY = _deployed_send_concurrency()
# design.md's first value: kept in the table to show what the thread count buys.
EARLIER_SEND_CONCURRENCY = 64


def comment_message(post_id: str, seq: int = 1) -> str:
    comment = {
        "id": f"01JBENCH{seq:010d}",
        "postId": post_id,
        "content": "Benchmark comment " + "x" * 120,
        "userId": "bench-user",
        "createdAt": "2026-01-01T00:00:00.000Z",
        "seq": seq,
    }
    return json.dumps(
        {
            "type": "comment.created",
            "data": {"postId": post_id, "comment": comment},
            "timestamp": "2026-01-01T00:00:00.000Z",
        },
        separators=(",", ":"),
    )


def _lookup_fn() -> Callable[[str], list[str]]:
    """The broadcaster's subscriber lookup: one paginated Query on byPost (project code)."""
    from realtime_comments.dependencies import connections_repository
    from realtime_comments.settings import BroadcastSettings

    return connections_repository(BroadcastSettings.from_env()).subscriber_ids


def _project_send(concurrency: int | None = None) -> tuple[str, Callable[[list[str], str], Any]]:
    """The broadcaster's delivery call: ``delivery.fan_out`` (inline here: no fan-out queue)."""
    import dataclasses

    from realtime_comments.delivery import fan_out
    from realtime_comments.dependencies import fanout
    from realtime_comments.settings import BroadcastSettings

    settings = BroadcastSettings.from_env()
    if concurrency is not None:
        settings = dataclasses.replace(
            settings, fanout=dataclasses.replace(settings.fanout, send_concurrency=concurrency)
        )
    threads = settings.fanout.send_concurrency
    deployed = (
        " = the stacks' value"
        if threads == DEPLOYED_SEND_CONCURRENCY
        else (" = design.md's first value" if threads == EARLIER_SEND_CONCURRENCY else "")
    )
    broadcaster = fanout(settings)

    def send(ids: list[str], message: str) -> Any:
        return fan_out(message, ids, broadcaster).delivery

    return f"ours: Query byPost + fan_out ({threads} threads{deployed})", send


def _urllib3_send(concurrency: int) -> tuple[str, Callable[[list[str], str], Any]]:
    from realtime_comments import aws_clients
    from realtime_comments.delivery import deliver
    from realtime_comments.dependencies import connections_repository
    from realtime_comments.settings import BroadcastSettings

    from benchmarks.transport_candidates import Urllib3Transport

    settings = BroadcastSettings.from_env()
    repo = connections_repository(settings, send_concurrency=concurrency)
    transport = Urllib3Transport(
        aws_clients.connections_transport(settings.websocket_callback_url, settings.region), concurrency
    )

    def send(ids: list[str], message: str) -> Any:
        return deliver(
            message, ids, transport=transport, on_gone=repo.delete_connection, concurrency=concurrency
        )

    return f"candidate: urllib3 pool + same signing ({concurrency} threads)", send


def _check_text(check: dict[str, int]) -> str:
    if check["ok"]:
        return f"{check['expected']:,}/{check['expected']:,} exactly once"
    return (
        f"FAIL: missing {check['missing']:,}, duplicated {check['duplicated']:,}, "
        f"unexpected {check['unexpected']:,}"
    )


def run(
    ns: tuple[int, ...] = (1_000, 10_000),
    baseline_n: int = 1_000,
    latency_ms: float = 10.0,
    rate: float = 10_000.0,
    candidate: bool = True,
    repeats: int = 3,
    log: Callable[[str], None] = print,
) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    raw: dict[str, Any] = {"latency_ms": latency_ms, "rate": rate, "runs": []}
    with MotoProcess() as moto, SinkProcess(latency_ms=latency_ms, rate=rate) as sink:
        create_tables(moto.endpoint)
        create_baseline_table(moto.endpoint)
        apply_env(handler_env(callback_url=sink.callback_url, dynamodb_endpoint=moto.endpoint))
        ids_by_n: dict[int, list[str]] = {}
        for n in ns:
            ids, items = subscriber_items(f"post-{n}", n, prefix=f"n{n}-")
            moto.load(CONNECTIONS_TABLE, items)
            ids_by_n[n] = ids
        base_ids = [f"b{i:07d}=" for i in range(baseline_n)]
        moto.load(BASELINE_TABLE, baseline_items(base_ids))

        # Baseline at baseline_n (the reference design: Scan + one by one).
        sink.reset()
        log(f"fan-out: baseline N={baseline_n:,} (Scan + one-by-one boto3) ...")
        base = broadcast_scan_and_send(
            comment_message("any"), dynamodb_endpoint=moto.endpoint, callback_url=sink.callback_url
        )
        base_check = check_exactly_once(sink.counts(), base_ids)
        raw["runs"].append({"variant": "baseline", "n": baseline_n, **base, "check": base_check})
        per_msg = base["seconds"] / baseline_n
        rows.append(
            Row(
                "fan-out",
                "baseline: Scan + one-by-one boto3",
                baseline_n,
                base["seconds"],
                baseline_n / base["seconds"],
                1.0,
                base["seconds"] / (baseline_n / rate),
                _check_text(base_check),
                note=f"scan {base['lookup_s']:.2f}s, send {base['send_s']:.2f}s",
            )
        )

        lookup = _lookup_fn()
        senders = [_project_send(DEPLOYED_SEND_CONCURRENCY)]
        if candidate:
            senders.append(_urllib3_send(DEPLOYED_SEND_CONCURRENCY))
        for n in ns:
            floor = n / rate
            base_at_n = per_msg * n
            base_send_at_n = base["send_s"] / baseline_n * n
            if n != baseline_n:
                rows.append(
                    Row(
                        "fan-out",
                        "baseline: Scan + one-by-one boto3",
                        n,
                        base_at_n,
                        n / base_at_n,
                        1.0,
                        base_at_n / floor,
                        "extrapolated",
                        note=f"extrapolated linearly from N={baseline_n:,} (not run)",
                    )
                )
            post_id = f"post-{n}"
            log(f"fan-out: Query byPost N={n:,} ...")
            t0 = time.perf_counter()
            ids = lookup(post_id)
            lookup_s = time.perf_counter() - t0
            assert sorted(ids) == sorted(ids_by_n[n]), "the Query did not return the subscribers"
            sends: dict[str, list[float]] = {label: [] for label, _ in senders}
            cpus: dict[str, list[float]] = {label: [] for label, _ in senders}
            checks: dict[str, dict[str, int]] = {}
            throttled: dict[str, int] = {label: 0 for label, _ in senders}
            for rep in range(repeats):
                for label, send in senders:  # alternate the variants: the machine's noise hits both
                    sink.reset()
                    log(f"fan-out: {label} N={n:,} send #{rep + 1} ...")
                    t0, c0 = time.perf_counter(), time.process_time()
                    send(ids, comment_message(post_id, rep + 1))
                    sends[label].append(time.perf_counter() - t0)
                    cpus[label].append(time.process_time() - c0)
                    check = check_exactly_once(sink.counts(), ids_by_n[n])
                    throttled[label] += sink.stats()["throttled"]
                    if label not in checks or not check["ok"]:
                        checks[label] = check
            ours_cpu_us = median(cpus[senders[0][0]]) / n * 1e6
            for label, _ in senders:
                send_s = median(sends[label])
                cpu_us = median(cpus[label]) / n * 1e6
                seconds = lookup_s + send_s
                check = checks[label]
                raw["runs"].append(
                    {
                        "variant": label,
                        "n": n,
                        "lookup_s": lookup_s,
                        "send_s_runs": sends[label],
                        "send_s": send_s,
                        "seconds": seconds,
                        "check": check,
                        "throttled_429": throttled[label],
                        "sender_cpu_us_per_msg": cpu_us,
                        "loadavg_1m": os.getloadavg()[0],
                    }
                )
                target = met = ""
                if n >= 10_000:
                    target = "<=1.5x floor, >=50x faster than baseline"
                    ok = seconds / floor <= 1.5 and base_at_n / seconds >= 50 and check["ok"]
                    met = "yes" if ok else "no"
                rows.append(
                    Row(
                        "fan-out",
                        label,
                        n,
                        seconds,
                        n / seconds,
                        base_at_n / seconds,
                        seconds / floor,
                        _check_text(check),
                        target,
                        met,
                        note=f"Query (moto) {lookup_s:.2f}s + send {send_s:.2f}s",
                    )
                )
                target = met = ""
                if n >= 10_000:
                    target = "send <=1.5x floor, >=50x faster"
                    ok = send_s / floor <= 1.5 and base_send_at_n / send_s >= 50 and check["ok"]
                    met = "yes" if ok else "no"
                rows.append(
                    Row(
                        "fan-out",
                        "  send phase only (after the Query)",
                        n,
                        send_s,
                        n / send_s,
                        base_send_at_n / send_s,
                        send_s / floor,
                        _check_text(check),
                        target,
                        met,
                        note=(
                            f"runs {', '.join(f'{x:.2f}' for x in sends[label])}s (median); "
                            f"sender CPU {cpu_us:.0f} us/msg; {throttled[label]} x 429 retried; "
                            f"load avg {os.getloadavg()[0]:.1f}"
                        ),
                    )
                )
                is_ours = label == senders[0][0]
                rows.append(
                    Row(
                        "fan-out",
                        "  CPU per delivered message (sender process)",
                        n,
                        cpu_us / 1e6,
                        x_baseline=cpu_us / ours_cpu_us if not is_ours else 1.0,
                        target="<=120 us/msg" if is_ours and n >= 10_000 else "",
                        met=("yes" if cpu_us <= 120 else "no") if is_ours and n >= 10_000 else "",
                        note=f"{cpu_us:.0f} us/msg"
                        + (
                            ""
                            if is_ours
                            else f" = {cpu_us / ours_cpu_us:.1f}x ours (the reference in this run)"
                        )
                        + "; process CPU (all threads) / N, median of the sends",
                    )
                )
    return rows, raw
