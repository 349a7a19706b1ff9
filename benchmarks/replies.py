"""A reply to its author's open connection, end to end through the local runtime, next to the
plain `comment.created` of the same reply in the same run.

The parent's author has two connections: one subscribed to the post (it gets the reply as
`comment.created`: REST write -> comments stream -> broadcaster -> @connections) and one on
another page (it gets `notification.created`: the same stream -> notifier -> notifications table
-> byUser Query -> @connections). Each reply is timed from just before its POST to each arrival.
Target: the notification's p50 and p99 under 2x the comment's.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import Row

BENCH = "reply->author"
TARGET_RATIO = 2.0


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


async def _measure(urls: dict[str, str], replies: int, gap_s: float) -> dict[str, Any]:
    import aiohttp

    post_id, elsewhere = f"bench-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    arrivals: dict[str, dict[str, float]] = {"comment": {}, "notification": {}}

    async def reader(ws: Any, kind: str) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.perf_counter()
            data = json.loads(message.data)
            if kind == "comment" and data.get("type") == "comment.created":
                arrivals[kind].setdefault(data["data"]["comment"]["id"], now)
            elif kind == "notification" and data.get("type") == "notification.created":
                arrivals[kind].setdefault(data["data"]["notification"]["commentId"], now)

    async with aiohttp.ClientSession() as s:

        async def token(name: str) -> str:
            async with s.post(urls["tokenUrl"], json={"username": name}) as r:
                return str((await r.json())["token"])

        author, replier = await token(f"author-{post_id}"), await token(f"replier-{post_id}")
        on_post = await s.ws_connect(f"{urls['websocketUrl']}?token={author}")
        on_other = await s.ws_connect(f"{urls['websocketUrl']}?token={author}")
        for ws, post in ((on_post, post_id), (on_other, elsewhere)):
            await ws.send_str(json.dumps({"action": "subscribe", "postId": post}))
            while json.loads((await ws.receive()).data).get("type") != "comments.list":
                pass
        tasks = [
            asyncio.create_task(reader(on_post, "comment")),
            asyncio.create_task(reader(on_other, "notification")),
        ]
        api = f"{urls['apiUrl']}/api/v1/posts/{post_id}/comments"
        async with s.post(
            api, json={"content": "parent"}, headers={"Authorization": f"Bearer {author}"}
        ) as r:
            parent = await r.json()
        sent: dict[str, float] = {}
        for i in range(replies):
            started = time.perf_counter()
            async with s.post(
                api,
                json={"content": f"reply {i}", "parentId": parent["id"]},
                headers={"Authorization": f"Bearer {replier}"},
            ) as r:
                reply = await r.json()
            sent[reply["id"]] = started
            await asyncio.sleep(gap_s)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(
            cid in arrivals[k] for cid in sent for k in ("comment", "notification")
        ):
            await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await on_post.close()
        await on_other.close()
    latency = {
        kind: [(arrivals[kind][cid] - t0) * 1000 for cid, t0 in sent.items() if cid in arrivals[kind]]
        for kind in ("comment", "notification")
    }
    return {"replies": replies, "latency_ms": latency}


def run(quick: bool = False, log: Callable[[str], None] = print) -> tuple[list[Row], dict[str, Any]]:
    from benchmarks.e2e import _cdk_out
    from local_runtime.process import RuntimeProcess

    replies = 10 if quick else 60
    with tempfile.TemporaryDirectory(prefix="bench-replies-") as tmp:
        cdk_out = _cdk_out(Path(tmp), log)
        runtime = RuntimeProcess(Path(tmp) / "state", cdk_out, fresh=True, extra=["--wait-warm"])
        log("replies: starting the local runtime ...")
        runtime.start(timeout=180)
        try:
            log(f"replies: {replies} replies, one every 150 ms ...")
            asyncio.run(_measure(runtime.urls, 2, 0.2))  # warm-up: first invocations of each function
            data = asyncio.run(_measure(runtime.urls, replies, 0.15))
        finally:
            runtime.stop()
    comment, notification = data["latency_ms"]["comment"], data["latency_ms"]["notification"]
    stats = {
        kind: {"p50": _pct(values, 50), "p99": _pct(values, 99), "n": len(values)}
        for kind, values in (("comment", comment), ("notification", notification))
    }
    data["stats"] = stats
    ratio50 = stats["notification"]["p50"] / stats["comment"]["p50"] if comment and notification else None
    ratio99 = stats["notification"]["p99"] / stats["comment"]["p99"] if comment and notification else None
    data["ratio_p50"], data["ratio_p99"] = ratio50, ratio99
    complete = stats["comment"]["n"] == replies and stats["notification"]["n"] == replies
    met = (
        complete
        and ratio50 is not None
        and ratio50 < TARGET_RATIO
        and ratio99 is not None
        and ratio99 < TARGET_RATIO
    )
    rows = [
        Row(
            BENCH,
            "comment.created (subscribed connection)",
            n=stats["comment"]["n"],
            seconds=stats["comment"]["p50"] / 1000,
            check=f"p50 {stats['comment']['p50']:.0f} ms, p99 {stats['comment']['p99']:.0f} ms",
            note="reference: the same replies' comment.created, same run",
        ),
        Row(
            BENCH,
            "notification.created (author's other page)",
            n=stats["notification"]["n"],
            seconds=stats["notification"]["p50"] / 1000,
            check=f"p50 {stats['notification']['p50']:.0f} ms, p99 {stats['notification']['p99']:.0f} ms; "
            f"{ratio50 or float('nan'):.2f}x / {ratio99 or float('nan'):.2f}x the comment's",
            target=f"< {TARGET_RATIO:g}x the comment (p50, p99)",
            met="yes" if met else "NO",
            note="" if complete else f"only {stats['notification']['n']}/{replies} arrived",
        ),
    ]
    return rows, data


if __name__ == "__main__":
    from benchmarks.common import render_table

    result_rows, result = run()
    print(render_table(result_rows))
    print(json.dumps(result["stats"], indent=1))
