"""$connect and $disconnect."""

from __future__ import annotations

import time
from typing import Any

from events import ws_event
from handler_helpers import dynamodb_calls_of
from handlers import ws_actions, ws_connect, ws_disconnect


def _items(tables) -> list[dict]:
    return tables.connection_items()


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


def _dynamodb_calls_of_disconnect(connection_id: str) -> list[str]:
    """The DynamoDB operations the $disconnect of ``connection_id`` sends, in order."""
    return dynamodb_calls_of(
        lambda: ws_disconnect.handler(ws_event("$disconnect", connection_id), None),
        ws_disconnect.connections().client,
    )


def test_disconnect_takes_the_subscriptions_from_the_connection_item_without_a_query(tables):
    """The deleted connection item lists its subscriptions: no Query, one call per item to go."""
    ws_connect.handler(ws_event("$connect", "bare=", user_id="alice"), None)
    ws_connect.handler(ws_event("$connect", "subd=", user_id="bob"), None)
    ws_actions.handler(ws_event("subscribe", "subd=", {"action": "subscribe", "postId": "post-1"}), None)

    slot_item = _slot_item(tables, "alice")
    bare = _dynamodb_calls_of_disconnect("bare=")
    subscribed = _dynamodb_calls_of_disconnect("subd=")

    # the connection (its byShard entry goes with it) and the counter (the user's connection slot
    # stays: $connect takes it back)
    assert bare == ["DeleteItem", "UpdateItem"]
    # ... plus the subscription, its viewer item and the post's viewer count
    assert subscribed == ["DeleteItem", "DeleteItem", "UpdateItem", "UpdateItem", *bare[1:]]
    assert _items(tables) == []
    assert "bare=" in slot_item["slots"]["M"] and _slot_item(tables, "alice") == slot_item


def _slot_item(tables, user_id: str) -> dict:
    from realtime_comments.limits.connection_slots import slots_key

    key = slots_key(user_id)
    return tables.client.get_item(TableName=tables.connections, Key=key, ConsistentRead=True)["Item"]


def test_connections_that_do_not_list_their_subscriptions_are_queried(tables):
    """A connection item without `subscriptionsListed` (written before the set existed) still
    takes every item of its partition with it."""
    for sk in ("connection", "sub#post-1", "sub#post-2"):
        item = {"connectionId": {"S": "old="}, "sk": {"S": sk}, "userId": {"S": "u"}}
        if sk != "connection":
            item["postId"] = {"S": sk[len("sub#") :]}
        tables.client.put_item(TableName=tables.connections, Item=item)

    assert "Query" in _dynamodb_calls_of_disconnect("old=")
    assert _items(tables) == []


def test_disconnect_of_unknown_connection_is_harmless(tables):
    assert ws_disconnect.handler(ws_event("$disconnect", "never-connected"), None) == {"statusCode": 200}


# --- the connection counter (GET /api/v1/websocket/connections reads it, never a Scan) ----------
def _count() -> int:
    import json

    from events import http_event
    from handlers import comments_api

    response = comments_api.handler(http_event("GET", "/api/v1/websocket/connections"), None)
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert set(body) == {"status", "count"} and body["status"] == "ok"
    return body["count"]


def test_counter_follows_connect_disconnect_and_gone_cleanup(tables, connections_sink):
    from handler_helpers import connections_repository, deliver

    for index in range(5):
        ws_connect.handler(ws_event("$connect", f"c{index}=", user_id="alice"), None)
    assert _count() == 5
    ws_connect.handler(ws_event("$connect", "c0=", user_id="alice"), None)  # a retried $connect
    assert _count() == 5
    ws_disconnect.handler(ws_event("$disconnect", "c1="), None)
    ws_disconnect.handler(ws_event("$disconnect", "c1="), None)  # twice: counted off once
    assert _count() == 4
    connections_sink.gone.add("c2=")
    result = deliver("hi", ["c2=", "c3="])  # 410 cleanup
    assert result.gone == 1
    ws_disconnect.handler(ws_event("$disconnect", "c2="), None)  # $disconnect after the 410 cleanup
    assert _count() == 3
    assert sorted(connections_repository().all_connection_ids()) == ["c0=", "c3=", "c4="]


