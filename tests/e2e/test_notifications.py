"""Notifications through the local runtime: a reply reaches its parent's author on every open
connection (whatever they subscribe to), once in the store, and REST lists and marks it."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.e2e.client import check_envelope, connect, post_comment, token, unique


async def _api(s: aiohttp.ClientSession, urls: dict[str, str], method: str, path: str, tok: str, **kw: Any):
    async with s.request(
        method, f"{urls['apiUrl']}{path}", headers={"Authorization": f"Bearer {tok}"}, **kw
    ) as r:
        return r.status, await r.json()


def test_reply_notifies_the_parent_author_everywhere_and_rest_lists_and_marks(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        post_id, elsewhere = unique(), unique()
        author, replier = unique("author"), unique("replier")
        async with aiohttp.ClientSession() as s:
            alice, bob = await token(s, urls, author), await token(s, urls, replier)
            # Alice has two tabs: one on another post, one subscribed to nothing.
            tab1, tab2 = await connect(s, urls, alice), await connect(s, urls, alice)
            await tab1.subscribe(elsewhere)
            bobs = await connect(s, urls, bob)
            _, parent = await post_comment(s, urls, alice, post_id, "parent")
            _, own = await post_comment(s, urls, bob, post_id, "bob's own")
            await post_comment(s, urls, bob, post_id, "reply to self", parent_id=own["id"])
            _, reply = await post_comment(s, urls, bob, post_id, "reply", parent_id=parent["id"])

            got = await asyncio.gather(*(t.wait_type("notification.created", 3.0) for t in (tab1, tab2)))
            for message in got:
                check_envelope(message)
                notification = message["data"]["notification"]
                assert set(notification) == {
                    "id",
                    "type",
                    "postId",
                    "commentId",
                    "parentId",
                    "actorId",
                    "createdAt",
                    "read",
                }, notification  # the contract's stored shape, nothing more
                assert notification["commentId"] == reply["id"] and notification["parentId"] == parent["id"]
                assert notification["actorId"] == replier and notification["postId"] == post_id
                assert notification["type"] == "reply" and notification["read"] is False
            await asyncio.sleep(0.5)
            # Exactly one each; none for Bob's reply to himself, none to Bob.
            for t in (tab1, tab2):
                assert len([m for m in t.messages if m["type"] == "notification.created"]) == 1
            assert not [m for m in bobs.messages if m["type"] == "notification.created"]

            status, page = await _api(s, urls, "GET", "/api/v1/notifications", alice)
            assert status == 200 and page["unreadCount"] == 1 and page["nextCursor"] is None
            assert page["notifications"] == [got[0]["data"]["notification"]]
            status, other = await _api(s, urls, "GET", "/api/v1/notifications", bob)
            assert other == {"notifications": [], "unreadCount": 0, "nextCursor": None}

            # Bob cannot mark Alice's; Alice can.
            nid = page["notifications"][0]["id"]
            assert await _api(s, urls, "POST", "/api/v1/notifications/read", bob, json={"ids": [nid]}) == (
                200,
                {"unreadCount": 0},
            )
            assert (await _api(s, urls, "GET", "/api/v1/notifications", alice))[1]["unreadCount"] == 1
            status, body = await _api(
                s, urls, "POST", "/api/v1/notifications/read", alice, json={"all": True}
            )
            assert status == 200 and body == {"unreadCount": 0}
            status, page = await _api(s, urls, "GET", "/api/v1/notifications", alice)
            assert page["notifications"][0]["read"] is True and page["unreadCount"] == 0
            status, body = await _api(s, urls, "POST", "/api/v1/notifications/read", alice, json={"ids": []})
            assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR"
            async with s.get(f"{urls['apiUrl']}/api/v1/notifications") as r:
                assert r.status == 401
            for c in (tab1, tab2, bobs):
                await c.close()

    asyncio.run(asyncio.wait_for(scenario(), 40))
