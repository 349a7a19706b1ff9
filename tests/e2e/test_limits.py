"""The abuse limits through the local runtime, with the dev stage's defaults (docs/security.md)."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from tests.e2e.client import connect, connect_status, token, unique


def test_the_11th_connection_of_a_user_never_opens_until_one_closes(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            tok = await token(s, urls, unique("many-tabs"))
            clients = [await connect(s, urls, tok) for _ in range(10)]
            assert await connect_status(s, urls, tok) == 429
            other = await token(s, urls, unique("other-user"))
            assert await connect_status(s, urls, other) == 101
            await clients.pop().close()
            # $disconnect gives the slot back; the runtime runs it right after the close.
            for _ in range(100):
                status = await connect_status(s, urls, tok)
                if status == 101:
                    break
                await asyncio.sleep(0.05)
            assert status == 101
            for client in clients:
                await client.close()

    asyncio.run(scenario())


def test_comment_writes_beyond_the_burst_get_429_and_reach_no_one(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        post_id = unique()
        async with aiohttp.ClientSession() as s:
            writer = await token(s, urls, unique("fast-writer"))
            reader = await connect(s, urls, await token(s, urls, unique("reader")))
            await reader.subscribe(post_id)
            headers = {"Authorization": f"Bearer {writer}", "Content-Type": "application/json"}

            async def write(i: int) -> int:
                async with s.post(
                    f"{urls['apiUrl']}/api/v1/posts/{post_id}/comments",
                    headers=headers,
                    data=json.dumps({"content": f"c{i}"}),
                ) as response:
                    if response.status == 429:
                        assert int(response.headers["Retry-After"]) >= 1
                        assert (await response.json())["error"]["code"] == "RATE_LIMITED"
                    return response.status

            # Bursts of 30 at once, far above 5 per second, until one is refused (a busy machine
            # may refill the bucket during the first burst).
            statuses: list[int] = []
            for burst in range(5):
                statuses += await asyncio.gather(*(write(burst * 30 + i) for i in range(30)))
                if 429 in statuses:
                    break
            accepted = statuses.count(201)
            assert accepted >= 20 and set(statuses) == {201, 429}, statuses
            await reader.wait_for(
                lambda m: m["type"] == "comment.created" and m["data"]["comment"]["seq"] == accepted, 10
            )
            await asyncio.sleep(0.5)
            seqs = [m["data"]["comment"]["seq"] for m in reader.messages if m["type"] == "comment.created"]
            assert sorted(set(seqs)) == list(range(1, accepted + 1))  # refused writes left no gap
            await reader.close()

    asyncio.run(scenario())
