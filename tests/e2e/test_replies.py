"""Replies through the local runtime: parentId everywhere, INVALID_PARENT, tombstones on delete."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.e2e.client import check_comment, connect, post_comment, token, unique


def test_reply_nests_and_a_deleted_parent_stays_as_a_tombstone(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        post_id = unique()
        async with aiohttp.ClientSession() as s:
            alice, bob = await token(s, urls, "alice"), await token(s, urls, "bob")
            watcher = await connect(s, urls, bob)
            await watcher.subscribe(post_id)
            _, parent = await post_comment(s, urls, alice, post_id, "parent")
            status, reply = await post_comment(s, urls, bob, post_id, "reply", parent_id=parent["id"])
            assert status == 201 and reply["parentId"] == parent["id"], reply
            check_comment(reply)
            created = await watcher.wait_type("comment.created", comment__id=reply["id"])
            assert created["data"]["comment"] == reply

            # A claim on the parent is bookkeeping: subscribers see no comment.updated for it.
            late = await connect(s, urls, bob)
            listed = await late.subscribe(post_id)
            assert [c.get("parentId") for c in listed["data"]["comments"]] == [None, parent["id"]]

            async with s.delete(
                f"{urls['apiUrl']}/api/v1/posts/{post_id}/comments/{parent['id']}",
                headers={"Authorization": f"Bearer {alice}"},
            ) as r:
                assert r.status == 204
            deleted = await watcher.wait_type("comment.deleted", postId=post_id)
            tombstone = deleted["data"]["comment"]
            assert deleted["data"]["commentId"] == parent["id"]
            assert tombstone["deleted"] is True and tombstone["content"] == "" and tombstone["seq"] == 1
            check_comment(tombstone)
            async with s.get(f"{urls['apiUrl']}/api/v1/posts/{post_id}/comments") as r:
                page = await r.json()
            assert page["comments"] == [tombstone, reply]
            assert not [m for m in watcher.messages if m["type"] == "comment.updated"]

            # A reply to the tombstone, to another post's comment, or to garbage writes nothing.
            _, elsewhere = await post_comment(s, urls, alice, unique(), "elsewhere")
            for bad in (parent["id"], elsewhere["id"], "nope", 42):
                status, body = await post_comment(s, urls, bob, post_id, "x", parent_id=bad)
                assert status == 400 and body["error"]["code"] == "INVALID_PARENT", (bad, body)
            _, after = await post_comment(s, urls, bob, post_id, "after the refusals")
            assert after["seq"] == 3  # refused replies used no seq
            await asyncio.sleep(0.2)
            assert [
                m["data"]["comment"]["id"] for m in watcher.messages if m["type"] == "comment.created"
            ] == [
                parent["id"],
                reply["id"],
                after["id"],
            ]
            await watcher.close()
            await late.close()

    asyncio.run(asyncio.wait_for(scenario(), 40))


def test_a_reply_to_a_reply_carries_its_parent_when_created_edited_and_listed(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        post_id = unique()
        async with aiohttp.ClientSession() as s:
            alice, bob = await token(s, urls, unique("alice")), await token(s, urls, unique("bob"))
            watcher = await connect(s, urls, alice)
            await watcher.subscribe(post_id)
            _, parent = await post_comment(s, urls, alice, post_id, "parent")
            _, reply = await post_comment(s, urls, bob, post_id, "reply", parent_id=parent["id"])
            status, nested = await post_comment(
                s, urls, alice, post_id, "reply to the reply", parent_id=reply["id"]
            )
            assert status == 201 and nested["parentId"] == reply["id"], nested
            created = await watcher.wait_type("comment.created", comment__id=nested["id"])
            assert created["data"]["comment"]["parentId"] == reply["id"]

            async with s.patch(
                f"{urls['apiUrl']}/api/v1/posts/{post_id}/comments/{nested['id']}",
                json={"content": "edited"},
                headers={"Authorization": f"Bearer {alice}"},
            ) as r:
                assert r.status == 200, await r.text()
                edited = await r.json()
            assert edited["parentId"] == reply["id"] and edited["content"] == "edited"
            updated = await watcher.wait_type("comment.updated", comment__id=nested["id"])
            assert updated["data"]["comment"] == edited
            check_comment(edited)

            async with s.get(f"{urls['apiUrl']}/api/v1/posts/{post_id}/comments") as r:
                page = await r.json()
            assert [c.get("parentId") for c in page["comments"]] == [None, parent["id"], reply["id"]]
            late = await connect(s, urls, bob)
            listed = await late.subscribe(post_id)
            assert listed["data"]["comments"] == page["comments"]
            await watcher.close()
            await late.close()

    asyncio.run(asyncio.wait_for(scenario(), 40))
