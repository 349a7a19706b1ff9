"""Presence and typing through the local runtime: viewers in `subscribed`, coalesced `presence`
messages within 2 s of the last change, `typing` to the others only, NOT_SUBSCRIBED."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from local_runtime.process import RuntimeProcess
from tests.e2e.client import WsClient, check_envelope, connect, local_info, token, unique


async def _subscribe(c: WsClient, post_id: str) -> dict[str, Any]:
    n = len(c.messages)
    await c.subscribe(post_id)
    return next(m for m in c.messages[n:] if m["type"] == "subscribed")


def _last_presence(c: WsClient, post_id: str) -> int | None:
    found = [
        m["data"]["viewers"] for m in c.messages if m["type"] == "presence" and m["data"]["postId"] == post_id
    ]
    return found[-1] if found else None


async def _until(check: Any, timeout: float) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def test_viewers_rise_and_fall_and_presence_is_coalesced(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        post_id = unique()
        async with aiohttp.ClientSession() as s:
            users = [unique("viewer") for _ in range(3)]
            tokens = [await token(s, urls, u) for u in users]
            first = await connect(s, urls, tokens[0])
            assert (await _subscribe(first, post_id))["data"] == {"postId": post_id, "viewers": 1}
            await _until(lambda: _last_presence(first, post_id) == 1, 10.0)
            # The same user in a second tab is not a second viewer.
            tab = await connect(s, urls, tokens[0])
            assert (await _subscribe(tab, post_id))["data"]["viewers"] == 1

            others = [await connect(s, urls, t) for t in tokens[1:]]
            for expected, c in enumerate(others, start=2):
                assert (await _subscribe(c, post_id))["data"]["viewers"] == expected
            # Waits are generous for a busy machine; how soon it comes is a benchmark figure
            # (`python -m benchmarks --only presence`), not a test's.
            clients = [first, tab, *others]
            await _until(lambda: all(_last_presence(c, post_id) == 3 for c in clients), 10.0)

            # One leaves by unsubscribing, one by closing: the count falls to 1 everywhere.
            await others[0].send({"action": "unsubscribe", "postId": post_id})
            await others[1].close()
            await _until(lambda: all(_last_presence(c, post_id) == 1 for c in (first, tab)), 10.0)
            for m in first.messages:
                check_envelope(m)
            for c in (first, tab, others[0]):
                await c.close()

    asyncio.run(asyncio.wait_for(scenario(), 40))


def test_presence_messages_are_at_least_a_second_apart(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        post_id = unique()
        async with aiohttp.ClientSession() as s:
            watcher = await connect(s, urls, await token(s, urls, unique("watch")))
            await _subscribe(watcher, post_id)
            churn = []
            for _ in range(6):  # six joins in quick succession
                c = await connect(s, urls, await token(s, urls, unique("churn")))
                await _subscribe(c, post_id)
                churn.append(c)
            await _until(lambda: _last_presence(watcher, post_id) == 7, 10.0)
            # Each message's timestamp is taken right after its flush was claimed, so the
            # timestamps show the server's spacing whatever the delivery jitter.
            stamps = [
                datetime.fromisoformat(m["timestamp"].replace("Z", "+00:00")).timestamp()
                for m in watcher.messages
                if m["type"] == "presence"
            ]
            gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
            assert stamps, watcher.messages
            assert all(gap >= 0.95 for gap in gaps), gaps
            for c in [watcher, *churn]:
                await c.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_typing_reaches_the_others_only_rate_limited_and_needs_a_subscription(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        post_id = unique()
        async with aiohttp.ClientSession() as s:
            alice_name, bob_name = unique("alice"), unique("bob")
            alice_tok, bob_tok = await token(s, urls, alice_name), await token(s, urls, bob_name)
            alice, alice_tab, bob = (
                await connect(s, urls, alice_tok),
                await connect(s, urls, alice_tok),
                await connect(s, urls, bob_tok),
            )
            outsider = await connect(s, urls, await token(s, urls, unique("out")))
            for c in (alice, alice_tab, bob):
                await _subscribe(c, post_id)
            await outsider.subscribe(unique())
            for _ in range(4):
                await alice.send({"action": "typing", "postId": post_id})
            got = await bob.wait_type("typing", 3.0, postId=post_id)
            assert got["data"] == {"postId": post_id, "userId": alice_name}
            await alice_tab.wait_type("typing", 3.0, postId=post_id)  # the sender's other tab too
            await asyncio.sleep(0.5)
            assert len([m for m in bob.messages if m["type"] == "typing"]) == 1  # extras dropped
            assert not [m for m in alice.messages if m["type"] in ("typing", "error")]
            assert not [m for m in outsider.messages if m["type"] == "typing"]

            await outsider.send({"action": "typing", "postId": post_id})
            error = await outsider.wait_type("error", 3.0)
            assert error["data"]["code"] == "NOT_SUBSCRIBED" and error["data"]["action"] == "typing"
            await asyncio.sleep(0.3)
            assert len([m for m in bob.messages if m["type"] == "typing"]) == 1

            await asyncio.sleep(1.6)  # past alice's 2 s window
            await alice.send({"action": "typing", "postId": post_id})
            await bob.wait_for(lambda m: m["type"] == "typing" and m is not got, 3.0)
            assert len([m for m in bob.messages if m["type"] == "typing"]) == 2
            for c in (alice, alice_tab, bob, outsider):
                await c.close()

    asyncio.run(asyncio.wait_for(scenario(), 40))


def test_presence_and_typing_take_fanout_batches_above_the_inline_limit(
    cdk_out: Path, tmp_path: Path
) -> None:
    """Above FANOUT_INLINE_LIMIT recipients, presence and typing go the comments' way: batches on
    the fan-out queue for the fan-out worker (limits lowered locally via --env, as in
    test_lifecycle.py). The queue's record count shows the path: sent inline, a typing would add
    no record and a presence change one (its flush request) instead of 1 + its batches."""

    async def records(s: aiohttp.ClientSession, urls: dict[str, str]) -> int:
        info = await local_info(s, urls)
        return int(next(e for e in info["eventSources"] if e["kind"] == "sqs")["stats"]["records"])

    async def until_records(s: aiohttp.ClientSession, urls: dict[str, str], at_least: int) -> int:
        deadline = time.monotonic() + 10
        while (count := await records(s, urls)) < at_least and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return count

    async def scenario(urls: dict[str, str]) -> None:
        post_id = unique()
        async with aiohttp.ClientSession() as s:
            names = [unique("viewer") for _ in range(3)]
            clients = [await connect(s, urls, await token(s, urls, name)) for name in names]
            for c in clients[:2]:
                await _subscribe(c, post_id)
            await _until(lambda: all(_last_presence(c, post_id) == 2 for c in clients[:2]), 10.0)
            await asyncio.sleep(1.5)  # past the coalescing second: the next change flushes at once
            before = await records(s, urls)
            await _subscribe(clients[2], post_id)  # one change: a flush, then 2 batches of <= 2 ids
            await _until(lambda: all(_last_presence(c, post_id) == 3 for c in clients), 10.0)
            assert await until_records(s, urls, before + 3) >= before + 3

            before = await records(s, urls)
            await clients[0].send({"action": "typing", "postId": post_id})
            for c in clients[1:]:
                got = await c.wait_type("typing", 5.0, postId=post_id)
                assert got["data"] == {"postId": post_id, "userId": names[0]}
            assert await until_records(s, urls, before + 1) >= before + 1  # one batch of the 2 others
            await asyncio.sleep(0.3)
            assert not [m for m in clients[0].messages if m["type"] == "typing"]
            for c in clients:
                await c.close()

    extra = ["--env", "FANOUT_INLINE_LIMIT=1", "--env", "FANOUT_BATCH_SIZE=2", "--wait-warm"]
    with RuntimeProcess(tmp_path / "s", cdk_out, extra=extra) as rt:
        asyncio.run(asyncio.wait_for(scenario(rt.urls), 60))