def test_counter_never_reports_below_zero(tables):
    from handler_helpers import connections_repository

    repository = connections_repository()
    repository._add_to_count("x", -3)  # e.g. drift from connections that predate the counter
    assert _count() == 0


def test_connections_from_before_the_counter_are_not_counted_off(tables):
    """A connection item without the `counted` mark (written before the counter existed) does
    not take the counter down when it goes."""
    tables.client.put_item(
        TableName=tables.connections,
        Item={"connectionId": {"S": "old="}, "sk": {"S": "connection"}, "userId": {"S": "u"}},
    )
    ws_connect.handler(ws_event("$connect", "new=", user_id="bob"), None)
    ws_disconnect.handler(ws_event("$disconnect", "old="), None)
    assert _count() == 1


def test_connections_listed_in_the_legacy_registry_are_still_reached_and_taken_off(tables):
    """A connection made before `byShard` has no `registryShard` but a "#all#<shard>" registry
    item: broadcast_to_all still finds it, and its $disconnect deletes that item with it."""
    from handler_helpers import connections_repository
    from realtime_comments.connections.repository import legacy_registry_key, registry_shard
    from realtime_comments.serialization import to_attributes

    tables.client.put_item(
        TableName=tables.connections,
        Item={"connectionId": {"S": "old="}, "sk": {"S": "connection"}, "userId": {"S": "u"}},
    )
    legacy_entry = to_attributes({**legacy_registry_key("old="), "expiresAt": 4_000_000_000})
    tables.client.put_item(TableName=tables.connections, Item=legacy_entry)
    ws_connect.handler(ws_event("$connect", "new=", user_id="bob"), None)
    new_item = next(item for item in _items(tables) if item["connectionId"]["S"] == "new=")
    assert new_item["registryShard"] == {"S": registry_shard("new=")}
    assert sorted(connections_repository().all_connection_ids()) == ["new=", "old="]

    assert "BatchWriteItem" in _dynamodb_calls_of_disconnect("old=")
    assert list(connections_repository().all_connection_ids()) == ["new="]
    assert "Item" not in tables.client.get_item(
        TableName=tables.connections, Key={k: legacy_entry[k] for k in ("connectionId", "sk")}
    )
    assert "BatchWriteItem" not in _dynamodb_calls_of_disconnect("new=")
    assert list(connections_repository().all_connection_ids()) == []


def test_health_and_broadcast_to_all_never_scan(tables, connections_sink, monkeypatch):
    """The count is one BatchGetItem, broadcast_to_all's recipients one Query of `byShard` and one
    of the legacy registry partition per shard: no Scan, however many connections and
    subscriptions the table holds."""
    from handler_helpers import connections_repository, seed_subscribers
    from realtime_comments import aws_clients
    from realtime_comments.broadcasting.recipients import recipients
    from realtime_comments.settings import CommentsApiSettings

    seed_subscribers("post-1", [f"s{i}=" for i in range(30)])
    client = aws_clients.dynamodb(CommentsApiSettings.from_env().region)
    calls: list[str] = []
    for name in ("scan", "query", "batch_get_item"):
        original = getattr(client, name)

        def spy(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(client, name, spy)
    assert _count() == 30
    assert calls == ["batch_get_item"]
    calls.clear()
    assert sorted(recipients(connections_repository(), None)) == sorted(f"s{i}=" for i in range(30))
    assert "scan" not in calls and len(calls) == 32


def test_subscriber_ids_fetch_only_the_connection_id(tables, monkeypatch):
    from handler_helpers import connections_repository, seed_subscribers

    seed_subscribers("post-1", ["a=", "b="])
    repository = connections_repository()
    seen: list[dict[str, Any]] = []
    original = repository.client.query

    def spy(**kwargs: Any) -> Any:
        seen.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(repository.client, "query", spy)
    assert sorted(repository.subscriber_ids("post-1")) == ["a=", "b="]
    assert seen[0]["ProjectionExpression"] == "connectionId" and seen[0]["IndexName"] == "byPost"
