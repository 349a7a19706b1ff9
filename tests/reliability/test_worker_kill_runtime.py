"""A function worker killed through the local runtime, with real clients over loopback.

- Mid-invocation: the stream broadcaster's worker is SIGKILLed while it is inside an invocation
  (one of its @connections POSTs is held by the runtime's fault control, so "inside" is certain,
  not a matter of timing). The runtime replaces the worker, the stream mapping retries the batch
  (Runtime.ExitError is a function error), and every committed comment reaches every client:
  some clients may get the interrupted comment twice, never zero times.
- Idle: a warm worker killed between calls leaves the pool and is replaced, so the next request
  is served instead of answering 500 from a dead pipe.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from typing import Any

import aiohttp
import pytest

from tests.e2e.client import connect, get_json, local_info, post_comment, token

from .worker_kill import AFTER, BEFORE, control, kill_scenario, poll

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def kill_run(runtime_urls: dict[str, str]) -> dict[str, Any]:
    return asyncio.run(kill_scenario(runtime_urls, "dynamodb"))


def test_killed_broadcaster_worker_is_replaced_and_its_batch_retried(kill_run: dict[str, Any]) -> None:
    pool = kill_run["pool_after"]
    assert pool["exited"] == 1, pool
    pids = [w["pid"] for w in pool["workers"]]
    assert kill_run["victim"]["pid"] not in pids, pool
    assert pids, "a fresh worker serves the function"
    before, after = kill_run["stats_before"], kill_run["stats_after"]
    assert after["errors"] == before["errors"] + 1, (before, after)  # the killed invocation
    assert after.get("retries", 0) >= before.get("retries", 0) + 1, (before, after)
    assert after["skipped"] == before["skipped"] == 0, (before, after)


def test_no_comment_is_lost_when_a_worker_dies_mid_invocation(kill_run: dict[str, Any]) -> None:
    committed = kill_run["committed"]
    assert len(set(committed)) == BEFORE + 1 + AFTER
    for ids in kill_run["received"]:
        # Deduplicated by id, each client holds exactly what was committed, nothing else.
        assert set(ids) == set(committed), ids
        # At least once; the interrupted comment may have reached a client before the kill.
        duplicates = {i for i in ids if ids.count(i) > 1}
        assert duplicates <= {kill_run["interrupted"]}, duplicates
    assert kill_run["listed"] == committed


async def _idle_scenario(urls: dict[str, str]) -> dict[str, Any]:
    post_id = f"idle-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession() as session:
        writer = await token(session, urls, "idle-writer")
        status, _ = await post_comment(session, urls, writer, post_id, "warm it")
        assert status == 201
        info = await local_info(session, urls)
        http_fns = {lid for lid in info["functions"] if lid.startswith("CommentsApiCommentsFunction")}
        assert len(http_fns) == 1, info["functions"]
        function = http_fns.pop()
        pool = (await get_json(session, urls, "/__local/functions"))["functions"][function]
        idle = [w for w in pool["workers"] if not w["busy"]]
        assert idle, pool
        for worker in idle:
            os.kill(worker["pid"], signal.SIGKILL)
        killed = {w["pid"] for w in idle}

        async def replaced() -> dict[str, Any] | None:
            now = (await get_json(session, urls, "/__local/functions"))["functions"][function]
            pids = {w["pid"] for w in now["workers"]}
            ok = (
                now["exited"] >= pool["exited"] + len(idle)
                and now["replaced"] >= pool["replaced"] + 1
                and pids
                and not pids & killed
            )
            return now if ok else None

        after = await poll("idle workers replaced", replaced, 60)
        status, body = await post_comment(session, urls, writer, post_id, "served by the replacement")
    return {"before": pool, "after": after, "status": status, "body": body, "killed": killed}


def test_idle_worker_killed_is_replaced_before_the_next_call(runtime_urls: dict[str, str]) -> None:
    run = asyncio.run(_idle_scenario(runtime_urls))
    assert run["status"] == 201, run  # a dead worker left in the pool would have answered 500
    assert run["after"]["workers"], run


async def _held_then_delivered(urls: dict[str, str]) -> dict[str, Any]:
    post_id = f"held-{uuid.uuid4().hex[:8]}"
    marker = f"HELD-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession() as session:
        writer = await token(session, urls, "held-writer")
        client = await connect(session, urls, await token(session, urls, "held-reader"))
        await client.subscribe(post_id)
        await control(session, urls, "/__local/faults", {"marker": marker, "count": 1, "delayMs": 400})
        started = time.monotonic()
        status, body = await post_comment(session, urls, writer, post_id, f"held {marker}")
        assert status == 201, body
        await client.wait_type("comment.created", timeout=30, comment__id=body["id"])
        took = time.monotonic() - started
        faults = await get_json(session, urls, "/__local/faults")
        await client.close()
    return {"took": took, "faults": faults, "marker": marker}


def test_a_held_post_without_a_status_is_delivered_after_the_delay(runtime_urls: dict[str, str]) -> None:
    run = asyncio.run(_held_then_delivered(runtime_urls))
    assert run["took"] >= 0.4, run
    assert run["faults"]["held"] == 0
    assert [r for r in run["faults"]["rules"] if r["marker"] == run["marker"]][0]["count"] == 0
