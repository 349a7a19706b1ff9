"""subscribe / unsubscribe / ping, the $default echo, and bad input on every route."""

from __future__ import annotations

import json
import re

import pytest
from events import ws_event
from handler_helpers import connections_repository, seed_comments
from handlers import ws_actions, ws_connect, ws_default

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
CONN = "conn-A="


@pytest.fixture
def connected():
    ws_connect.handler(ws_event("$connect", CONN, user_id="alice"), None)
    return CONN


def _act(body, *, route="subscribe", raw=None):
    return ws_actions.handler(ws_event(route, CONN, body, raw_body=raw), None)


def test_subscribe_stores_subscription_and_replies_subscribed_then_list(tables, connections_sink, connected):
    seed_comments("post-1", 3)
    assert _act({"action": "subscribe", "postId": "post-1"}) == {"statusCode": 200}

    subscribed, listing = connections_sink.messages_for(CONN)
    assert subscribed["type"] == "subscribed" and subscribed["data"] == {"postId": "post-1", "viewers": 1}
    assert ISO_Z.match(subscribed["timestamp"])
    assert listing["type"] == "comments.list"
    data = listing["data"]
    assert data["postId"] == "post-1" and data["count"] == 3 and data["hasMore"] is False
    assert [comment["seq"] for comment in data["comments"]] == [1, 2, 3]
    assert set(data["comments"][0]) == {"id", "postId", "content", "userId", "createdAt", "seq"}
    assert connections_repository().subscriber_ids("post-1") == [CONN]
    # The subscription expires with its connection.
    items = {item["sk"]["S"]: item for item in tables.connection_items()}
    assert items["sub#post-1"]["expiresAt"] == items["connection"]["expiresAt"]
    assert items["sub#post-1"]["userId"] == {"S": "alice"}


def test_subscribe_lists_latest_page_oldest_first_with_has_more(connections_sink, connected, configure):
    configure(COMMENTS_PAGE_SIZE="4")
    seed_comments("post-1", 10)
    _act({"action": "subscribe", "postId": "post-1"})
    data = connections_sink.messages_for(CONN)[1]["data"]
    assert [comment["seq"] for comment in data["comments"]] == [7, 8, 9, 10]
    assert data["count"] == 4 and data["hasMore"] is True


def test_subscribe_with_since_returns_only_newer_comments(connections_sink, connected):
    seed_comments("post-1", 6)
    _act({"action": "subscribe", "postId": "post-1", "since": 4})
    data = connections_sink.messages_for(CONN)[1]["data"]
    assert [comment["seq"] for comment in data["comments"]] == [5, 6]
    assert data["hasMore"] is False and data["count"] == 2


def test_subscribe_with_since_pages_from_the_oldest_missed(connections_sink, connected, configure):
    configure(COMMENTS_PAGE_SIZE="3")
    seed_comments("post-1", 10)
    _act({"action": "subscribe", "postId": "post-1", "since": 2})
    data = connections_sink.messages_for(CONN)[1]["data"]
    assert [comment["seq"] for comment in data["comments"]] == [3, 4, 5]
    assert data["hasMore"] is True


def test_subscribe_since_zero_and_since_beyond_last(connections_sink, connected):
    seed_comments("post-1", 2)
    _act({"action": "subscribe", "postId": "post-1", "since": 0})
    _act({"action": "subscribe", "postId": "post-1", "since": 99})
    lists = [m["data"] for m in connections_sink.messages_for(CONN) if m["type"] == "comments.list"]
    assert [len(data["comments"]) for data in lists] == [2, 0]


def test_comments_list_never_exceeds_128_kb(connections_sink, connected):
    # 50 comments of 4,000 characters that JSON escapes to 6 bytes each: ~1.2 MB unbounded.
    seed_comments("post-1", 50, content="\x01" * 4000, raw=True)
    _act({"action": "subscribe", "postId": "post-1"})
    body = next(body for target, body in connections_sink.posts if b"comments.list" in body)
    assert len(body) <= 128 * 1024
    data = json.loads(body)["data"]
    assert data["hasMore"] is True
    assert 0 < data["count"] == len(data["comments"]) < 50
    # The newest are kept, contiguous and oldest first.
    seqs = [comment["seq"] for comment in data["comments"]]
    assert seqs == list(range(51 - len(seqs), 51))


def test_comments_list_with_since_keeps_the_oldest_when_trimmed(connections_sink, connected):
    seed_comments("post-1", 40, content="\x01" * 4000, raw=True)
    _act({"action": "subscribe", "postId": "post-1", "since": 10})
    body = next(body for target, body in connections_sink.posts if b"comments.list" in body)
    assert len(body) <= 128 * 1024
    data = json.loads(body)["data"]
    assert data["hasMore"] is True
    assert data["comments"][0]["seq"] == 11


def test_unsubscribe_removes_subscription(connections_sink, connected):
    _act({"action": "subscribe", "postId": "post-1"})
    _act({"action": "unsubscribe", "postId": "post-1"}, route="unsubscribe")
    assert connections_repository().subscriber_ids("post-1") == []
    last = connections_sink.messages_for(CONN)[-1]
    assert last["type"] == "unsubscribed" and last["data"] == {"postId": "post-1"}


