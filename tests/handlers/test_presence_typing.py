"""Presence (viewers, coalesced `presence` messages) and typing, through the WebSocket handlers,
the fan-out worker and a real SQS queue (docs/contract.md, "Presence" and "Typing")."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from events import sqs_event, ws_event
from handlers import fanout_worker, ws_actions, ws_connect, ws_disconnect
from realtime_comments.dependencies import presence_counter
from realtime_comments.settings import ActionsSettings
from realtime_comments.websocket.frame_limit import ACTION_RATE_ATTRIBUTE


@pytest.fixture
def queue(sqs_client, configure):
    url = sqs_client.create_queue(QueueName=f"fanout-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    configure(FANOUT_QUEUE_URL=url)
    return url


def connect(connection_id, user):
    ws_connect.handler(ws_event("$connect", connection_id, user_id=user), None)


def act(connection_id, user, body):
    route = body.get("action", "$default")
    return ws_actions.handler(ws_event(route, connection_id, body, user_id=user), None)


def subscribed(sink, connection_id):
    return [m["data"] for m in sink.messages_for(connection_id) if m["type"] == "subscribed"]


def drain(sqs_client, queue_url, until=None, timeout=3.0):
    """Run the fan-out worker on what the queue holds: until it is empty, or (with `until`) until
    that holds, waiting for delayed messages to come due."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if until is not None and until():
            return
        messages = sqs_client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            if until is None:
                return
            time.sleep(0.02)
            continue
        for message in messages:
            fanout_worker.handler(sqs_event(message["Body"]), None)
            sqs_client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert until is None or until(), "condition not met in time"


def presence_messages(sink, connection_id):
    return [m["data"] for m in sink.messages_for(connection_id) if m["type"] == "presence"]


def test_subscribed_counts_distinct_users(connections_sink, queue):
    for connection_id, user in (("a1", "alice"), ("a2", "alice"), ("b1", "bob")):
        connect(connection_id, user)
    act("a1", "alice", {"action": "subscribe", "postId": "p"})
    act("a2", "alice", {"action": "subscribe", "postId": "p"})  # same user, second tab
    act("b1", "bob", {"action": "subscribe", "postId": "p"})
    act("b1", "bob", {"action": "subscribe", "postId": "p"})  # again: changes nothing
    assert subscribed(connections_sink, "a1") == [{"postId": "p", "viewers": 1}]
    assert subscribed(connections_sink, "a2") == [{"postId": "p", "viewers": 1}]
    assert subscribed(connections_sink, "b1") == [{"postId": "p", "viewers": 2}] * 2
    assert presence_counter(ActionsSettings.from_env()).viewers("p") == 2


def test_unsubscribe_and_disconnect_take_users_off_once(connections_sink, queue, tables):
    for connection_id, user in (("a1", "alice"), ("a2", "alice"), ("b1", "bob")):
        connect(connection_id, user)
        act(connection_id, user, {"action": "subscribe", "postId": "p"})
    counter = presence_counter(ActionsSettings.from_env())
    act("a1", "alice", {"action": "unsubscribe", "postId": "p"})
    assert counter.viewers("p") == 2  # alice still has a2
    act("a1", "alice", {"action": "unsubscribe", "postId": "p"})  # not subscribed any more
    assert counter.viewers("p") == 2
    ws_disconnect.handler(ws_event("$disconnect", "a2", user_id="alice"), None)
    ws_disconnect.handler(ws_event("$disconnect", "a2", user_id="alice"), None)  # retried
    assert counter.viewers("p") == 1


def test_a_gone_connection_found_by_a_send_leaves_the_count(connections_sink, queue):
    for connection_id, user in (("a1", "alice"), ("b1", "bob")):
        connect(connection_id, user)
        act(connection_id, user, {"action": "subscribe", "postId": "p"})
    connections_sink.gone.add("b1")
    counter = presence_counter(ActionsSettings.from_env())
    assert counter.viewers("p") == 2
    act("a1", "alice", {"action": "typing", "postId": "p"})  # the relay to b1 finds it gone
    assert counter.viewers("p") == 1


