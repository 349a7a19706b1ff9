"""The abuse limits (docs/security.md, "Limits"): each refused request writes and sends nothing.

Rates run on a fake clock (`frozen_clock`), so a slow machine never refills a bucket mid-test.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from events import FakeLambdaContext, comments_path, http_event, ws_event
from handler_helpers import connections_repository, dynamodb_calls_of
from handlers import comments_api, ws_actions, ws_connect, ws_default, ws_disconnect
from realtime_comments.limits import UserConnectionSlots
from realtime_comments.limits.connection_slots import CONNECT_GRACE_SECONDS, MAX_CONNECTION_SECONDS, slots_key

CONN = "conn-L="


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    from realtime_comments.limits import rate

    fake = FakeClock()
    monkeypatch.setattr(rate, "wall_clock", fake)
    return fake


def _connect(connection_id=CONN, user_id="alice"):
    return ws_connect.handler(ws_event("$connect", connection_id, user_id=user_id), None)


def _frame(body, connection_id=CONN, route=None):
    route = route or body.get("action", "ping")
    return ws_actions.handler(ws_event(route, connection_id, body), None)


def _errors(sink, connection_id=CONN):
    return [m["data"] for m in sink.messages_for(connection_id) if m["type"] == "error"]


# --- subscriptions per connection -----------------------------------------------------------------
@pytest.fixture
def many_frames(configure):
    # The subscription tests send more frames than the frame rate's burst.
    configure(ACTION_BURST="1000", ACTION_RATE="1000")


def test_the_51st_subscription_is_refused_and_stores_nothing(tables, connections_sink, many_frames):
    _connect()
    for index in range(50):
        _frame({"action": "subscribe", "postId": f"post-{index}"})
    assert len(_errors(connections_sink)) == 0
    before = tables.snapshot()
    connections_sink.reset()

    _frame({"action": "subscribe", "postId": "post-50"})

    (error,) = _errors(connections_sink)
    assert error["action"] == "subscribe" and error["code"] == "TOO_MANY_SUBSCRIPTIONS" and error["message"]
    assert [m["type"] for m in connections_sink.messages_for(CONN)] == ["error"]
    assert tables.snapshot() == before
    assert connections_repository().subscriber_ids("post-50") == []


def test_unsubscribing_frees_a_slot_and_resubscribing_takes_none(tables, connections_sink, configure):
    configure(MAX_SUBSCRIPTIONS_PER_CONNECTION="2")
    _connect()
    _frame({"action": "subscribe", "postId": "a"})
    _frame({"action": "subscribe", "postId": "b"})
    # Re-subscribing a post already held (a reconnecting client's `since` catch-up) is allowed.
    _frame({"action": "subscribe", "postId": "a", "since": 0})
    assert _errors(connections_sink) == []
    _frame({"action": "subscribe", "postId": "c"})
    assert [e["code"] for e in _errors(connections_sink)] == ["TOO_MANY_SUBSCRIPTIONS"]

    _frame({"action": "unsubscribe", "postId": "b"})
    connections_sink.reset()
    _frame({"action": "subscribe", "postId": "c"})
    assert [m["type"] for m in connections_sink.messages_for(CONN)] == ["subscribed", "comments.list"]
    assert connections_repository().subscriber_ids("c") == [CONN]
    assert connections_repository().subscriber_ids("b") == []


def test_subscription_limit_is_per_connection(connections_sink, configure):
    configure(MAX_SUBSCRIPTIONS_PER_CONNECTION="1")
    _connect("conn-1=")
    _connect("conn-2=")
    _frame({"action": "subscribe", "postId": "a"}, "conn-1=")
    _frame({"action": "subscribe", "postId": "b"}, "conn-2=")
    assert _errors(connections_sink, "conn-1=") == _errors(connections_sink, "conn-2=") == []


# --- connections per user --------------------------------------------------------------------------
# $disconnect leaves the slot item alone; a $connect at the limit takes back the slots whose
# connection item is gone, once they are older than the grace a running $connect has.
def _slots(tables, user_id="alice") -> dict[str, int]:
    """The user's slot item: {connection id: expires}."""
    item = tables.client.get_item(TableName=tables.connections, Key=slots_key(user_id), ConsistentRead=True)
    return {held: int(expires["N"]) for held, expires in item["Item"]["slots"]["M"].items()}


def _slots_of(tables, clock, limit):
    return UserConnectionSlots(tables.client, tables.connections, limit, clock=clock)


