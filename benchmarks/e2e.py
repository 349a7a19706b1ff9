"""Benchmark 3: the local runtime end to end (``python -m local_runtime``), the current one against
the reference one (``local_runtime/`` as of da53cd7, the last commit before the rewrite), measured
in the same run on the same machine, one after the other (never both at once), each on a fresh
runtime serving the same synthesized template (``benchmarks/runtimes.py``).

Figures, for each runtime:

- **first comment**: on a just-started runtime (READY, every function warm), one client
  subscribes and one comment is POSTed: POST start -> receipt of ``comment.created``.
- **load ladder**: N real WebSocket clients (``ws_client.py``, picows) subscribed to one post,
  comments POSTed open loop at R/s for D s over REST (token from ``/dev/token``); latency = POST
  start -> receipt at every client. The offered load N x R steps up (``STEPS``: 200 .. 10,000
  deliveries/s); a step passes with 0 lost and p99 < 250 ms; a runtime stops stepping at its
  first failing step. After the last POST the stragglers are awaited while the received count
  still grows (stall ``STALL_S``), up to ``GRACE_CAP_S``. **Sustained deliveries/s** = the
  highest passing step. The first step (100 x 2/s) gives **p50 at light load**.
- **runtime CPU per delivery**: utime + stime of the runtime process and all its descendants
  (/proc) before and after each step, divided by the deliveries received.
- **1,000 disconnects at once**: on another fresh runtime, 1,000 clients connect, then all close
  at once; ``GET /api/v1/websocket/connections`` (the public health endpoint,
  ``{"status":"ok","count":N}``) is polled until it is back to its starting count.

- **harness floor**: the top step against ``benchmarks/fake_runtime.py`` (an instant broadcaster,
  no runtime): what the load generator itself measures on this machine right now.

The load generator (this process) stands in for browsers on other machines, but it takes its CPU
from the same 2 cores as the runtime under test, so it is kept light: its clients read frames with
picows (``benchmarks/ws_client.py``: one C callback per frame; at 250 x 20/s it used 1.41-1.51 CPU-s
per 10 s step against aiohttp's 1.77-2.08 in alternating steps on one runtime) and run on uvloop
when it is installed (``local_runtime.event_loop``), for every runtime and the floor alike. The
POSTs and tokens go through aiohttp.

Every runtime runs alone (current, then reference, then the floor). ``runtime-latency.png``
(``benchmarks/runtime_plot.py``) draws p50 and p99 against the offered load for all of them.

Quick mode (``--quick``): the current runtime only, a tiny load, no reference, no floor, no PNG
(nor does ``--no-reference`` write one).
If a runtime cannot be started its rows say "not run" and the other one is still measured.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, Row
from benchmarks.ws_client import Client
from local_runtime import event_loop

LOADGEN_LOOP = event_loop.resolve("auto")


def _run(main: Any) -> Any:
    """Run one phase of the load generator to completion on LOADGEN_LOOP."""
    return event_loop.run(main, LOADGEN_LOOP)


# (clients, comments per second): offered deliveries/s = clients x rate.
STEPS: list[tuple[int, float]] = [(100, 2.0), (100, 10.0), (250, 10.0), (250, 20.0), (500, 10.0), (500, 20.0)]
QUICK_STEPS: list[tuple[int, float]] = [(20, 5.0)]
STEP_SECONDS = 10.0
QUICK_STEP_SECONDS = 3.0
DISCONNECT_CLIENTS = 1_000
QUICK_DISCONNECT_CLIENTS = 50
GRACE_CAP_S = 30.0  # hard cap on the wait for stragglers after the last POST answered
STALL_S = 3.0  # stop waiting earlier when nothing more arrived for this long
POST_TIMEOUT_S = 30.0
WARMUP_S = 3.0  # before each measured step, at its rate (both runtimes alike)
LADDER_BUDGET_S = 900.0  # per runtime: no new step starts after this
CONNECT_CONCURRENCY = 50
# The stage's abuse limits (docs/security.md) allow 10 connections and 5 comment writes per second
# per user: the load spreads over enough users to stay well inside both.
CLIENTS_PER_USER = 5
WRITES_PER_USER_PER_S = 4.0

P99_TARGET_S = 0.25
P50_TARGET_S = 0.05
FIRST_TARGET_S = 0.5
DISCONNECT_TARGET_S = 5.0
# What one runtime kind measures: "ladder" (first comment + load ladder on one fresh runtime) and
# "disconnect" (the storm on another); ``--e2e-phases`` picks a subset.
PHASES = ("ladder", "disconnect")
SUSTAINED_TARGET = 5_000.0
BENCH = "end to end"
PNG = os.path.join(ROOT, "benchmarks", "runtime-latency.png")


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def _ms(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


# ---------------------------------------------------------------------------------------- sessions
def _session() -> Any:
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
    )


async def _token(session: Any, token_url: str, username: str) -> str:
    async with session.post(token_url, json={"username": username}) as response:
        response.raise_for_status()
        return str((await response.json())["token"])


async def _tokens(session: Any, urls: dict[str, str], prefix: str, n: int) -> list[str]:
    return list(await asyncio.gather(*(_token(session, urls["tokenUrl"], f"{prefix}-{i}") for i in range(n))))


def users_for(clients: int, per_user: int = CLIENTS_PER_USER) -> int:
    """How many distinct users `clients` connections need under the per-user connection limit."""
    return max(1, -(-clients // per_user))


def writers_for(rate: float) -> int:
    """How many distinct users post `rate` comments per second under the per-user write limit."""
    return max(1, int(-(-rate // WRITES_PER_USER_PER_S)))


async def _connect_all(url_of: Callable[[int], str], clients: list[Client]) -> int:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(c: Client) -> bool:
        async with gate:
            return await c.connect(url_of(c.index))

    done = await asyncio.wait_for(asyncio.gather(*(one(c) for c in clients)), timeout=300)
    return sum(done)


async def _subscribe_all(clients: list[Client], post_id: str) -> int:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(c: Client) -> bool:
        async with gate:
            return c.open and await c.subscribe(post_id)

    return sum(await asyncio.gather(*(one(c) for c in clients)))


async def _close_all(clients: list[Client]) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


async def _count(session: Any, api: str) -> int | None:
    """The public health endpoint's connection count (``{"status":"ok","count":N}``)."""
    import aiohttp

    try:
        async with session.get(
            f"{api}/api/v1/websocket/connections", timeout=aiohttp.ClientTimeout(total=30)
        ) as response:
            if response.status != 200:
                return None
            return int((await response.json())["count"])
    except (TimeoutError, aiohttp.ClientError, ValueError, KeyError):
        return None