def test_the_count_costs_the_same_dynamodb_calls_whatever_the_audience(connections_sink, queue, monkeypatch):
    """The contract's cost bullet: a subscribe, unsubscribe or disconnect does O(1) single-item
    work, never a count by Query or Scan; so a post with 60 viewers costs what one with none does."""
    import botocore.client

    calls: list[tuple[str, str, str]] = []
    real = botocore.client.BaseClient._make_api_call

    def recording(self, operation, params):
        # The frame rate limit's compare-and-set on the caller's own item may take a second try
        # when frames come close together: per connection, timing-dependent, not the count's.
        limiter = ACTION_RATE_ATTRIBUTE in (params.get("ExpressionAttributeNames") or {}).values()
        if self.meta.service_model.service_name == "dynamodb" and not limiter:
            calls.append((operation, params.get("TableName", ""), params.get("IndexName", "")))
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    settings = ActionsSettings.from_env()

    def one_user_comes_and_goes(n: int) -> list[tuple[str, str, str]]:
        connect(f"new{n}", f"newcomer{n}")
        calls.clear()
        act(f"new{n}", f"newcomer{n}", {"action": "subscribe", "postId": "p"})
        act(f"new{n}", f"newcomer{n}", {"action": "unsubscribe", "postId": "p"})
        act(f"new{n}", f"newcomer{n}", {"action": "subscribe", "postId": "p"})
        ws_disconnect.handler(ws_event("$disconnect", f"new{n}", user_id=f"newcomer{n}"), None)
        return list(calls)

    alone = one_user_comes_and_goes(0)
    for i in range(60):
        connect(f"v{i}", f"viewer{i}")
        act(f"v{i}", f"viewer{i}", {"action": "subscribe", "postId": "p"})
    assert presence_counter(settings).viewers("p") == 60
    crowded = one_user_comes_and_goes(1)
    assert presence_counter(settings).viewers("p") == 60
    assert crowded == alone
    on_connections = [c for c in crowded if c[1] == settings.connections_table_name]
    assert not [c for c in crowded if c[0] == "Scan"]
    # No Query on the connections table at all: the post's audience (byPost) is never counted,
    # and $disconnect finds its own subscriptions in the deleted connection item.
    assert [c for c in on_connections if c[0] == "Query"] == [], on_connections


def test_presence_is_sent_and_coalesced_to_one_per_second(connections_sink, queue, sqs_client):
    for connection_id, user in (("a1", "alice"), ("b1", "bob"), ("c1", "carol")):
        connect(connection_id, user)
    act("a1", "alice", {"action": "subscribe", "postId": "p"})
    drain(sqs_client, queue)
    assert presence_messages(connections_sink, "a1") == [{"postId": "p", "viewers": 1}]
    # Two joins within the next second: one flush request, delayed, carrying the final number.
    act("b1", "bob", {"action": "subscribe", "postId": "p"})
    act("c1", "carol", {"action": "subscribe", "postId": "p"})
    # (how soon it comes is a benchmark figure: `python -m benchmarks --only presence`)
    drain(sqs_client, queue, until=lambda: len(presence_messages(connections_sink, "c1")) == 1)
    time.sleep(1.2)  # anything still delayed would be due by now
    drain(sqs_client, queue)
    assert presence_messages(connections_sink, "a1") == [
        {"postId": "p", "viewers": 1},
        {"postId": "p", "viewers": 3},
    ]
    assert presence_messages(connections_sink, "c1") == [{"postId": "p", "viewers": 3}]
    sent = [
        json.loads(body)["timestamp"]
        for connection_id, body in connections_sink.posts
        if connection_id == "a1" and json.loads(body)["type"] == "presence"
    ]
    assert len(sent) == 2