def test_the_11th_connection_of_a_user_is_refused_until_one_closes(tables, clock):
    for index in range(10):
        assert _connect(f"conn-{index}=") == {"statusCode": 200}
    before = tables.snapshot()

    assert _connect("conn-10=") == {"statusCode": 429}
    assert tables.snapshot() == before
    # Another user is not affected, and a retried $connect of a held connection keeps its slot.
    assert _connect("conn-bob=", user_id="bob") == {"statusCode": 200}
    assert _connect("conn-3=") == {"statusCode": 200}

    ws_disconnect.handler(ws_event("$disconnect", "conn-3="), None)
    clock.advance(CONNECT_GRACE_SECONDS + 1)
    assert _connect("conn-10=") == {"statusCode": 200}
    assert _connect("conn-11=") == {"statusCode": 429}
    assert set(_slots(tables)) == {f"conn-{index}=" for index in range(11)} - {"conn-3="}


def test_a_410_cleanup_gives_the_slot_back(tables, configure, clock):
    configure(MAX_CONNECTIONS_PER_USER="1")
    assert _connect("conn-a=") == {"statusCode": 200}
    assert _connect("conn-b=") == {"statusCode": 429}
    connections_repository().delete_connection("conn-a=")  # what a 410 Gone on a send does
    clock.advance(CONNECT_GRACE_SECONDS + 1)
    assert _connect("conn-b=") == {"statusCode": 200}
    assert set(_slots(tables)) == {"conn-b="}


def test_the_slots_of_closed_connections_past_the_grace_are_taken_back(tables, configure, clock):
    configure(MAX_CONNECTIONS_PER_USER="3")
    for name in ("old=", "older=", "live="):
        assert _connect(name) == {"statusCode": 200}
    ws_disconnect.handler(ws_event("$disconnect", "old="), None)
    ws_disconnect.handler(ws_event("$disconnect", "older="), None)
    assert set(_slots(tables)) == {"old=", "older=", "live="}  # $disconnect left them
    clock.advance(CONNECT_GRACE_SECONDS + 1)

    assert _connect("new=") == {"statusCode": 200}
    # Every dead slot went, not only the one the new connection needed.
    slots = _slots(tables)
    assert set(slots) == {"live=", "new="}
    assert slots["new="] == int(clock.now) + MAX_CONNECTION_SECONDS


def test_a_closed_connection_younger_than_the_grace_still_counts(tables, configure, clock):
    configure(MAX_CONNECTIONS_PER_USER="1")
    assert _connect("tab=") == {"statusCode": 200}
    clock.advance(CONNECT_GRACE_SECONDS - 1)
    ws_disconnect.handler(ws_event("$disconnect", "tab="), None)
    before = tables.snapshot()

    assert _connect("next=") == {"statusCode": 429}
    clock.advance(1)  # exactly the grace since the closed tab connected
    assert _connect("next=") == {"statusCode": 429}
    assert tables.snapshot() == before
    clock.advance(1)
    assert _connect("next=") == {"statusCode": 200}
    assert set(_slots(tables)) == {"next="}


def test_a_live_connection_keeps_its_slot_however_old(tables, configure, clock):
    configure(MAX_CONNECTIONS_PER_USER="1")
    assert _connect("tab=") == {"statusCode": 200}
    clock.advance(MAX_CONNECTION_SECONDS - 1)  # its item is there: it is open
    before = tables.snapshot()
    assert _connect("next=") == {"statusCode": 429}
    assert tables.snapshot() == before


def test_a_slot_whose_connect_is_still_running_is_not_taken(tables, clock):
    """Claimed, its connection item not written yet: within the grace it is not dead."""
    slots = _slots_of(tables, clock, limit=1)
    assert slots.claim("alice", "connecting=")
    clock.advance(CONNECT_GRACE_SECONDS)
    assert not slots.claim("alice", "other=")
    assert set(_slots(tables)) == {"connecting="}
    # Past the grace, API Gateway has given up on that $connect: its connection never opened.
    clock.advance(1)
    assert slots.claim("alice", "other=")
    assert set(_slots(tables)) == {"other="}


def test_two_connects_reclaiming_at_once_stay_within_the_limit(tables, clock):
    """Both find the same dead slot; the second writer's version check fails, it reads again and
    finds the user at the limit with nothing dead left."""
    slots = _slots_of(tables, clock, limit=2)
    assert slots.claim("alice", "dead=")
    assert slots.claim("alice", "live=")
    tables.client.put_item(
        TableName=tables.connections,
        Item={"connectionId": {"S": "live="}, "sk": {"S": "connection"}, "userId": {"S": "alice"}},
    )
    clock.advance(CONNECT_GRACE_SECONDS + 1)
    calls = []

    class Interleaved:
        """The real client, with the other $connect's whole claim run just before this one's write."""

        exceptions = tables.client.exceptions

        def __getattr__(self, name):
            calls.append(name)
            return getattr(tables.client, name)

        def put_item(self, **kwargs):
            calls.append("put_item")
            if calls.count("put_item") == 1:
                assert _slots_of(tables, clock, limit=2).claim("alice", "second=")
            return tables.client.put_item(**kwargs)

    first = UserConnectionSlots(Interleaved(), tables.connections, 2, clock=clock)
    assert not first.claim("alice", "first=")
    # read, reclaim, write (lost); read again: `second=` inside the grace, `live=` open.
    assert calls == ["get_item", "batch_get_item", "put_item", "get_item", "batch_get_item"]
    assert set(_slots(tables)) == {"live=", "second="}


