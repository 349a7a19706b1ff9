"""Load on the local runtime: many concurrent WebSocket clients with churn and a steady comment rate.

Every comment must reach every client that stayed connected, and every client that dropped and
came back with ``subscribe`` + ``since`` must hold every comment after its dedupe by id. Bounded:
LOAD_CLIENTS (default 500) clients, LOAD_SECONDS (default 15) of comments at LOAD_RATE (2/s),
10 % of the clients churn. That is 1,000 deliveries/s, a fifth of what `make bench` measures the
runtime to sustain on a quiet 2-core machine and under half of it with one core taken, so the
test checks the contract (nothing lost, no duplicate after dedupe), not the capacity. It waits
for delivery as long as the backlog still shrinks, up to a hard bound; the test stops by itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks.e2e import users_for, writers_for

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = int(os.environ.get("LOAD_CLIENTS", "500"))
STALL_SECONDS = 15.0  # no delivery progress for this long: stop waiting
MAX_WAIT_SECONDS = 120.0
SECONDS = float(os.environ.get("LOAD_SECONDS", "15"))
RATE = float(os.environ.get("LOAD_RATE", "2"))
CHURN = 0.10

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(420)]


class Client:
    def __init__(self, index: int, churns: bool) -> None:
        self.index = index
        self.churns = churns
        self.live: list[str] = []  # ids of comment.created, in arrival order (duplicates kept)
        self.recovered: list[str] = []  # ids from comments.list after a resubscribe with since
        self.max_seq = 0
        self.subscribed = asyncio.Event()
        self.reconnects = 0
        self.errors: list[str] = []

    def ids(self) -> set[str]:
        return set(self.live) | set(self.recovered)


class Clock:
    posting_started: float | None = None


async def _session_loop(
    client: Client,
    session: Any,
    url: str,
    post_id: str,
    stop: asyncio.Event,
    churn_offset: float | None,
    clock: Clock,
) -> None:
    import aiohttp

    since: int | None = None
    while not stop.is_set():
        try:
            ws = await session.ws_connect(url, heartbeat=None, max_msg_size=0)
        except (TimeoutError, aiohttp.ClientError) as exc:
            client.errors.append(repr(exc))
            await asyncio.sleep(0.5)
            continue
        subscribe: dict[str, Any] = {"action": "subscribe", "postId": post_id}
        if since is not None:
            subscribe["since"] = since
        await ws.send_str(json.dumps(subscribe))
        dropped = False
        try:
            while not stop.is_set():
                timeout = None
                if churn_offset is not None:
                    started = clock.posting_started
                    timeout = 0.5 if started is None else max(0.01, started + churn_offset - time.monotonic())
                try:
                    message = await ws.receive(timeout=timeout)
                except TimeoutError:
                    if clock.posting_started is None or churn_offset is None:
                        continue
                    if time.monotonic() < clock.posting_started + churn_offset:
                        continue
                    dropped = True  # churn: vanish, then come back with since
                    break
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(message.data)
                kind = data.get("type")
                if kind == "comment.created":
                    comment = data["data"]["comment"]
                    client.live.append(comment["id"])
                    client.max_seq = max(client.max_seq, int(comment["seq"]))
                elif kind == "comments.list":
                    comments = data["data"]["comments"]
                    if since is not None:
                        client.recovered.extend(c["id"] for c in comments)
                        assert not data["data"].get("hasMore"), "more than a page missed"
                    for c in comments:
                        client.max_seq = max(client.max_seq, int(c["seq"]))
                    client.subscribed.set()
        finally:
            await ws.close()
        if not dropped:
            return
        client.reconnects += 1
        churn_offset = None
        since = client.max_seq
        await asyncio.sleep(random.uniform(0.3, 1.5))  # noqa: S311 - test jitter


async def _wait_for_backlog(clients: list[Client], expected: set[str]) -> None:
    """Until every client holds every comment, or no client gained one for STALL_SECONDS."""
    started = last_progress = time.monotonic()
    missing = sum(len(expected - c.ids()) for c in clients)
    while missing and time.monotonic() - started < MAX_WAIT_SECONDS:
        await asyncio.sleep(0.25)
        now_missing = sum(len(expected - c.ids()) for c in clients)
        if now_missing < missing:
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > STALL_SECONDS:
            return
        missing = now_missing


async def _token(session: Any, urls: dict[str, str], username: str) -> str:
    async with session.post(urls["tokenUrl"], json={"username": username}) as response:
        return str((await response.json())["token"])


async def _load(urls: dict[str, str]) -> dict[str, Any]:
    import aiohttp

    random.seed(7)
    post_id = f"load-{os.getpid()}-{int(time.time())}"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Enough distinct users to stay inside the per-user limits of the stage (10 connections
        # and 5 comment writes per second each; docs/security.md).
        tokens = [await _token(session, urls, f"load-{i}") for i in range(users_for(CLIENTS))]
        writers = [await _token(session, urls, f"load-writer-{i}") for i in range(writers_for(RATE))]
        stop = asyncio.Event()
        clock = Clock()
        clients = [Client(i, churns=i % int(1 / CHURN) == 0) for i in range(CLIENTS)]
        tasks = []
        semaphore = asyncio.Semaphore(100)

        async def start(client: Client) -> None:
            async with semaphore:
                url = f"{urls['websocketUrl']}?token={tokens[client.index % len(tokens)]}"
                offset = random.uniform(0.2, SECONDS * 0.7) if client.churns else None  # noqa: S311
                tasks.append(
                    asyncio.create_task(_session_loop(client, session, url, post_id, stop, offset, clock))
                )
                await asyncio.wait_for(client.subscribed.wait(), timeout=60)

        connect_started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(start(c) for c in clients)), timeout=150)
        connect_s = time.monotonic() - connect_started
        clock.posting_started = time.monotonic()

        posted: list[dict[str, Any]] = []
        statuses: dict[int, int] = {}
        n = int(SECONDS * RATE)
        begin = time.monotonic()
        for i in range(n):
            delay = begin + i / RATE - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            async with session.post(
                f"{urls['apiUrl'].rstrip('/')}/api/v1/posts/{post_id}/comments",
                headers={
                    "Authorization": f"Bearer {writers[i % len(writers)]}",
                    "Content-Type": "application/json",
                },
                data=json.dumps({"content": f"load {i}"}),
            ) as response:
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if response.status == 201:
                    posted.append(await response.json())
        expected = {c["id"] for c in posted}
        await _wait_for_backlog(clients, expected)
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"clients": clients, "expected": expected, "statuses": statuses, "connect_s": connect_s, "n": n}


def test_every_comment_reaches_every_client_through_churn(runtime_urls: dict[str, str]) -> None:
    result = asyncio.run(_load(runtime_urls))
    clients: list[Client] = result["clients"]
    expected: set[str] = result["expected"]
    assert result["statuses"] == {201: result["n"]}, result["statuses"]
    missing = {c.index: len(expected - c.ids()) for c in clients if expected - c.ids()}
    assert not missing, f"{len(missing)} clients missed comments: {dict(list(missing.items())[:10])}"
    churned = [c for c in clients if c.churns]
    assert sum(c.reconnects for c in churned) >= len(churned) * 0.9, "the churners did reconnect"
    # After the client's dedupe by id every comment is there once; the live stream itself may repeat
    # a comment (at-least-once), which the dedupe absorbs.
    for client in clients:
        assert len(client.ids() & expected) == len(expected)
