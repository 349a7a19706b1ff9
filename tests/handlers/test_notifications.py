"""Notifications: made once from the comments stream, pushed to every connection of the user,
listed and marked over REST for the caller only (docs/contract.md, "Notifications")."""

from __future__ import annotations

import json
import time

import pytest
from events import FakeLambdaContext, http_event, stream_event, stream_record
from handler_helpers import comments_repository, connections_repository
from handlers import notifications_api, notifier
from realtime_comments.comments.service import create_comment
from realtime_comments.serialization import from_attributes


def reply_item(tables, parent_author="alice", replier="bob", post_id="post-1"):
    """A parent by `parent_author` and a reply by `replier`, stored; the reply's item as the
    stream's NewImage would carry it."""
    repository = comments_repository()
    parent = create_comment(repository, post_id, parent_author, "parent")
    reply = create_comment(repository, post_id, replier, "reply", parent.id)
    raw = tables.client.get_item(
        TableName=tables.comments, Key={"postId": {"S": post_id}, "seq": {"N": str(reply.seq)}}
    )["Item"]
    return from_attributes(raw)


def notify(item):
    return notifier.handler(stream_event(stream_record("INSERT", new=item)), None)


def api(method, path, user_id="alice", **kwargs):
    event = http_event(method, path, user_id=user_id, **kwargs)
    response = notifications_api.handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def stored(tables):
    return [from_attributes(item) for item in tables.scan(tables.notifications)]


def test_a_reply_notifies_the_parents_author_once_even_when_redelivered(tables):
    item = reply_item(tables)
    assert notify(item) == {"batchItemFailures": []}
    assert notify(item) == {"batchItemFailures": []}  # the same record again
    (notification,) = stored(tables)
    assert notification["userId"] == "alice" and notification["actorId"] == "bob"
    assert notification["type"] == "reply" and notification["read"] is False
    assert notification["commentId"] == item["id"] and notification["parentId"] == item["parentId"]
    assert notification["createdAt"] == item["createdAt"] and notification["postId"] == "post-1"
    # Retention: 30 days after the reply (NOTIFICATION_TTL_SECONDS in the test environment).
    assert abs(int(notification["expiresAt"]) - (time.time() + 30 * 86400)) < 120


def test_replying_to_ones_own_comment_notifies_nobody(tables, connections_sink):
    connections_repository().put_connection("a1", "alice", 4_000_000_000)
    notify(reply_item(tables, parent_author="alice", replier="alice"))
    assert stored(tables) == [] and connections_sink.posts == []


def test_push_goes_to_every_connection_of_the_user_and_nobody_else(tables, connections_sink):
    connections = connections_repository()
    for connection_id, user in (("a1", "alice"), ("a2", "alice"), ("b1", "bob")):
        connections.put_connection(connection_id, user, 4_000_000_000)
    connections.put_subscription("a1", "other-post", "alice", 4_000_000_000)
    item = reply_item(tables)
    notify(item)
    assert sorted(connections_sink.recipients()) == ["a1", "a2"]
    (message,) = connections_sink.messages_for("a2")
    assert message["type"] == "notification.created"
    (notification,) = stored(tables)
    assert message["data"] == {
        "notification": {key: notification[key] for key in message["data"]["notification"]}
    }
    assert set(message["data"]["notification"]) == {
        "id", "type", "postId", "commentId", "parentId", "actorId", "createdAt", "read",
    }  # fmt: skip


def test_a_user_without_connections_still_gets_the_stored_notification(tables, connections_sink):
    notify(reply_item(tables))
    assert len(stored(tables)) == 1 and connections_sink.posts == []


def test_top_level_comments_and_other_records_make_nothing(tables):
    top = from_attributes(
        tables.client.get_item(
            TableName=tables.comments,
            Key={
                "postId": {"S": "p"},
                "seq": {"N": str(create_comment(comments_repository(), "p", "a", "x").seq)},
            },
        )["Item"]
    )
    notify(top)
    item = reply_item(tables)
    notifier.handler(stream_event(stream_record("MODIFY", new=item, old=item)), None)
    notifier.handler(stream_event(stream_record("REMOVE", old=item)), None)
    assert stored(tables) == []