def test_connect_reads_connection_items_only_at_the_limit_with_slots_past_the_grace(configure, clock):
    configure(MAX_CONNECTIONS_PER_USER="2")
    client = ws_connect.connections().client
    assert _connect("first=") == {"statusCode": 200}
    # the slot item read and written, the connection (listed in byShard by the same write), the counter
    assert dynamodb_calls_of(lambda: _connect("second="), client) == [
        "GetItem",
        "PutItem",
        "PutItem",
        "UpdateItem",
    ]
    assert dynamodb_calls_of(lambda: _connect("third="), client) == ["GetItem"]  # none past the grace
    clock.advance(CONNECT_GRACE_SECONDS + 1)
    assert dynamodb_calls_of(lambda: _connect("third="), client) == ["GetItem", "BatchGetItem"]


def test_keys_left_unprocessed_are_retried_and_count_as_open_if_they_stay(tables, clock, monkeypatch):
    from realtime_comments.limits import connection_slots

    backoffs: list[float] = []
    monkeypatch.setattr(connection_slots, "time", SimpleNamespace(sleep=backoffs.append))
    setup = _slots_of(tables, clock, limit=2)
    assert setup.claim("alice", "gone-1=") and setup.claim("alice", "gone-2=")
    clock.advance(CONNECT_GRACE_SECONDS + 1)

    class Throttled:
        """The real client, whose first `rounds` BatchGetItems hand every key back unprocessed
        (what DynamoDB may do under throttling)."""

        exceptions = tables.client.exceptions

        def __init__(self, rounds):
            self.rounds = rounds
            self.batches = 0

        def __getattr__(self, name):
            return getattr(tables.client, name)

        def batch_get_item(self, RequestItems):  # noqa: N803 - boto3's name
            self.batches += 1
            if self.batches > self.rounds:
                return tables.client.batch_get_item(RequestItems=RequestItems)
            return {"Responses": {}, "UnprocessedKeys": RequestItems}

    stubborn = Throttled(rounds=100)
    before = tables.snapshot()
    # Never read, so not known to be gone: both still count.
    assert not UserConnectionSlots(stubborn, tables.connections, 2, clock=clock).claim("alice", "a=")
    assert stubborn.batches == len(backoffs) == 8 and backoffs == sorted(backoffs)
    assert tables.snapshot() == before

    once = Throttled(rounds=1)
    assert UserConnectionSlots(once, tables.connections, 2, clock=clock).claim("alice", "a=")
    assert once.batches == 2
    assert set(_slots(tables)) == {"a="}


def test_a_slot_whose_disconnect_never_ran_expires_with_the_longest_connection(configure, clock):
    configure(MAX_CONNECTIONS_PER_USER="1")
    assert _connect("conn-a=") == {"statusCode": 200}
    clock.advance(MAX_CONNECTION_SECONDS - 1)
    assert _connect("conn-b=") == {"statusCode": 429}
    clock.advance(2)
    assert _connect("conn-b=") == {"statusCode": 200}


# --- comment writes per user -----------------------------------------------------------------------
def _call(method, comment_id=None, user_id="alice", body=None, headers=None):
    path, route, params = comments_path("post-1", comment_id)
    event = http_event(
        method, path, route=route, path_parameters=params, body=body, user_id=user_id, headers=headers
    )
    response = comments_api.handler(event, FakeLambdaContext())
    return response["statusCode"], (json.loads(response["body"]) if response.get("body") else None), response


def test_comment_writes_beyond_the_burst_get_429_with_retry_after(tables, clock):
    created = [_call("POST", body={"content": f"c{i}"}) for i in range(19)]
    assert [status for status, _, _ in created] == [201] * 19
    # PATCH and DELETE count against the same bucket.
    assert _call("PATCH", created[0][1]["id"], body={"content": "edited"})[0] == 200
    before = tables.snapshot()

    for attempt in (
        lambda: _call("POST", body={"content": "one too many"}),
        lambda: _call("PATCH", created[1][1]["id"], body={"content": "x"}),
        lambda: _call("DELETE", created[2][1]["id"]),
    ):
        status, body, response = attempt()
        assert status == 429
        assert body["error"]["code"] == "RATE_LIMITED" and body["error"]["message"]
        retry_after = response["headers"]["Retry-After"]
        assert retry_after.isdigit() and int(retry_after) >= 1
    assert tables.snapshot() == before  # nothing written, so nothing reaches the stream

    assert _call("POST", user_id="bob", body={"content": "another user"})[0] == 201
    clock.advance(0.2)  # one write's worth at 5 per second
    assert _call("POST", body={"content": "allowed again"})[0] == 201
    assert _call("POST", body={"content": "and refused"})[0] == 429


