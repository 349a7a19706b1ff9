"""Replies (docs/contract.md, "Replies"): parentId validated, carried everywhere, tombstones on delete."""

from __future__ import annotations

import json

import pytest
from events import FakeLambdaContext, comments_path, http_event, stream_event, stream_record
from handler_helpers import seed_subscribers
from handlers import comments_api, stream_broadcaster
from realtime_comments.serialization import from_attributes


def call(method, post_id="post-1", comment_id=None, **kwargs):
    path, route, params = comments_path(post_id, comment_id)
    event = http_event(method, path, route=route, path_parameters=params, **kwargs)
    response = comments_api.handler(event, FakeLambdaContext())
    body = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], body


def post(content="hello", user_id="alice", post_id="post-1", **body):
    return call("POST", post_id, body={"content": content, **body}, user_id=user_id)


def stored(tables, post_id="post-1"):
    return {
        item["seq"]: item
        for item in (from_attributes(raw) for raw in tables.scan(tables.comments))
        if item["postId"] == post_id and item["seq"] != 0
    }


def test_reply_carries_parent_id_in_post_get_and_patch():
    _, parent = post("parent")
    status, reply = post("reply", user_id="bob", parentId=parent["id"])
    assert status == 201 and reply["parentId"] == parent["id"] and reply["seq"] == 2
    _, nested = post("reply to reply", parentId=reply["id"])
    assert nested["parentId"] == reply["id"]
    listed = call("GET")[1]["comments"]
    assert [c.get("parentId") for c in listed] == [None, parent["id"], reply["id"]]
    assert "parentId" not in listed[0]
    status, edited = call("PATCH", comment_id=reply["id"], body={"content": "edited"}, user_id="bob")
    assert status == 200 and edited["parentId"] == parent["id"]


def test_reply_stores_the_parents_author_for_the_notifier(tables):
    _, parent = post("parent", user_id="alice")
    post("reply", user_id="bob", parentId=parent["id"])
    items = stored(tables)
    assert items[2]["parentUserId"] == "alice" and items[1]["replyCount"] == 1


@pytest.mark.parametrize(
    "parent",
    [
        pytest.param("no-such-comment", id="unknown"),
        pytest.param("", id="empty"),
        pytest.param(123, id="number"),
        pytest.param(["x"], id="list"),
        pytest.param("x" * 129, id="too-long"),
        pytest.param("bad\u0000id", id="control-character"),
        pytest.param("\ud800", id="lone-surrogate"),
    ],
)
def test_invalid_parent_is_400_and_writes_nothing(tables, parent):
    post("first")
    before = tables.snapshot()
    status, body = post("reply", user_id="bob", parentId=parent)
    assert status == 400 and body["error"]["code"] == "INVALID_PARENT" and body["error"]["message"]
    assert tables.snapshot() == before  # seq counter included: no gap


def test_parent_of_another_post_is_invalid(tables):
    _, elsewhere = post("on post 2", post_id="post-2")
    before = tables.snapshot()
    status, body = post("reply", parentId=elsewhere["id"])
    assert status == 400 and body["error"]["code"] == "INVALID_PARENT"
    assert tables.snapshot() == before


def test_null_parent_is_a_top_level_comment():
    status, body = post("top", parentId=None)
    assert status == 201 and "parentId" not in body


def test_delete_without_replies_removes_the_comment(tables):
    _, comment = post("alone")
    assert call("DELETE", comment_id=comment["id"], user_id="alice")[0] == 204
    assert stored(tables) == {}


def test_delete_with_replies_leaves_a_tombstone_and_replies_readable(tables):
    _, parent = post("parent")
    _, reply = post("reply", user_id="bob", parentId=parent["id"])
    assert call("DELETE", comment_id=parent["id"], user_id="alice")[0] == 204
    listed = call("GET")[1]["comments"]
    tombstone, kept = listed
    assert tombstone["id"] == parent["id"] and tombstone["deleted"] is True and tombstone["content"] == ""
    assert tombstone["seq"] == 1 and tombstone["userId"] == "alice" and tombstone["updatedAt"]
    assert kept == reply
    # A tombstone is gone to PATCH, DELETE and replies.
    before = tables.snapshot()
    assert call("PATCH", comment_id=parent["id"], body={"content": "x"}, user_id="alice")[0] == 404
    assert call("DELETE", comment_id=parent["id"], user_id="alice")[0] == 404
    status, body = post("late reply", parentId=parent["id"])
    assert status == 400 and body["error"]["code"] == "INVALID_PARENT"
    assert tables.snapshot() == before


def test_idempotent_reply_replays_and_refuses_another_parent():
    _, parent = post("parent")
    _, other = post("other")
    headers = {"Idempotency-Key": "k1"}
    first = call("POST", body={"content": "r", "parentId": parent["id"]}, user_id="bob", headers=headers)
    again = call("POST", body={"content": "r", "parentId": parent["id"]}, user_id="bob", headers=headers)
    assert first == again and first[0] == 201
    moved = call("POST", body={"content": "r", "parentId": other["id"]}, user_id="bob", headers=headers)
    assert moved[0] == 422


# --- what subscribers get ------------------------------------------------------------------
def test_tombstone_record_becomes_comment_deleted_with_the_tombstone(connections_sink):
    seed_subscribers("post-1", ["s1"])
    old = {
        "postId": "post-1",
        "seq": 1,
        "id": "c1",
        "content": "hi",
        "userId": "alice",
        "createdAt": "2026-01-01T00:00:00.000Z",
        "replyCount": 1,
    }
    new = {**old, "content": "", "deleted": True, "updatedAt": "2026-01-01T00:01:00.000Z"}
    stream_broadcaster.handler(stream_event(stream_record("MODIFY", new=new, old=old)), None)
    (message,) = connections_sink.messages_for("s1")
    assert message["type"] == "comment.deleted"
    assert message["data"] == {
        "postId": "post-1",
        "commentId": "c1",
        "comment": {
            "id": "c1",
            "postId": "post-1",
            "content": "",
            "userId": "alice",
            "seq": 1,
            "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": "2026-01-01T00:01:00.000Z",
            "deleted": True,
        },
    }


def test_reply_claiming_its_parent_sends_no_update(connections_sink):
    seed_subscribers("post-1", ["s1"])
    old = {
        "postId": "post-1",
        "seq": 1,
        "id": "c1",
        "content": "hi",
        "userId": "alice",
        "createdAt": "2026-01-01T00:00:00.000Z",
    }
    new = {**old, "replyCount": 1}
    reply = {
        "postId": "post-1",
        "seq": 2,
        "id": "c2",
        "content": "re",
        "userId": "bob",
        "createdAt": "2026-01-01T00:00:01.000Z",
        "parentId": "c1",
        "parentUserId": "alice",
    }
    event = stream_event(stream_record("MODIFY", new=new, old=old), stream_record("INSERT", new=reply))
    stream_broadcaster.handler(event, None)
    (message,) = connections_sink.messages_for("s1")
    assert message["type"] == "comment.created"
    assert message["data"]["comment"]["parentId"] == "c1"
    assert "parentUserId" not in message["data"]["comment"]
