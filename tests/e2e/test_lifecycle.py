"""Runtime lifecycle: restart keeps data (without re-broadcasting it), idle and max-duration limits."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp

from local_runtime.process import RuntimeProcess
from tests.e2e.client import connect, local_info, post_comment, token, unique


def test_restart_keeps_comments_and_does_not_rebroadcast(cdk_out: Path, tmp_path: Path) -> None:
    post_id = unique()
    state = tmp_path / "state"

    async def write(urls: dict[str, str]) -> list[dict]:
        async with aiohttp.ClientSession() as s:
            tok = await token(s, urls, "mia")
            out = []
            for i in range(3):
                status, body = await post_comment(s, urls, tok, post_id, f"persist {i}")
                assert status == 201
                out.append(body)
            return out

    async def read(urls: dict[str, str]) -> tuple[list[dict], list[dict], str]:
        async with aiohttp.ClientSession() as s:
            tok = await token(s, urls, "mia")
            c = await connect(s, urls, tok)
            await c.subscribe(post_id)
            async with s.get(f"{urls['apiUrl']}/api/v1/posts/{post_id}/comments") as r:
                body = await r.json()
            status, new = await post_comment(s, urls, tok, post_id, "after restart")
            assert status == 201
            await c.wait_type("comment.created", 3, postId=post_id)
            await asyncio.sleep(0.3)
            created = [m for m in c.messages if m["type"] == "comment.created"]
            await c.close()
            return body["comments"], created, new["seq"]

    with RuntimeProcess(state, cdk_out, fresh=True) as rt1:
        written = asyncio.run(asyncio.wait_for(write(rt1.urls), 30))
        old_token_file = json.loads((state / "endpoints.json").read_text())
        assert old_token_file == rt1.urls
    assert (state / "snapshot.json").exists()
    with RuntimeProcess(state, cdk_out, fresh=False) as rt2:
        comments, created, seq = asyncio.run(asyncio.wait_for(read(rt2.urls), 30))
    assert comments == written
    assert seq == 4  # the per-post counter survived too
    assert len(created) == 1 and created[0]["data"]["comment"]["content"] == "after restart"


def test_the_runtime_runs_on_asyncios_own_loop_too(
    cdk_out: Path, tmp_path: Path, runtime: RuntimeProcess
) -> None:
    """Every other test runs on the default loop (uvloop); `--event-loop asyncio` must work as well."""
    assert "event loop: uvloop" in runtime.log_path.read_text()
    post_id = unique()

    async def scenario(urls: dict[str, str]) -> None:
        async with aiohttp.ClientSession() as s:
            tok = await token(s, urls, "ola")
            c = await connect(s, urls, tok)
            await c.subscribe(post_id)
            status, body = await post_comment(s, urls, tok, post_id, "on asyncio")
            assert status == 201
            got = await c.wait_type("comment.created", 10, postId=post_id)
            assert got["data"]["comment"]["id"] == body["id"]
            await c.close()

    with RuntimeProcess(tmp_path / "s", cdk_out, extra=["--event-loop", "asyncio"]) as rt:
        asyncio.run(asyncio.wait_for(scenario(rt.urls), 30))
        assert "event loop: asyncio" in rt.log_path.read_text()


def test_idle_timeout_and_max_duration(cdk_out: Path, tmp_path: Path) -> None:
    async def scenario(urls: dict[str, str]) -> None:
        async with aiohttp.ClientSession() as s:
            tok = await token(s, urls, "ned")
            idle = await connect(s, urls, tok)
            busy = await connect(s, urls, tok)
            t0 = time.monotonic()
            for _ in range(6):  # keep `busy` active, let `idle` idle
                await asyncio.sleep(0.4)
                await busy.send({"action": "ping"})
            assert await idle.wait_closed(3) == 1001
            assert 1.0 <= time.monotonic() - t0 < 2.6
            assert await busy.wait_closed(5) == 1001  # max duration reached despite activity
            assert time.monotonic() - t0 >= 3.0

    with RuntimeProcess(
        tmp_path / "s", cdk_out, extra=["--idle-timeout", "1.2", "--max-connection-duration", "3.2"]
    ) as rt:
        asyncio.run(asyncio.wait_for(scenario(rt.urls), 30))


def test_fanout_through_the_sqs_queue(cdk_out: Path, tmp_path: Path) -> None:
    """Above FANOUT_INLINE_LIMIT recipients the broadcaster enqueues batches to the fan-out queue,
    whose SQS event source mapping invokes the fan-out worker (limits lowered locally via --env)."""

    async def scenario(urls: dict[str, str]) -> None:
        post_id = unique()
        async with aiohttp.ClientSession() as s:
            tok = await token(s, urls, "olly")
            clients = [await connect(s, urls, tok) for _ in range(3)]
            for c in clients:
                await c.subscribe(post_id)
            status, comment = await post_comment(s, urls, tok, post_id, "fan me out")
            assert status == 201
            for c in clients:
                m = await c.wait_type("comment.created", 5, postId=post_id)
                assert m["data"]["comment"] == comment
            info = await local_info(s, urls)
            sqs = next(e for e in info["eventSources"] if e["kind"] == "sqs")["stats"]
            assert sqs["invocations"] >= 1 and sqs["errors"] == 0  # delivered through the queue
            for c in clients:
                await c.close()

    extra = ["--env", "FANOUT_INLINE_LIMIT=1", "--env", "FANOUT_BATCH_SIZE=2", "--wait-warm"]
    with RuntimeProcess(tmp_path / "s", cdk_out, extra=extra) as rt:
        asyncio.run(asyncio.wait_for(scenario(rt.urls), 40))
