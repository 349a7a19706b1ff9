"""Benchmark 3: end to end on the local runtime (``python -m local_runtime``).

``clients`` real WebSocket clients (aiohttp) subscribe to one post; one writer POSTs ``rate``
comments per second for ``duration`` seconds over REST with a token from ``/dev/token``. Each
comment carries a unique marker; every client records when its ``comment.created`` arrives.
Reported: p50 / p99 / max from the start of the POST to the receipt at every client, and how many
(client, comment) deliveries never arrived within ``grace`` seconds after the last POST.

Skipped with a clear "not run" row when the runtime cannot be started.
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


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]


async def _token(session: Any, token_url: str, username: str) -> str:
    async with session.post(token_url, json={"username": username}) as response:
        response.raise_for_status()
        return (await response.json())["token"]


async def _run_load(
    urls: dict[str, str], clients: int, rate: float, duration: float, grace: float, log: Callable[[str], None]
) -> dict[str, Any]:
    import aiohttp

    post_id = f"e2e-{os.getpid()}-{int(time.time())}"
    n_comments = int(rate * duration)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tokens = [await _token(session, urls["tokenUrl"], f"e2e-reader-{i}") for i in range(min(clients, 20))]
        writer_token = await _token(session, urls["tokenUrl"], "e2e-writer")
        arrivals: list[dict[str, float]] = [{} for _ in range(clients)]
        ready = [asyncio.Event() for _ in range(clients)]
        sockets: list[Any] = []

        async def client(index: int) -> None:
            token = tokens[index % len(tokens)]
            for attempt in range(5):
                try:
                    ws = await session.ws_connect(
                        f"{urls['websocketUrl']}?token={token}", heartbeat=None, max_msg_size=0
                    )
                    break
                except (TimeoutError, aiohttp.ClientError):
                    await asyncio.sleep(0.2 * (attempt + 1))
            else:
                ready[index].set()
                return
            sockets.append(ws)
            await ws.send_str(json.dumps({"action": "subscribe", "postId": post_id}))
            mine = arrivals[index]
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                data = message.data
                if '"comment.created"' in data:
                    mine[json.loads(data)["data"]["comment"]["content"]] = time.perf_counter()
                elif '"comments.list"' in data:
                    ready[index].set()

        log(f"e2e: connecting {clients} WebSocket clients ...")
        tasks = [asyncio.create_task(client(i)) for i in range(clients)]
        connect_started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), timeout=120)
        connected = len(sockets)
        connect_s = time.perf_counter() - connect_started
        log(
            f"e2e: {connected}/{clients} subscribed in {connect_s:.1f}s; posting {n_comments} comments "
            f"at {rate:g}/s ..."
        )

        sent: dict[str, float] = {}
        statuses: dict[int, int] = {}
        headers = {"Authorization": f"Bearer {writer_token}", "Content-Type": "application/json"}
        api = urls["apiUrl"].rstrip("/")

        async def post(i: int) -> None:
            marker = f"e2e-{i:06d}"
            sent[marker] = time.perf_counter()
            async with session.post(
                f"{api}/api/v1/posts/{post_id}/comments",
                headers=headers,
                data=json.dumps({"content": marker}),
            ) as response:
                statuses[response.status] = statuses.get(response.status, 0) + 1
                await response.read()

        posts = []
        start = time.perf_counter()
        for i in range(n_comments):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            posts.append(asyncio.create_task(post(i)))
        await asyncio.gather(*posts, return_exceptions=True)
        posted_s = time.perf_counter() - start
        # Wait for the stragglers (bounded).
        expected = len(sent) * connected
        deadline = time.perf_counter() + grace
        while time.perf_counter() < deadline:
            if sum(len(a) for a in arrivals) >= expected:
                break
            await asyncio.sleep(0.1)
        for ws in sockets:
            await ws.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    latencies = [
        arrived - sent[marker] for mine in arrivals for marker, arrived in mine.items() if marker in sent
    ]
    ok_posts = statuses.get(201, 0)
    received = len(latencies)
    return {
        "clients": clients,
        "connected": connected,
        "comments": n_comments,
        "posted_201": ok_posts,
        "post_statuses": statuses,
        "posting_s": posted_s,
        "expected": ok_posts * connected,
        "received": received,
        "lost": ok_posts * connected - received,
        "p50_s": _pct(latencies, 50),
        "p99_s": _pct(latencies, 99),
        "max_s": max(latencies) if latencies else float("nan"),
        "connect_s": connect_s,
    }


def start_runtime(log: Callable[[str], None], workdir: Path) -> Any:
    """The local runtime on free ports (synthesizing into workdir unless E2E_CDK_OUT is set)."""
    from local_runtime.process import RuntimeProcess, synthesize

    given = os.environ.get("E2E_CDK_OUT")
    cdk_out = Path(given) if given else workdir / "cdk.out"
    if not given:
        log("e2e: synthesizing the app ...")
        synthesize(cdk_out)
    runtime = RuntimeProcess(workdir / "state", cdk_out, fresh=True, extra=["--wait-warm"])
    runtime.start(timeout=180)
    return runtime


def run(
    quick: bool = False,
    configs: list[tuple[int, float, float]] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[list[Row], dict]:
    """``configs``: (clients, comments per second, seconds) runs on one runtime: the issue's target
    load (500 clients, 20/s, 30 s) and a lighter one that shows what the runtime sustains here."""
    if configs is None:
        # The lighter load first: the heavy one leaves a backlog in the runtime behind it.
        configs = [(50, 5.0, 5.0)] if quick else [(500, 2.0, 20.0), (500, 20.0, 30.0)]
    labels = [f"{c} WS clients, {r:g} comments/s x {d:g}s" for c, r, d in configs]
    if not os.path.exists(os.path.join(ROOT, "local_runtime", "__main__.py")):
        return [Row("end to end", labels[0], check="not run: local_runtime is not present")], {}
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return [Row("end to end", labels[0], check="not run: aiohttp is not installed")], {}
    rows: list[Row] = []
    raw: dict[str, Any] = {"runs": []}
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        try:
            runtime = start_runtime(log, Path(tmp))
        except Exception as exc:  # noqa: BLE001 - reported as a row
            return [Row("end to end", labels[0], check=f"not run: runtime did not start ({exc!r})"[:110])], {}
        try:
            for (clients, rate, duration), label in zip(configs, labels, strict=True):
                load1 = os.getloadavg()[0]
                result = asyncio.run(_run_load(runtime.urls, clients, rate, duration, grace=30.0, log=log))
                result["loadavg_1m"] = load1
                result["startup_s"] = runtime.startup_seconds
                raw["runs"].append(result)
                rows.extend(_rows(label, clients, result, load1))
            raw["runtime_log_errors"] = [
                line
                for line in runtime.tail(4000).splitlines()
                if " 500 " in line or "Error" in line or "Traceback" in line
            ][-30:]
        finally:
            runtime.stop()
    return rows, raw


def _rows(label: str, clients: int, result: dict[str, Any], load1: float) -> list[Row]:
    ok = result["lost"] == 0 and result["connected"] == clients and result["posted_201"] == result["comments"]
    check = (
        f"{result['received']:,}/{result['expected']:,} received, lost {result['lost']:,} (30 s grace)"
        if result["connected"] == clients
        else f"FAIL: {result['connected']}/{clients} connected; lost {result['lost']:,}"
    )
    if result["posted_201"] != result["comments"]:
        check += f"; POST statuses {result['post_statuses']}"
    deliveries = result["received"] / max(result["posting_s"], 1e-9)
    return [
        Row(
            "end to end",
            f"{label}: p50",
            result["received"],
            result["p50_s"],
            deliveries,
            check=check,
            target="0 lost",
            met="yes" if ok else "no",
            note=f"POST start -> receipt; runtime start {result['startup_s']:.1f}s; load avg {load1:.1f}",
        ),
        Row(
            "end to end",
            f"{label}: p99",
            result["received"],
            result["p99_s"],
            target="p99 < 250 ms",
            met="yes" if ok and result["p99_s"] < 0.25 else "no",
        ),
        Row("end to end", f"{label}: max", result["received"], result["max_s"]),
    ]
