"""``python -m benchmarks.fake_runtime``: the measurement floor of the end-to-end benchmark.

A stand-in for the local runtime with no runtime in it: one aiohttp server (loopback, free port)
that answers ``POST /dev/token``, accepts WebSocket clients (``subscribe`` -> ``comments.list``),
and on ``POST /api/v1/posts/{postId}/comments`` answers 201 and sends a ``comment.created`` frame
of the real envelope's shape to every subscriber of the post at once. No functions, no DynamoDB,
no stream. Driven by the same load generator (benchmarks/e2e.py), it shows what this machine can
measure right now: latencies and lost deliveries that the harness alone produces.

Prints ``READY {json}`` like ``python -m local_runtime``; stops on SIGTERM/SIGINT and after
``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import Any


def _comment(post_id: str, content: str, seq: int) -> str:
    comment = {  # the fields of Comment.to_api() (lambdas/realtime_comments/comments/model.py)
        "id": f"01JBENCHFAKE{seq:014d}",
        "postId": post_id,
        "content": content,
        "userId": "00000000-0000-4000-8000-000000000000",
        "createdAt": "2026-01-01T00:00:00.000Z",
        "seq": seq,
    }
    message = {
        "type": "comment.created",
        "data": {"comment": comment},
        "timestamp": "2026-01-01T00:00:00.000Z",
    }
    return json.dumps(message, separators=(",", ":"))


async def serve(host: str, max_seconds: float) -> None:
    from aiohttp import WSMsgType, web

    subscribers: dict[str, set[Any]] = {}
    seq = 0

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"token": "fake", "userId": "fake", "expiresIn": 3600})

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    break
                try:
                    body = json.loads(message.data)
                except ValueError:
                    continue
                if isinstance(body, dict) and body.get("action") == "subscribe":
                    post_id = str(body.get("postId"))
                    subscribers.setdefault(post_id, set()).add(ws)
                    data = {"postId": post_id, "comments": [], "count": 0, "hasMore": False}
                    await ws.send_str(json.dumps({"type": "comments.list", "data": data}))
        finally:
            for group in subscribers.values():
                group.discard(ws)
        return ws

    async def post(request: web.Request) -> web.Response:
        nonlocal seq
        seq += 1
        post_id = request.match_info["postId"]
        body = await request.json()
        frame = _comment(post_id, str(body.get("content", "")), seq)
        for ws in list(subscribers.get(post_id, ())):
            if not ws.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_str(frame)
        return web.json_response({"seq": seq}, status=201)

    async def count(request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok", "count": len({ws for g in subscribers.values() for ws in g})}
        )

    app = web.Application()
    app.add_routes(
        [
            web.post("/dev/token", token),
            web.get("/", websocket),
            web.post("/api/v1/posts/{postId}/comments", post),
            web.get("/api/v1/websocket/connections", count),
        ]
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://{host}:{port}"
    urls = {
        "websocketUrl": f"ws://{host}:{port}",
        "callbackUrl": base,
        "apiUrl": base,
        "tokenUrl": f"{base}/dev/token",
        "frontendUrl": "",
    }
    print("READY " + json.dumps(urls), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), timeout=max_seconds)
    except TimeoutError:
        print(f"fake_runtime: {max_seconds:g}s elapsed, stopping", file=sys.stderr)
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fake_runtime")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--max-seconds", type=float, default=900.0)
    args, _ = parser.parse_known_args(argv)  # the local runtime's flags are accepted and ignored
    asyncio.run(serve(args.host, args.max_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