# ------------------------------------------------------------------------------------ measurements
async def first_comment(urls: dict[str, str], ready_at: float) -> dict[str, Any]:
    """One subscriber, one POST, on a runtime that has just printed READY."""
    async with _session() as session:
        token = await _token(session, urls["tokenUrl"], "bench-first")
        client = Client(0)
        post_id = f"bench-first-{os.getpid()}-{int(time.time())}"
        if not await client.connect(f"{urls['websocketUrl']}?token={token}"):
            return {"error": f"could not connect: {client.errors[-1:]}"}
        try:
            if not await client.subscribe(post_id):
                return {"error": f"subscribe failed: {client.errors[-1:]}"}
            subscribed_after_ready = time.perf_counter() - ready_at
            marker = "bench-first-comment"
            started = time.perf_counter()
            async with session.post(
                f"{urls['apiUrl'].rstrip('/')}/api/v1/posts/{post_id}/comments",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                data=json.dumps({"content": marker}),
            ) as response:
                status = response.status
                await response.read()
            post_s = time.perf_counter() - started
            deadline = started + 30
            while marker not in client.arrivals and time.perf_counter() < deadline:
                await asyncio.sleep(0.002)
            arrived = client.arrivals.get(marker)
            return {
                "status": status,
                "post_s": post_s,
                "latency_s": (arrived - started) if arrived else None,
                "subscribed_after_ready_s": subscribed_after_ready,
                "received_after_ready_s": (arrived - ready_at) if arrived else None,
            }
        finally:
            await client.close()


