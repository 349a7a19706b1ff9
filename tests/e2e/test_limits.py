"""The abuse limits through the local runtime, with the dev stage's defaults (docs/security.md)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from realtime_comments.limits.connection_slots import CONNECT_GRACE_SECONDS, slots_key

from tests.e2e.client import (
    connect,
    connect_status,
    connections_table,
    data_client,
    local_info,
    token,
    unique,
)


def test_the_11th_connection_of_a_user_never_opens_until_one_closes(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            user = unique("many-tabs")
            tok = await token(s, urls, user)
            clients = [await connect(s, urls, tok) for _ in range(10)]
            assert await connect_status(s, urls, tok) == 429
            other = await token(s, urls, unique("other-user"))
            assert await connect_status(s, urls, other) == 101
            info = await local_info(s, urls)
            ddb, table = data_client(info, "dynamodb"), connections_table(info)

            def slots() -> dict[str, int]:
                item = ddb.get_item(TableName=table, Key=slots_key(user), ConsistentRead=True)["Item"]
                return {held: int(expires["N"]) for held, expires in item["slots"]["M"].items()}

            def connection_item(connection_id: str) -> Any:
                key = {"connectionId": {"S": connection_id}, "sk": {"S": "connection"}}
                return ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

            held = set(slots())
            await clients.pop().close()
            # The runtime runs $disconnect right after the close: wait for the connection item to go.
            closed: set[str] = set()
            for _ in range(100):
                closed = {connection_id for connection_id in held if connection_item(connection_id) is None}
                if closed:
                    break
                await asyncio.sleep(0.05)
            (tab,) = closed
            # Its slot stays, and the tab opened less than the grace ago: it still counts.
            assert set(slots()) == held
            assert await connect_status(s, urls, tok) == 429
            # Stand-in for waiting out the grace: the slot's claim moves that far into the past.
            ddb.update_item(
                TableName=table,
                Key=slots_key(user),
                UpdateExpression="SET slots.#tab = :expires ADD version :one",
                ExpressionAttributeNames={"#tab": tab},
                ExpressionAttributeValues={
                    ":expires": {"N": str(slots()[tab] - CONNECT_GRACE_SECONDS - 1)},
                    ":one": {"N": "1"},
                },
            )
            clients.append(await connect(s, urls, tok))
            now_held = set(slots())
            assert tab not in now_held and len(now_held) == 10 and held - {tab} < now_held
            assert await connect_status(s, urls, tok) == 429
            for client in clients:
                await client.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


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
