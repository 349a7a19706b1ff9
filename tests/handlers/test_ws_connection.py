"""$connect and $disconnect."""

from __future__ import annotations

import time

from events import ws_event
from handlers import ws_actions, ws_connect, ws_disconnect


def _items(tables) -> list[dict]:
    return tables.scan(tables.connections)


def test_connect_stores_connection_with_ttl(tables):
    before = int(time.time())
    assert ws_connect.handler(ws_event("$connect", "conn-1=", user_id="alice"), None) == {"statusCode": 200}
    (item,) = _items(tables)
    assert item["connectionId"] == {"S": "conn-1="}
    assert item["sk"] == {"S": "connection"}
    assert item["userId"] == {"S": "alice"}
    assert item["connectedAt"]["S"].endswith("Z")
    assert before + 86400 <= int(item["expiresAt"]["N"]) <= int(time.time()) + 86400


def test_connect_without_authorizer_user_is_refused_and_writes_nothing(tables):
    assert ws_connect.handler(ws_event("$connect", "conn-1=", user_id=None), None) == {"statusCode": 403}
    assert _items(tables) == []


def test_disconnect_removes_connection_and_subscriptions(tables, connections_sink):
    ws_connect.handler(ws_event("$connect", "conn-1=", user_id="alice"), None)
    ws_connect.handler(ws_event("$connect", "conn-2=", user_id="bob"), None)
    for post in ("post-1", "post-2"):
        ws_actions.handler(ws_event("subscribe", "conn-1=", {"action": "subscribe", "postId": post}), None)
    ws_actions.handler(ws_event("subscribe", "conn-2=", {"action": "subscribe", "postId": "post-1"}), None)
    assert len(_items(tables)) == 5

    assert ws_disconnect.handler(ws_event("$disconnect", "conn-1="), None) == {"statusCode": 200}

    remaining = {(item["connectionId"]["S"], item["sk"]["S"]) for item in _items(tables)}
    assert remaining == {("conn-2=", "connection"), ("conn-2=", "sub#post-1")}


def test_disconnect_of_unknown_connection_is_harmless(tables):
    assert ws_disconnect.handler(ws_event("$disconnect", "never-connected"), None) == {"statusCode": 200}