async def _step(
    session: Any,
    urls: dict[str, str],
    clients: list[Client],
    writer_tokens: list[str],
    n: int,
    rate: float,
    duration: float,
    label: str,
    cpu: Callable[[], float],
    log: Callable[[str], None],
) -> dict[str, Any]:
    import aiohttp

    post_id = f"bench-{label}-{os.getpid()}-{int(time.time() * 1000)}"
    group = clients[:n]
    subscribed = await _subscribe_all(group, post_id)
    for c in group:
        c.arrivals = {}
        c.duplicates = 0
    n_comments = max(1, int(round(rate * duration)))
    result: dict[str, Any] = {
        "clients": n,
        "rate": rate,
        "duration_s": duration,
        "offered_per_s": n * rate,
        "subscribed": subscribed,
        "comments": n_comments,
    }
    if subscribed < n:
        result.update(passed=False, error=f"{subscribed}/{n} subscribed")
        return result
    await asyncio.sleep(0.5)

    api = urls["apiUrl"].rstrip("/")
    # Posts rotate over the writers, so each user stays under the per-user write rate.
    writer_headers = [
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"} for token in writer_tokens
    ]
    sent: dict[str, float] = {}
    statuses: dict[int, int] = {}
    step_tag = label.replace(" ", "")
    post_timeout = aiohttp.ClientTimeout(total=POST_TIMEOUT_S)

    async def post(i: int) -> None:
        marker = f"BMK{step_tag}-{i:06d}"
        sent[marker] = time.perf_counter()
        try:
            async with session.post(
                f"{api}/api/v1/posts/{post_id}/comments",
                headers=writer_headers[i % len(writer_headers)],
                data=json.dumps({"content": marker}),
                timeout=post_timeout,
            ) as response:
                await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError):
            status = -1
        statuses[status] = statuses.get(status, 0) + 1

    load1 = os.getloadavg()[0]
    cpu0, own0 = cpu(), time.process_time()
    start = time.perf_counter()
    tasks = []
    max_lag = 0.0
    for i in range(n_comments):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            max_lag = max(max_lag, -delay)
        tasks.append(asyncio.create_task(post(i)))
    await asyncio.wait(tasks, timeout=POST_TIMEOUT_S + 10)
    posts_done = time.perf_counter()

    # Stragglers: keep waiting while the received count still grows, at most GRACE_CAP_S.
    expected = n_comments * n
    received = sum(len(c.arrivals) for c in group)
    last_growth = time.perf_counter()
    while received < expected:
        now = time.perf_counter()
        if now - posts_done > GRACE_CAP_S or now - last_growth > STALL_S:
            break
        await asyncio.sleep(0.1)
        now_received = sum(len(c.arrivals) for c in group)
        if now_received > received:
            received, last_growth = now_received, time.perf_counter()
    waited = time.perf_counter() - posts_done
    cpu1, own1 = cpu(), time.process_time()

    latencies = [t - sent[m] for c in group for m, t in c.arrivals.items() if m in sent]
    last_arrival = max((t for c in group for t in c.arrivals.values()), default=start)
    received = len(latencies)
    cpu_s = cpu1 - cpu0
    result.update(
        posted_201=statuses.get(201, 0),
        post_statuses={str(k): v for k, v in sorted(statuses.items())},
        posting_s=posts_done - start,
        max_schedule_lag_s=max_lag,
        expected=expected,
        received=received,
        lost=expected - received,
        duplicates=sum(c.duplicates for c in group),
        straggler_wait_s=waited,
        delivered_per_s=received / max(last_arrival - start, 1e-9),
        p50_s=_pct(latencies, 50),
        p99_s=_pct(latencies, 99),
        max_s=max(latencies) if latencies else float("nan"),
        runtime_cpu_s=cpu_s,
        runtime_cpu_per_delivery_s=cpu_s / received if received else float("nan"),
        loadgen_cpu_s=own1 - own0,
        loadavg_1m=load1,
    )
    result["passed"] = bool(
        result["lost"] == 0 and statuses.get(201, 0) == n_comments and result["p99_s"] < P99_TARGET_S
    )
    log(
        f"e2e:   {n} x {rate:g}/s = {n * rate:,.0f}/s: {received:,}/{expected:,} received, p50 "
        f"{_ms(result['p50_s'])}, p99 {_ms(result['p99_s'])}, runtime CPU {cpu_s:.1f}s "
        f"-> {'pass' if result['passed'] else 'FAIL'}"
    )
    return result