def test_list_is_newest_first_with_unread_count_and_cursor(tables):
    items = [reply_item(tables, replier=f"user{i}") for i in range(3)]
    for item in items:
        notify(item)
    status, body = api("GET", "/api/v1/notifications", query={"limit": "2"})
    assert status == 200 and body["unreadCount"] == 3
    assert [n["actorId"] for n in body["notifications"]] == ["user2", "user1"]
    status, rest = api("GET", "/api/v1/notifications", query={"limit": "2", "cursor": body["nextCursor"]})
    assert [n["actorId"] for n in rest["notifications"]] == ["user0"] and rest["nextCursor"] is None
    assert rest["unreadCount"] == 3


def test_each_caller_sees_only_their_own(tables):
    notify(reply_item(tables))
    status, body = api("GET", "/api/v1/notifications", user_id="mallory")
    assert status == 200 and body == {"notifications": [], "unreadCount": 0, "nextCursor": None}


def test_mark_read_by_ids_ignores_foreign_and_unknown_ids(tables):
    notify(reply_item(tables, parent_author="alice"))
    notify(reply_item(tables, parent_author="carol"))
    (alices,) = api("GET", "/api/v1/notifications")[1]["notifications"]
    (carols,) = api("GET", "/api/v1/notifications", user_id="carol")[1]["notifications"]
    status, body = api(
        "POST", "/api/v1/notifications/read", user_id="mallory", body={"ids": [alices["id"], carols["id"]]}
    )
    assert status == 200 and body == {"unreadCount": 0}
    assert all(not item["read"] for item in stored(tables))  # nothing of anyone else changed
    status, body = api(
        "POST", "/api/v1/notifications/read", body={"ids": [alices["id"], carols["id"], "nope", "x" * 300]}
    )
    assert status == 200 and body == {"unreadCount": 0}
    states = {item["userId"]: item["read"] for item in stored(tables)}
    assert states == {"alice": True, "carol": False}
    listed = api("GET", "/api/v1/notifications")[1]
    assert listed["notifications"][0]["read"] is True and listed["unreadCount"] == 0


def test_mark_all_read(tables):
    for i in range(3):
        notify(reply_item(tables, replier=f"user{i}"))
    notify(reply_item(tables, parent_author="carol"))
    status, body = api("POST", "/api/v1/notifications/read", body={"all": True})
    assert status == 200 and body == {"unreadCount": 0}
    assert api("GET", "/api/v1/notifications", user_id="carol")[1]["unreadCount"] == 1


def test_expired_notifications_are_neither_listed_nor_counted(tables, configure):
    configure(NOTIFICATION_TTL_SECONDS="1")
    item = reply_item(tables)
    item["createdAt"] = "2020-01-01T00:00:00.000Z"  # long past its 1 s retention
    notify(item)
    assert len(stored(tables)) == 1
    assert api("GET", "/api/v1/notifications")[1] == {
        "notifications": [],
        "unreadCount": 0,
        "nextCursor": None,
    }


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="neither"),
        pytest.param({"ids": ["a"], "all": True}, id="both"),
        pytest.param({"ids": []}, id="empty-ids"),
        pytest.param({"ids": ["x"] * 101}, id="too-many-ids"),
        pytest.param({"ids": [1]}, id="non-string-id"),
        pytest.param({"ids": "abc"}, id="ids-not-a-list"),
        pytest.param({"all": False}, id="all-false"),
        pytest.param({"all": True, "extra": 1}, id="unknown-field"),
    ],
)
def test_bad_mark_read_bodies_are_400_and_change_nothing(tables, body):
    notify(reply_item(tables))
    before = tables.snapshot()
    status, response = api("POST", "/api/v1/notifications/read", body=body)
    assert status == 400 and response["error"]["code"] == "VALIDATION_ERROR"
    assert tables.snapshot() == before


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"cursor": "garbage!"}])
def test_bad_list_parameters_are_400(query):
    status, body = api("GET", "/api/v1/notifications", query=query)
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/v1/notifications"), ("POST", "/api/v1/notifications/read")]
)
def test_without_claims_is_401(method, path):
    status, body = api(method, path, user_id=None, body={"all": True})
    assert status == 401 and body["error"]["code"] == "UNAUTHORIZED"