def test_a_flush_within_the_second_is_asked_again_later(connections_sink, queue, sqs_client):
    connect("a1", "alice")
    act("a1", "alice", {"action": "subscribe", "postId": "p"})
    drain(sqs_client, queue)
    counter = presence_counter(ActionsSettings.from_env())
    assert counter.flush("p") is None  # under a second since the last message
    fanout_worker.handler(sqs_event(json.dumps({"presenceFlush": {"postId": "p"}})), None)
    assert len(presence_messages(connections_sink, "a1")) == 1  # nothing sent now...
    messages = sqs_client.receive_message(QueueUrl=queue, WaitTimeSeconds=2).get("Messages", [])
    assert [json.loads(m["Body"]) for m in messages] == [{"presenceFlush": {"postId": "p"}}]  # ...asked again


def test_bad_flush_request_fails_its_record(connections_sink, queue):
    good = json.dumps({"message": "{}", "connectionIds": []})
    bad = json.dumps({"presenceFlush": {"postId": "bad id!"}})
    response = fanout_worker.handler(sqs_event(good, bad), None)
    assert len(response["batchItemFailures"]) == 1


# --- typing ---------------------------------------------------------------------------------
def test_typing_goes_to_every_other_subscriber_never_the_sender(connections_sink, queue):
    for connection_id, user in (("a1", "alice"), ("a2", "alice"), ("b1", "bob"), ("x1", "xavier")):
        connect(connection_id, user)
    for connection_id, user in (("a1", "alice"), ("a2", "alice"), ("b1", "bob")):
        act(connection_id, user, {"action": "subscribe", "postId": "p"})
    act("x1", "xavier", {"action": "subscribe", "postId": "other"})
    connections_sink.reset()
    act("a1", "alice", {"action": "typing", "postId": "p"})
    assert sorted(connections_sink.recipients()) == ["a2", "b1"]
    (message,) = connections_sink.messages_for("b1")
    assert message["type"] == "typing" and message["data"] == {"postId": "p", "userId": "alice"}


def test_typing_is_rate_limited_per_connection_silently(connections_sink, queue):
    for connection_id, user in (("a1", "alice"), ("b1", "bob")):
        connect(connection_id, user)
        act(connection_id, user, {"action": "subscribe", "postId": "p"})
    act("a1", "alice", {"action": "subscribe", "postId": "q"})
    connections_sink.reset()
    for _ in range(5):
        act("a1", "alice", {"action": "typing", "postId": "p"})
    act("a1", "alice", {"action": "typing", "postId": "q"})  # the window is per connection
    assert len(connections_sink.messages_for("b1")) == 1
    assert connections_sink.messages_for("a1") == []  # dropped without an error
    act("b1", "bob", {"action": "typing", "postId": "p"})  # another connection has its own window
    assert [m["type"] for m in connections_sink.messages_for("a1")] == ["typing"]


def test_typing_is_not_stored(connections_sink, queue, tables):
    for connection_id, user in (("a1", "alice"), ("b1", "bob")):
        connect(connection_id, user)
        act(connection_id, user, {"action": "subscribe", "postId": "p"})
    before = {
        json.dumps(i, sort_keys=True) for i in tables.scan(tables.connections) if i["sk"]["S"] != "connection"
    }
    act("a1", "alice", {"action": "typing", "postId": "p"})
    after = {
        json.dumps(i, sort_keys=True) for i in tables.scan(tables.connections) if i["sk"]["S"] != "connection"
    }
    assert before == after and tables.scan(tables.comments) == []


def test_typing_without_subscription_is_not_subscribed(connections_sink, queue):
    connect("a1", "alice")
    connect("b1", "bob")
    act("b1", "bob", {"action": "subscribe", "postId": "p"})
    connections_sink.reset()
    act("a1", "alice", {"action": "typing", "postId": "p"})
    (error,) = connections_sink.messages_for("a1")
    assert error["type"] == "error" and error["data"]["code"] == "NOT_SUBSCRIBED"
    assert error["data"]["action"] == "typing" and error["data"]["message"]
    assert connections_sink.messages_for("b1") == []


@pytest.mark.parametrize("post_id", [None, "", "bad id!", 5])
def test_typing_with_a_bad_post_id_is_an_error(connections_sink, queue, post_id):
    connect("a1", "alice")
    act("a1", "alice", {"action": "typing", "postId": post_id})
    (error,) = connections_sink.messages_for("a1")
    assert error["type"] == "error" and error["data"]["action"] == "typing"