async def ladder(
    urls: dict[str, str],
    steps: list[tuple[int, float]],
    duration: float,
    cpu: Callable[[], float],
    label: str,
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    """The steps in order on one runtime; stops after the first failing step (or the budget)."""
    results: list[dict[str, Any]] = []
    budget_end = time.perf_counter() + LADDER_BUDGET_S
    async with _session() as session:
        tokens = await _tokens(session, urls, "bench-reader", users_for(max(n for n, _ in steps)))
        writers = await _tokens(session, urls, "bench-writer", writers_for(max(rate for _, rate in steps)))
        clients: list[Client] = []
        try:
            for index, (n, rate) in enumerate(steps):
                if time.perf_counter() > budget_end:
                    log(f"e2e: {label}: ladder budget ({LADDER_BUDGET_S:g}s) used up; stopping")
                    break
                if len(clients) < n:
                    more = [Client(i) for i in range(len(clients), n)]
                    t0 = time.perf_counter()
                    ok = await _connect_all(
                        lambda i: f"{urls['websocketUrl']}?token={tokens[i % len(tokens)]}", more
                    )
                    clients.extend(more)
                    log(
                        f"e2e: {label}: {ok}/{len(more)} more clients connected in "
                        f"{time.perf_counter() - t0:.1f}s"
                    )
                # Unmeasured warm-up at the step's rate: pools grow to what the load needs (their
                # cold starts, ~0.5 s of CPU each, otherwise land inside the measured window).
                await _step(
                    session,
                    urls,
                    clients,
                    writers,
                    n,
                    rate,
                    WARMUP_S,
                    f"{label}{index}w",
                    cpu,
                    lambda _m: None,
                )
                result = await _step(
                    session, urls, clients, writers, n, rate, duration, f"{label}{index}", cpu, log
                )
                results.append(result)
                if not result["passed"]:
                    break
        finally:
            await _close_all(clients)
    return results


async def disconnect_storm(
    urls: dict[str, str],
    n: int,
    bound: float,
    log: Callable[[str], None],
    cpu: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """n clients connect, then all close at once; poll the connection count back to its start.
    ``cpu``: the runtime's CPU seconds (process and descendants), read at the first close and when
    the count is back (or at the bound): CPU per ``$disconnect`` does not depend on how busy the
    machine is, the seconds do."""
    api = urls["apiUrl"].rstrip("/")
    async with _session() as session:
        baseline = await _count(session, api)
        tokens = await _tokens(session, urls, "bench-storm", users_for(n))
        clients = [Client(i) for i in range(n)]
        t0 = time.perf_counter()
        connected = await _connect_all(
            lambda i: f"{urls['websocketUrl']}?token={tokens[i % len(tokens)]}", clients
        )
        connect_s = time.perf_counter() - t0
        result: dict[str, Any] = {
            "clients": n,
            "connected": connected,
            "connect_s": connect_s,
            "baseline": baseline,
        }
        try:
            # Every $connect is handled before its handshake completes; the count should show them all.
            peak = await _count(session, api)
            deadline = time.perf_counter() + 60
            while (peak or 0) < (baseline or 0) + connected and time.perf_counter() < deadline:
                await asyncio.sleep(0.2)
                peak = await _count(session, api)
            result["peak"] = peak
            log(
                f"e2e:   {connected}/{n} connected in {connect_s:.1f}s; count {peak}; closing all at once ..."
            )
            polls = 0
            cpu0 = cpu() if cpu else None
            started = time.perf_counter()
            closing = asyncio.create_task(_close_all(clients))
            closed_at: list[float] = []
            closing.add_done_callback(lambda _t: closed_at.append(time.perf_counter() - started))
            count = peak
            done_at = None
            trace: list[tuple[float, int | None]] = []
            while time.perf_counter() - started < bound and polls < 10_000:
                count = await _count(session, api)
                polls += 1
                if len(trace) < 2_000:
                    trace.append((round(time.perf_counter() - started, 3), count))
                if count is not None and count <= (baseline or 0):
                    done_at = time.perf_counter()
                    break
                await asyncio.sleep(0.05)
            cpu_s = cpu() - cpu0 if cpu and cpu0 is not None else None
            ended = done_at or time.perf_counter()
            handled = (peak or 0) - (count if count is not None else (peak or 0))
            await asyncio.wait_for(closing, timeout=60)
            result.update(
                cpu_s=cpu_s,
                handled=handled,
                cpu_per_disconnect_s=cpu_s / handled if cpu_s is not None and handled > 0 else None,
                handled_per_s=handled / (ended - started),
                seconds=(done_at - started) if done_at else None,
                final_count=count,
                polls=polls,
                closes_done_s=closed_at[0] if closed_at else None,
                trace=trace,
                loadavg_1m=os.getloadavg()[0],
            )
        finally:
            await _close_all(clients)
    return result


# --------------------------------------------------------------------------------- one runtime
def measure(
    kind: str,
    cdk_out: Path,
    workdir: Path,
    *,
    steps: list[tuple[int, float]],
    duration: float,
    disconnect_clients: int,
    reference_commit: str,
    log: Callable[[str], None],
    phases: tuple[str, ...] = PHASES,
) -> dict[str, Any]:
    """Every figure of one runtime kind: first comment + ladder on one fresh runtime, the
    disconnect storm on another fresh one (``phases``: which of the two)."""
    from benchmarks.runtimes import Runtime

    out: dict[str, Any] = {"kind": kind, "disconnect_clients": disconnect_clients, "phases": phases}
    runtime = Runtime(kind, cdk_out, workdir, reference_commit=reference_commit)
    out["label"] = runtime.label
    if "ladder" in phases:
        _measure_ladder(runtime, out, steps, duration, log)
    if "disconnect" in phases and "start_error" not in out:
        _measure_disconnect(
            Runtime(kind, cdk_out, workdir, reference_commit=reference_commit),
            out,
            disconnect_clients,
            log,
        )
    return out


def _measure_ladder(
    runtime: Any,
    out: dict[str, Any],
    steps: list[tuple[int, float]],
    duration: float,
    log: Callable[[str], None],
) -> None:
    kind = runtime.kind
    log(f"e2e: starting the {runtime.label} runtime ...")
    try:
        runtime.start(timeout=180)
    except Exception as exc:  # noqa: BLE001 - reported as "not run"
        out["error"] = f"runtime did not start: {_one_line(exc)}"
        out["start_error"] = str(exc)[-3000:]
        log(f"e2e: {out['error']}")
        return
    out["startup_s"] = runtime.startup_seconds
    try:
        out["first"] = _run(asyncio.wait_for(first_comment(runtime.urls, runtime.ready_at), 90))
        log(f"e2e: {runtime.label}: first comment {out['first']}")
        out["steps"] = _run(ladder(runtime.urls, steps, duration, runtime.cpu_seconds, kind, log))
    except Exception as exc:  # noqa: BLE001 - what was measured so far is kept
        out["error"] = f"{type(exc).__name__}: {exc}"[:300]
        log(f"e2e: {runtime.label} failed: {out['error']}")
    finally:
        out["log_errors"] = _log_errors(runtime.tail(4000))
        runtime.stop()


def _measure_disconnect(
    storm: Any, out: dict[str, Any], disconnect_clients: int, log: Callable[[str], None]
) -> None:
    try:
        storm.start(timeout=180)
        out.setdefault("startup_s", storm.startup_seconds)
        log(f"e2e: {storm.label}: {disconnect_clients} disconnects at once ...")
        out["disconnect"] = _run(
            asyncio.wait_for(
                disconnect_storm(storm.urls, disconnect_clients, 60.0, log, storm.cpu_seconds), 600
            )
        )
        log(f"e2e: {storm.label}: disconnect {out['disconnect'].get('seconds')}")
    except Exception as exc:  # noqa: BLE001
        out["disconnect"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        storm.stop()


def measure_floor(
    workdir: Path, steps: list[tuple[int, float]], duration: float, log: Callable[[str], None]
) -> dict[str, Any]:
    """The same load generator against benchmarks/fake_runtime.py (an instant broadcaster)."""
    from benchmarks.runtimes import Runtime

    fake = Runtime("floor", Path(ROOT), workdir, max_seconds=600)
    out: dict[str, Any] = {"kind": "floor", "label": fake.label}
    try:
        fake.start(timeout=60)
        log(f"e2e: {fake.label}: {', '.join(f'{n} x {r:g}/s' for n, r in steps)} ...")
        out["steps"] = _run(ladder(fake.urls, steps, duration, fake.cpu_seconds, "floor", log))
    except Exception as exc:  # noqa: BLE001 - reported as "not run"
        out["error"] = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        fake.stop()
    return out


def _one_line(exc: BaseException) -> str:
    """The gist of a start-up failure: the first line, plus the runtime's own 'failed' line if any."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    gist = [line for line in lines[1:] if "failed" in line or "Error" in line][:1]
    return " / ".join([f"{type(exc).__name__}: {lines[0] if lines else ''}", *gist])[:240]


def _log_errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if " 500 " in line or "Error" in line or "Traceback" in line][
        -30:
    ]


# ------------------------------------------------------------------------------------------ rows
def _speedup(ours: float | None, ref: float | None, higher_is_better: bool = False) -> float | None:
    if ours is None or ref is None or ours != ours or ref != ref or ours <= 0 or ref <= 0:
        return None
    return ours / ref if higher_is_better else ref / ours


def _yes(ok: bool) -> str:
    return "yes" if ok else "no"


def _sustained(steps: list[dict[str, Any]]) -> float:
    best = 0.0
    for step in steps:
        if not step.get("passed"):
            break
        best = max(best, step["offered_per_s"])
    return best


def _measured_step(result: dict[str, Any], key: tuple[int, float]) -> dict[str, Any] | None:
    """The step of ``result`` at (clients, rate) ``key`` that ran to measurement, if any."""
    return next(
        (s for s in result.get("steps", []) if (s["clients"], s["rate"]) == key and "received" in s), None
    )


def rows_for(results: list[dict[str, Any]], quick: bool) -> list[Row]:
    """Per figure: the reference's row first (``speedup`` 1.00), then ours with the ratio."""
    by_kind = {r["kind"]: r for r in results}
    rows: list[Row] = []
    for r in results:  # a runtime that did not start: one row, not one per figure
        if r["kind"] != "floor" and "startup_s" not in r:
            who = "ours (current)" if r["kind"] == "current" else r.get("label", r["kind"])
            rows.append(
                Row(BENCH, f"{who}: every figure", check=f"not run: {r.get('error', 'no data')}"[:160])
            )
    ref = by_kind.get("reference")
    if ref is not None and "startup_s" not in ref:
        ref = None
    order = [r for r in (ref, by_kind.get("current")) if r is not None and "startup_s" in r]

    def ran(phase: str) -> list[dict[str, Any]]:
        return [r for r in order if phase in r.get("phases", PHASES)]

    def name(r: dict[str, Any]) -> str:
        return "ours (current)" if r["kind"] == "current" else f"{r['label']}"

    def not_run(r: dict[str, Any], what: str) -> Row:
        text = " ".join(str(r.get("error", "no data")).split())
        return Row(BENCH, f"{name(r)}: {what}", check=f"not run: {text}"[:140])

    def ratio(
        r: dict[str, Any], ours: float | None, theirs: float | None, higher_is_better: bool = False
    ) -> float | None:
        # The reference's own row reads 1.00 when it has the figure; ours reads reference / ours
        # (latency, CPU: > 1 is faster) or ours / reference (throughput).
        if r is ref:
            return 1.0 if ours is not None and ours == ours and (ours > 0 or higher_is_better) else None
        return _speedup(ours, theirs, higher_is_better)

    def fail_or(r: dict[str, Any], text: str, bad: bool) -> str:
        # A lost delivery on the current runtime in the quick smoke run is a failure of the run.
        return f"FAIL: {text}" if bad and quick and r["kind"] == "current" else text

    # first comment
    for r in ran("ladder"):
        first = r.get("first")
        if not first:
            rows.append(not_run(r, "first comment after READY"))
            continue
        if first.get("latency_s") is None:
            text = f"not received: {first.get('error', 'in 30 s')}"
            rows.append(
                Row(BENCH, f"{name(r)}: first comment after READY", 1, check=fail_or(r, text, True), met="no")
            )
            continue
        ref_first = (ref or {}).get("first") or {}
        rows.append(
            Row(
                BENCH,
                f"{name(r)}: first comment after READY (1 client)",
                1,
                first["latency_s"],
                x_baseline=ratio(r, first["latency_s"], ref_first.get("latency_s")),
                check=f"received (POST {first['status']})",
                target="< 500 ms",
                met=_yes(first["latency_s"] < FIRST_TARGET_S),
                note=f"POST start -> receipt; POST {_ms(first['post_s'])}; launch -> READY "
                f"{r.get('startup_s', float('nan')):.1f}s (--wait-warm); READY -> receipt "
                f"{_ms(first.get('received_after_ready_s'))}",
            )
        )

    # the ladder: one row per step run (the reference's, then ours), p99 in the seconds column
    ref_steps = {(s["clients"], s["rate"]): s for s in (ref or {}).get("steps", [])}
    keys: list[tuple[int, float]] = []
    for r in ran("ladder"):
        if not r.get("steps"):
            rows.append(not_run(r, "load ladder"))
        for s in r.get("steps") or []:
            if (s["clients"], s["rate"]) not in keys:
                keys.append((s["clients"], s["rate"]))
    keys.sort(key=lambda k: (k[0] * k[1], k[0]))
    for key, r in ((k, r) for k in keys for r in ran("ladder")):
        for s in (x for x in r.get("steps") or [] if (x["clients"], x["rate"]) == key):
            label = (
                f"{s['clients']} clients x {s['rate']:g}/s x {s['duration_s']:g}s"
                f" = {s['offered_per_s']:,.0f}/s: p99"
            )
            if "received" not in s:
                rows.append(Row(BENCH, f"{name(r)}: {label}", check=f"not run: {s.get('error')}", met="no"))
                continue
            other = ref_steps.get((s["clients"], s["rate"])) if r["kind"] == "current" else None
            check = f"{s['received']:,}/{s['expected']:,} received, lost {s['lost']:,}"
            if s["posted_201"] != s["comments"]:
                check += f"; POST statuses {s['post_statuses']}"
            if s["duplicates"]:
                check += f"; {s['duplicates']} duplicates"
            rows.append(
                Row(
                    BENCH,
                    f"{name(r)}: {label}",
                    s["received"],
                    s["p99_s"],
                    s["delivered_per_s"],
                    x_baseline=ratio(r, s["p99_s"], (other or {}).get("p99_s")),
                    check=fail_or(r, check, s["lost"] > 0),
                    target="0 lost, p99 < 250 ms",
                    met=_yes(bool(s["passed"])),
                    note=f"p50 {_ms(s['p50_s'])}, max {_ms(s['max_s'])}; runtime CPU "
                    f"{s['runtime_cpu_per_delivery_s'] * 1e6:.0f} us/delivery; "
                    f"loadgen CPU {s['loadgen_cpu_s']:.1f}s; "
                    f"stragglers {s['straggler_wait_s']:.1f}s; load avg {s['loadavg_1m']:.1f}",
                )
            )

    # the harness floor: the load generator against an instant broadcaster, no runtime
    floor = by_kind.get("floor")
    for s in (floor or {}).get("steps") or []:
        if "received" not in s:
            continue
        rows.append(
            Row(
                BENCH,
                f"harness floor (fake_runtime.py, no runtime): {s['clients']} clients x {s['rate']:g}/s"
                f" = {s['offered_per_s']:,.0f}/s: p99",
                s["received"],
                s["p99_s"],
                s["delivered_per_s"],
                check=f"{s['received']:,}/{s['expected']:,} received, lost {s['lost']:,}",
                target="reference for the rows above",
                note=f"p50 {_ms(s['p50_s'])}, max {_ms(s['max_s'])}; what this machine can measure now: "
                "the same load generator, an instant aiohttp broadcaster; "
                f"loadgen CPU {s['loadgen_cpu_s']:.1f}s; "
                f"load avg {s['loadavg_1m']:.1f}",
            )
        )
    if floor and floor.get("error"):
        rows.append(Row(BENCH, "harness floor (fake_runtime.py)", check=f"not run: {floor['error']}"[:140]))

    # p50 at light load (the first step)
    light = keys[0] if keys else (QUICK_STEPS if quick else STEPS)[0]
    ref_light = ref_steps.get(light)
    for r in ran("ladder"):
        s = _measured_step(r, light)
        what = f"p50 at light load ({light[0]} clients x {light[1]:g}/s)"
        if s is None:
            rows.append(not_run(r, what))
            continue
        rows.append(
            Row(
                BENCH,
                f"{name(r)}: {what}",
                s["received"],
                s["p50_s"],
                s["delivered_per_s"],
                x_baseline=ratio(r, s["p50_s"], (ref_light or {}).get("p50_s")),
                check=f"{s['received']:,}/{s['expected']:,} received, lost {s['lost']:,}",
                target="p50 < 50 ms",
                met=_yes(s["p50_s"] < P50_TARGET_S),
                note=f"p99 {_ms(s['p99_s'])}",
            )
        )

    # sustained deliveries/s
    ref_sustained = _sustained((ref or {}).get("steps", [])) if ref and ref.get("steps") else None
    for r in ran("ladder"):
        steps = r.get("steps")
        if not steps:
            rows.append(not_run(r, "sustained deliveries/s"))
            continue
        best = _sustained(steps)
        failed = next((s for s in steps if not s.get("passed")), None)
        offered = [c * rate for c, rate in (QUICK_STEPS if quick else STEPS)]
        if failed is None:
            check = f"passed all {len(steps)} steps run (up to {max(offered):,.0f}/s)"
        else:
            detail = (
                f"p99 {_ms(failed.get('p99_s'))}, lost {failed['lost']:,}"
                if "received" in failed
                else str(failed.get("error"))
            )
            check = f"first failing step {failed['offered_per_s']:,.0f}/s ({detail})"
        rows.append(
            Row(
                BENCH,
                f"{name(r)}: sustained deliveries/s (p99 < 250 ms, 0 lost)",
                msgs_per_s=best,
                x_baseline=ratio(r, best, ref_sustained, higher_is_better=True),
                check=check,
                target=">= 5,000/s (aim 10,000)",
                met=_yes(best >= SUSTAINED_TARGET),
                note="highest passing offered load (N clients x R comments/s); stops at the first failure",
            )
        )

    # runtime CPU per delivery: at the light step (same load for both) and the reference's last step
    cpu_steps = [light]
    if ref and ref.get("steps"):
        last = ref["steps"][-1]
        if (last["clients"], last["rate"]) != light and "received" in last:
            cpu_steps.append((last["clients"], last["rate"]))
    for key in cpu_steps:
        ref_step = ref_steps.get(key)
        for r in ran("ladder"):
            s = _measured_step(r, key)
            what = f"runtime CPU per delivery at {key[0]} x {key[1]:g}/s"
            if s is None:
                rows.append(not_run(r, what))
                continue
            rows.append(
                Row(
                    BENCH,
                    f"{name(r)}: {what}",
                    s["received"],
                    s["runtime_cpu_per_delivery_s"],
                    x_baseline=ratio(
                        r, s["runtime_cpu_per_delivery_s"], (ref_step or {}).get("runtime_cpu_per_delivery_s")
                    ),
                    check=f"{s['runtime_cpu_s']:.1f} CPU s / {s['received']:,} deliveries",
                    note=f"{s['runtime_cpu_per_delivery_s'] * 1e6:.0f} us; runtime process + descendants "
                    "(/proc utime+stime), first POST -> last straggler",
                )
            )

    # disconnects
    ref_disc = ((ref or {}).get("disconnect") or {}).get("handled_per_s")  # defined if unfinished too
    for r in ran("disconnect"):
        d = r.get("disconnect") or {}
        what = f"{d.get('clients', r.get('disconnect_clients', '?'))} clients disconnect at once"
        if "error" in d or not d:
            rows.append(
                Row(BENCH, f"{name(r)}: {what}", check=f"not run: {d.get('error', r.get('error'))}"[:140])
            )
            continue
        ok = d.get("seconds") is not None
        rows.append(
            Row(
                BENCH,
                f"{name(r)}: {what} -> every $disconnect handled",
                d["clients"],
                d.get("seconds"),
                d.get("handled_per_s"),
                x_baseline=ratio(r, d.get("handled_per_s"), ref_disc, higher_is_better=True),
                check=fail_or(
                    r,
                    f"count {d.get('peak')} -> {d.get('final_count')}"
                    + ("" if ok else " (not back to the start in 60 s)")
                    + (
                        ""
                        if d["connected"] == d["clients"]
                        else f"; {d['connected']}/{d['clients']} connected"
                    ),
                    not ok,
                ),
                target="<= 5 s",
                met=_yes(ok and d["seconds"] <= DISCONNECT_TARGET_S),
                note=f"GET /api/v1/websocket/connections polled ({d.get('polls')}x) from the first close; "
                f"connect {d['connect_s']:.1f}s; load avg {d.get('loadavg_1m', float('nan')):.1f}"
                + (
                    f"; runtime CPU {d['cpu_per_disconnect_s'] * 1000:.1f} ms per $disconnect handled "
                    f"({d['cpu_s']:.1f} CPU s); msg/s = $disconnects handled per s"
                    if d.get("cpu_per_disconnect_s")
                    else ""
                ),
            )
        )
    return rows


# ------------------------------------------------------------------------------------------- run
def start_runtime(log: Callable[[str], None], workdir: Path) -> Any:
    """The local runtime on free ports (synthesizing into workdir unless E2E_CDK_OUT is set).
    Used by tests/reliability's ``runtime_urls`` fixture."""
    from local_runtime.process import RuntimeProcess, synthesize

    given = os.environ.get("E2E_CDK_OUT")
    cdk_out = Path(given) if given else workdir / "cdk.out"
    if not given:
        log("e2e: synthesizing the app ...")
        synthesize(cdk_out, ("dev",))
    runtime = RuntimeProcess(workdir / "state", cdk_out, fresh=True, extra=["--wait-warm"])
    runtime.start(timeout=180)
    return runtime


def _cdk_out(workdir: Path, log: Callable[[str], None]) -> Path:
    """E2E_CDK_OUT, else ./cdk.out if it holds the dev template, else a fresh synth into workdir."""
    given = os.environ.get("E2E_CDK_OUT")
    if given:
        return Path(given).resolve()
    from local_runtime.process import synthesize
    from local_runtime.template import find_stack

    existing = Path(ROOT) / "cdk.out"
    try:
        find_stack(existing, "dev")
        return existing
    except (FileNotFoundError, ValueError):
        pass
    out = workdir / "cdk.out"
    log("e2e: synthesizing the app (no cdk.out; `make synth` writes one) ...")
    synthesize(out, ("dev",))
    return out


def run(
    quick: bool = False,
    log: Callable[[str], None] = print,
    *,
    reference: bool = True,
    reference_commit: str | None = None,
    steps: list[tuple[int, float]] | None = None,
    duration: float | None = None,
    png: str | None = PNG,
    floor: bool = True,
    phases: tuple[str, ...] = PHASES,
) -> tuple[list[Row], dict]:
    """``floor``: also run the top step against benchmarks/fake_runtime.py (no runtime), to show
    what the load generator itself measures on this machine now (full mode only). ``phases``: a
    subset of PHASES (the floor and the PNG belong to the ladder)."""
    unknown = set(phases) - set(PHASES)
    if unknown:
        raise ValueError(f"unknown e2e phase(s) {sorted(unknown)}; choose from {PHASES}")
    from benchmarks.runtimes import REFERENCE_COMMIT

    if not os.path.exists(os.path.join(ROOT, "local_runtime", "__main__.py")):
        return [Row(BENCH, "local runtime", check="not run: local_runtime is not present")], {}
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return [Row(BENCH, "local runtime", check="not run: aiohttp is not installed")], {}
    steps = steps or (QUICK_STEPS if quick else STEPS)
    duration = duration or (QUICK_STEP_SECONDS if quick else STEP_SECONDS)
    kinds = ["current"] + (["reference"] if reference and not quick else [])
    raw: dict[str, Any] = {
        "steps": steps,
        "step_seconds": duration,
        "reference_commit": reference_commit or REFERENCE_COMMIT,
        "runtimes": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        try:
            cdk_out = _cdk_out(Path(tmp), log)
        except Exception as exc:  # noqa: BLE001 - reported as a row
            return [Row(BENCH, "local runtime", check=f"not run: synth failed ({exc!r})"[:140])], {}
        raw["cdk_out"] = str(cdk_out)
        for kind in kinds:
            raw["runtimes"].append(
                measure(
                    kind,
                    cdk_out,
                    Path(tmp),
                    steps=steps,
                    duration=duration,
                    disconnect_clients=QUICK_DISCONNECT_CLIENTS if quick else DISCONNECT_CLIENTS,
                    reference_commit=reference_commit or REFERENCE_COMMIT,
                    log=log,
                    phases=phases,
                )
            )
        if floor and not quick and "ladder" in phases:
            raw["runtimes"].append(measure_floor(Path(tmp), steps[-1:], duration, log))
    rows = rows_for(raw["runtimes"], quick)
    measured = any(r.get("steps") for r in raw["runtimes"] if r["kind"] != "floor")
    # The committed figure compares the two runtimes: a run without the reference leaves it alone.
    if png and not quick and reference and measured:
        try:
            from benchmarks.runtime_plot import plot

            plot(raw["runtimes"], png, steps)
            raw["png"] = png
            log(f"e2e: wrote {png}")
        except Exception as exc:  # noqa: BLE001 - the table matters more than the figure
            log(f"e2e: no PNG ({exc!r})")
    return rows, raw
