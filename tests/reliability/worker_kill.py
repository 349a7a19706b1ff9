"""What the worker-kill tests through the local runtime share (test_worker_kill_*.py): the
runtime's controls, a backlog wait, and the scenario of a worker SIGKILLed mid-invocation."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

from tests.e2e.client import WsClient, connect, get_json, local_info, post_comment, token

CLIENTS = 3
BEFORE, AFTER = 5, 10  # comments POSTed before and after the one whose delivery is interrupted


async def control(session: aiohttp.ClientSession, urls: dict[str, str], path: str, body: Any) -> None:
    async with session.post(f"{urls['apiUrl'].rstrip('/')}{path}", json=body) as response:
        assert response.status == 200, await response.text()


async def poll(what: str, probe: Any, timeout: float) -> Any:
    """Poll ``probe()`` until it returns something truthy (a backlog wait, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        got = await probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(0.05)


def comment_ids(client: WsClient, post_id: str) -> list[str]:
    """Every comment id a client was sent for ``post_id``, live or in a list, duplicates kept."""
    ids: list[str] = []
    for message in client.messages:
        data = message.get("data") or {}
        if message.get("type") == "comment.created" and data.get("comment", {}).get("postId") == post_id:
            ids.append(data["comment"]["id"])
        elif message.get("type") == "comments.list" and data.get("postId") == post_id:
            ids += [c["id"] for c in data["comments"]]
    return ids


async def wait_for_backlog(clients: list[WsClient], post_id: str, committed: set[str], base: float) -> None:
    """Until every client holds every committed id; the deadline grows with the backlog."""

    async def everyone() -> bool:
        return all(committed <= set(comment_ids(c, post_id)) for c in clients)

    try:
        await poll("every committed comment at every client", everyone, base + 0.5 * len(committed))
    except AssertionError:
        missing = [sorted(committed - set(comment_ids(c, post_id))) for c in clients]
        raise AssertionError(f"missing per client: {missing}") from None


def busy_pool(info: dict[str, Any], functions: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    """The one function behind a ``kind`` event source mapping with an invocation in flight."""
    mapped = {s["function"] for s in info["eventSources"] if s["kind"] == kind}
    busy = [
        (lid, pool)
        for lid, pool in functions.items()
        if lid in mapped and any(w["busy"] for w in pool["workers"])
    ]
    assert len(busy) == 1, (mapped, functions)
    return busy[0]


async def mapping_stats(
    session: aiohttp.ClientSession, urls: dict[str, str], function: str
) -> dict[str, int]:
    info = await local_info(session, urls)
    return next(s["stats"] for s in info["eventSources"] if s["function"] == function)


async def kill_scenario(
    urls: dict[str, str], kind: str, prepare: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Subscribers, comments before; then the one whose delivery by the ``kind`` mapping's
    function is held, that worker SIGKILLed mid-invocation; comments after; every client waited
    on until it holds every committed id. ``prepare(info)`` runs first (e.g. queue settings)."""
    post_id = f"kill-{uuid.uuid4().hex[:8]}"
    marker = f"KILL-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession() as session:
        writer = await token(session, urls, "kill-writer")
        clients = []
        for i in range(CLIENTS):
            client = await connect(session, urls, await token(session, urls, f"kill-reader-{i}"))
            await client.subscribe(post_id)
            clients.append(client)
        committed: list[str] = []

        async def write(content: str) -> None:
            status, body = await post_comment(session, urls, writer, post_id, content)
            assert status == 201, (status, body)
            committed.append(body["id"])
            await asyncio.sleep(0.25)  # inside the per-user write limit (5/s)

        for i in range(BEFORE):
            await write(f"before {i}")
        await wait_for_backlog(clients, post_id, set(committed), base=30)
        # The first @connections POST carrying the marker is held (then answered 503): its
        # sender stays inside that invocation until the worker is killed.
        await control(
            session, urls, "/__local/faults", {"marker": marker, "count": 1, "delayMs": 60_000, "status": 503}
        )
        info = await local_info(session, urls)
        if prepare is not None:
            await asyncio.to_thread(prepare, info)
        await write(f"interrupted {marker}")
        interrupted = committed[-1]

        async def held() -> bool:
            return (await get_json(session, urls, "/__local/faults"))["held"] >= 1

        await poll("the marked POST held", held, 30)
        functions = (await get_json(session, urls, "/__local/functions"))["functions"]
        function, pool = busy_pool(info, functions, kind)
        before_stats = await mapping_stats(session, urls, function)
        victims = [w for w in pool["workers"] if w["busy"]]
        assert len(victims) == 1, pool
        victim = victims[0]
        os.kill(victim["pid"], signal.SIGKILL)
        for i in range(AFTER):
            await write(f"after {i}")
        await wait_for_backlog(clients, post_id, set(committed), base=60)
        after_pool = (await get_json(session, urls, "/__local/functions"))["functions"][function]
        after_stats = await mapping_stats(session, urls, function)
        await control(session, urls, "/__local/faults", {"marker": marker, "count": 0})
        async with session.get(f"{urls['apiUrl'].rstrip('/')}/api/v1/posts/{post_id}/comments") as response:
            listed = [c["id"] for c in (await response.json())["comments"]]
        received = [comment_ids(c, post_id) for c in clients]
        for client in clients:
            await client.close()
    return {
        "committed": committed,
        "interrupted": interrupted,
        "victim": victim,
        "pool_after": after_pool,
        "stats_before": before_stats,
        "stats_after": after_stats,
        "received": received,
        "listed": listed,
        "info": info,
    }