def test_ping_replies_pong(connections_sink, connected):
    _act({"action": "ping"}, route="ping")
    (pong,) = connections_sink.messages_for(CONN)
    assert pong["type"] == "pong" and pong["data"] == {} and ISO_Z.match(pong["timestamp"])


@pytest.mark.parametrize(
    "body",
    [
        {"action": "subscribe"},
        {"action": "subscribe", "postId": ""},
        {"action": "subscribe", "postId": 42},
        {"action": "subscribe", "postId": None},
        {"action": "subscribe", "postId": "a" * 129},
        {"action": "subscribe", "postId": "bad/post"},
        {"action": "subscribe", "postId": "post#1"},
        {"action": "subscribe", "postId": "post-1", "since": -1},
        {"action": "subscribe", "postId": "post-1", "since": "3"},
        {"action": "subscribe", "postId": "post-1", "since": True},
        {"action": "subscribe", "postId": "post-1", "since": 1.5},
    ],
)
def test_subscribe_with_bad_parameters_replies_error_and_writes_nothing(
    body, tables, connections_sink, connected
):
    before = tables.snapshot()
    assert _act(body) == {"statusCode": 200}
    (reply,) = connections_sink.messages_for(CONN)
    assert reply["type"] == "error"
    assert reply["data"]["action"] == "subscribe" and reply["data"]["message"]
    assert tables.snapshot() == before


def test_unsubscribe_with_bad_post_id_replies_error(connections_sink, connected):
    _act({"action": "unsubscribe", "postId": ["x"]}, route="unsubscribe")
    (reply,) = connections_sink.messages_for(CONN)
    assert reply["type"] == "error" and reply["data"]["action"] == "unsubscribe"


@pytest.mark.parametrize(
    "raw", ["{not json", "[]", '"text"', "null", "", '{"action": "subscribe", "postId": ']
)
def test_named_route_with_malformed_body_replies_error(raw, connections_sink, connected):
    assert _act(None, raw=raw) == {"statusCode": 200}
    (reply,) = connections_sink.messages_for(CONN)
    assert reply["type"] == "error" and reply["data"]["action"] == "subscribe"


def test_subscribe_without_a_connection_item_stores_nothing(tables, connections_sink):
    # $connect stores the item before the socket opens, so a missing one means the connection is
    # gone; a subscription stored then could not be counted against the connection's limit.
    before = tables.snapshot()
    _act({"action": "subscribe", "postId": "post-1"})
    (reply,) = connections_sink.messages_for(CONN)
    assert reply["type"] == "error" and reply["data"]["code"] == "NOT_CONNECTED"
    assert tables.snapshot() == before


def test_default_route_echoes_the_frame_text(connections_sink):
    ws_default.handler(ws_event("$default", CONN, raw_body='{"hello": "world"}'), None)
    (echo,) = connections_sink.messages_for(CONN)
    assert echo["type"] == "test" and echo["data"] == {"message": '{"hello": "world"}'}
    assert ISO_Z.match(echo["timestamp"])


@pytest.mark.parametrize(
    "raw", ["not json at all", "{broken", "", "\u00e9t\u00e9 \U0001f600", '{"action": "dance"}']
)
def test_default_route_echoes_anything(raw, connections_sink):
    assert ws_default.handler(ws_event("$default", CONN, raw_body=raw), None) == {"statusCode": 200}
    (echo,) = connections_sink.messages_for(CONN)
    assert echo == {"type": "test", "data": {"message": raw}, "timestamp": echo["timestamp"]}


def test_default_route_decodes_binary_frames(connections_sink):
    ws_default.handler(ws_event("$default", CONN, raw_body="binary hello", base64_body=True), None)
    assert connections_sink.messages_for(CONN)[0]["data"] == {"message": "binary hello"}


def test_default_route_survives_a_gone_caller(tables, connections_sink):
    connections_sink.gone.add(CONN)
    ws_connect.handler(ws_event("$connect", CONN), None)
    assert ws_default.handler(ws_event("$default", CONN, raw_body="hi"), None) == {"statusCode": 200}
    assert tables.connection_items() == []


def test_subscribe_with_absurd_since_replies_error(tables, connections_sink, connected):
    before = tables.snapshot()
    _act({"action": "subscribe", "postId": "post-1", "since": 10**30})
    (reply,) = connections_sink.messages_for(CONN)
    assert reply["type"] == "error" and "since" in reply["data"]["message"]
    assert tables.snapshot() == before


def test_unexpected_failure_still_replies_error(connections_sink, connected, monkeypatch):
    from realtime_comments.websocket import actions

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setitem(actions._ACTIONS, "ping", broken)
    assert _act({"action": "ping"}, route="ping") == {"statusCode": 200}
    (reply,) = connections_sink.messages_for(CONN)
    assert reply["type"] == "error" and reply["data"]["action"] == "ping"
