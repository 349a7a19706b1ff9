"""Presence and typing through the local runtime: viewers in `subscribed`, coalesced `presence`
messages within 2 s of the last change, `typing` to the others only, NOT_SUBSCRIBED."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from tests.e2e.client import WsClient, check_envelope, connect, token, unique


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
            await _until(lambda: _last_presence(first, post_id) == 1, 2.0)
            # The same user in a second tab is not a second viewer.
            tab = await connect(s, urls, tokens[0])
            assert (await _subscribe(tab, post_id))["data"]["viewers"] == 1

            others = [await connect(s, urls, t) for t in tokens[1:]]
            for expected, c in enumerate(others, start=2):
                assert (await _subscribe(c, post_id))["data"]["viewers"] == expected
            changed = time.monotonic()
            clients = [first, tab, *others]
            await _until(lambda: all(_last_presence(c, post_id) == 3 for c in clients), 2.5)
            assert time.monotonic() - changed < 2.0  # within 2 s of the last change

            # One leaves by unsubscribing, one by closing: the count falls to 1 everywhere.
            await others[0].send({"action": "unsubscribe", "postId": post_id})
            await others[1].close()
            changed = time.monotonic()
            await _until(lambda: all(_last_presence(c, post_id) == 1 for c in (first, tab)), 3.0)
            assert time.monotonic() - changed < 2.5

            # Never more than one presence message per second for the post.
            stamps = [m["timestamp"] for m in first.messages if m["type"] == "presence"]
            arrivals = sorted(stamps)
            assert len(arrivals) == len(set(arrivals))
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
            arrivals: list[float] = []
            seen = 0

            async def record() -> None:
                nonlocal seen
                while True:
                    fresh = [m for m in watcher.messages if m["type"] == "presence"][seen:]
                    arrivals.extend(time.monotonic() for _ in fresh)
                    seen += len(fresh)
                    await asyncio.sleep(0.01)

            recorder = asyncio.create_task(record())
            churn = []
            for _ in range(6):  # six joins in about 0.6 s
                c = await connect(s, urls, await token(s, urls, unique("churn")))
                await _subscribe(c, post_id)
                churn.append(c)
                await asyncio.sleep(0.1)
            await _until(lambda: _last_presence(watcher, post_id) == 7, 3.0)
            await asyncio.sleep(1.2)
            recorder.cancel()
            gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
            assert len(arrivals) <= 3, arrivals  # 1 + at most one per further second of churn
            assert all(gap > 0.8 for gap in gaps), gaps  # 1 s apart, less the delivery jitter
            for c in [watcher, *churn]:
                await c.close()

    asyncio.run(asyncio.wait_for(scenario(), 40))


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