def test_retry_after_says_when_a_write_is_allowed(clock, configure):
    configure(COMMENT_WRITE_RATE="1", COMMENT_WRITE_BURST="1")
    assert _call("POST", body={"content": "first"})[0] == 201
    clock.advance(0.25)
    status, _, response = _call("POST", body={"content": "second"})
    assert status == 429 and response["headers"]["Retry-After"] == "1"  # 0.75 s, rounded up
    clock.advance(0.75)
    assert _call("POST", body={"content": "second"})[0] == 201


def test_idempotent_replays_do_not_count(tables, clock, configure):
    configure(COMMENT_WRITE_BURST="2")
    key = {"Idempotency-Key": "k-1"}
    status, first, _ = _call("POST", body={"content": "once"}, headers=key)
    assert status == 201
    assert _call("POST", body={"content": "two"})[0] == 201
    assert _call("POST", body={"content": "three"})[0] == 429
    before = tables.snapshot()
    for _ in range(5):
        status, replay, _ = _call("POST", body={"content": "once"}, headers=key)
        assert status == 201 and replay == first
    assert tables.snapshot() == before
    # A new key is a new write, and is limited.
    assert _call("POST", body={"content": "new"}, headers={"Idempotency-Key": "k-2"})[0] == 429
    assert tables.snapshot() == before


def test_refused_for_another_reason_costs_no_write_quota(clock, configure):
    configure(COMMENT_WRITE_BURST="1")
    created = _call("POST", body={"content": "mine"})[1]
    clock.advance(0.2)
    assert _call("PATCH", created["id"], user_id="bob", body={"content": "x"})[0] == 403
    assert _call("POST", body={"content": "\u0000"})[0] == 400
    assert _call("PATCH", created["id"], body={"content": "edited"})[0] == 200


# --- action frames per connection ------------------------------------------------------------------
def test_frames_beyond_the_burst_are_refused_unprocessed(tables, connections_sink, clock):
    _connect()
    for _ in range(20):
        _frame({"action": "ping"})
    assert [m["type"] for m in connections_sink.messages_for(CONN)] == ["pong"] * 20
    connections_sink.reset()
    before = tables.snapshot()

    _frame({"action": "subscribe", "postId": "post-1"})
    ws_default.handler(ws_event("$default", CONN, raw_body="hello"), None)

    errors = _errors(connections_sink)
    assert [(e["action"], e["code"]) for e in errors] == [
        ("subscribe", "RATE_LIMITED"),
        ("$default", "RATE_LIMITED"),
    ]
    assert len(connections_sink.messages_for(CONN)) == 2
    assert tables.snapshot() == before
    assert connections_repository().subscriber_ids("post-1") == []

    clock.advance(0.1)  # one frame's worth at 10 per second
    connections_sink.reset()
    _frame({"action": "ping"})
    _frame({"action": "ping"})
    assert [m["type"] for m in connections_sink.messages_for(CONN)] == ["pong", "error"]


def test_frame_rate_is_per_connection(connections_sink, clock, configure):
    configure(ACTION_BURST="1")
    _connect("conn-1=")
    _connect("conn-2=")
    _frame({"action": "ping"}, "conn-1=")
    _frame({"action": "ping"}, "conn-2=")
    assert [m["type"] for m in connections_sink.messages_for("conn-1=")] == ["pong"]
    assert [m["type"] for m in connections_sink.messages_for("conn-2=")] == ["pong"]


def test_default_limits():
    from realtime_comments.settings import (
        ActionsSettings,
        CommentsApiSettings,
        ConnectSettings,
        DefaultRouteSettings,
    )

    base = {"CONNECTIONS_TABLE_NAME": "c", "WEBSOCKET_CALLBACK_URL": "http://x", "COMMENTS_TABLE_NAME": "m"}
    actions = ActionsSettings.from_env(base)
    assert actions.max_subscriptions_per_connection == 50
    assert (actions.action_rate, actions.action_burst) == (10, 20)
    default_route = DefaultRouteSettings.from_env(base)
    assert (default_route.action_rate, default_route.action_burst) == (10, 20)
    assert ConnectSettings.from_env(base).max_connections_per_user == 10
    writes = CommentsApiSettings.from_env({**base, "IDEMPOTENCY_TABLE_NAME": "i"})
    assert (writes.comment_write_rate, writes.comment_write_burst) == (5, 20)
