"""Measure the local runtime: start-up time and POST-to-delivery latency.

    .venv/bin/python -m local_runtime.measure [--n 200] [--synth] [--cdk-out cdk.out]

Starts the runtime on free ports with a fresh temporary state dir, waits for READY (and for every
function to be warm), connects one WebSocket client subscribed to a post, then POSTs N comments
one after another, each by a user of its own, and times each from the start of the POST to the
arrival of its ``comment.created`` on the socket. Prints the numbers; nothing is left running.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from .process import RuntimeProcess


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


async def _wait_warm(session: aiohttp.ClientSession, api: str, timeout: float = 120) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        async with session.get(f"{api}/__local/info") as r:
            if (await r.json()).get("warm"):
                return time.perf_counter() - started
        await asyncio.sleep(0.05)
    raise TimeoutError("functions did not warm up")


async def _measure(urls: dict[str, str], n: int) -> dict[str, object]:
    post_id = f"measure-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession() as s:
        warm_wait = await _wait_warm(s, urls["apiUrl"])

        async def token(username: str) -> str:
            async with s.post(urls["tokenUrl"], json={"username": username}) as r:
                return str((await r.json())["token"])

        tok = await token("measure")
        ws = await s.ws_connect(f"{urls['websocketUrl']}?token={tok}")
        arrivals: dict[str, float] = {}
        got = asyncio.Event()

        async def reader() -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                m = json.loads(msg.data)
                if m.get("type") == "comment.created":
                    arrivals[m["data"]["comment"]["id"]] = time.perf_counter()
                elif m.get("type") == "comments.list":
                    arrivals["__subscribed__"] = time.perf_counter()
                got.set()

        task = asyncio.create_task(reader())
        await ws.send_str(json.dumps({"action": "subscribe", "postId": post_id}))
        while "__subscribed__" not in arrivals:
            got.clear()
            await asyncio.wait_for(got.wait(), 10)
        latencies: list[float] = []
        post_times: list[float] = []
        for i in range(n):
            # A writer of its own per comment: one user posting back to back would meet its write
            # limit (5/s, burst 20; docs/security.md) and measure the 429s instead.
            headers = {"Authorization": f"Bearer {await token(f'measure-writer-{i}')}"}
            t0 = time.perf_counter()
            async with s.post(
                f"{urls['apiUrl']}/api/v1/posts/{post_id}/comments",
                headers=headers,
                json={"content": f"measure {i}"},
            ) as r:
                body = await r.json()
                assert r.status == 201, body
            post_times.append((time.perf_counter() - t0) * 1000)
            deadline = time.perf_counter() + 10
            while body["id"] not in arrivals:
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"comment {i} not delivered in 10 s")
                got.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(got.wait(), 0.5)
            latencies.append((arrivals[body["id"]] - t0) * 1000)
        await ws.close()
        task.cancel()
    return {"warm_wait": warm_wait, "latencies": latencies, "post_times": post_times, "post_id": post_id}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m local_runtime.measure",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--n", type=int, default=200, help="comments to post (default 200)")
    ap.add_argument("--synth", action="store_true", help="include synthesis in the start-up time")
    ap.add_argument(
        "--cdk-out", default=None, help="template dir (default: cdk.out, or a temp dir with --synth)"
    )
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lr-measure-") as tmp:
        cdk_out = Path(args.cdk_out or (Path(tmp) / "cdk.out" if args.synth else "cdk.out")).resolve()
        rt = RuntimeProcess(Path(tmp) / "state", cdk_out, synth=args.synth, fresh=True)
        launched = time.perf_counter()
        rt.start(timeout=600)
        ready = time.perf_counter() - launched
        try:
            res = asyncio.run(_measure(rt.urls, args.n))
        finally:
            t = time.perf_counter()
            rt.stop()
            stop_s = time.perf_counter() - t
    lat = res["latencies"]
    posts = res["post_times"]
    assert isinstance(lat, list) and isinstance(posts, list)
    print(
        f"start-up: launch -> READY {ready:.2f} s ({'with' if args.synth else 'without'} synth); "
        f"all functions warm {ready + float(res['warm_wait']):.2f} s after launch"  # type: ignore[arg-type]
    )
    print(
        f"POST -> comment.created on the socket, n={len(lat)}: p50 {statistics.median(lat):.1f} ms, "
        f"p99 {_pct(lat, 99):.1f} ms, max {max(lat):.1f} ms, mean {statistics.fmean(lat):.1f} ms"
    )
    print(f"POST response time: p50 {statistics.median(posts):.1f} ms, p99 {_pct(posts, 99):.1f} ms")
    print(f"shutdown (SIGTERM -> exit, snapshot flushed): {stop_s:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
