"""The data process and its additions to moto: the TTL sweeper, per-table locks, the item
serializer (held against moto's own), stream wake-ups, and the snapshot."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from local_runtime.data_store import (
    QUERY_CACHE,
    DataServer,
    TableLocks,
    install_queue_hook,
    install_stream_hook,
    sweep_expired,
    tables_of,
    write_snapshot,
)
from local_runtime.model import TableSpec
from local_runtime.storage import DataStore, create_queue, create_table, local_client, restore_snapshot

T = TypeVar("T")


def fast_and_moto(ask: Callable[[], T]) -> tuple[T, T]:
    """``ask()`` answered through the data server's fast paths, then through moto's own code."""
    from moto.dynamodb.responses import DynamoResult

    assert DynamoResult.fast_items is True
    fast = ask()
    DynamoResult.fast_items = False
    try:
        return fast, ask()
    finally:
        DynamoResult.fast_items = True


def _create_pk_sk_table(ddb: Any, name: str, *, also: tuple[str, ...] = (), **extra: Any) -> None:
    """A table keyed by the strings pk + sk (``also``: more string attributes its indexes use)."""
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": attr, "AttributeType": "S"} for attr in ("pk", "sk", *also)],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


def _create_by_post_table(ddb: Any, name: str) -> None:
    """pk + sk, and the GSI byPost (postId, then pk), as the connections table's subscriptions."""
    _create_pk_sk_table(
        ddb,
        name,
        also=("postId",),
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byPost",
                "KeySchema": [
                    {"AttributeName": "postId", "KeyType": "HASH"},
                    {"AttributeName": "pk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )


@pytest.fixture(scope="module")
def server() -> Iterator[DataServer]:
    data = DataServer("127.0.0.1")
    yield data
    data.stop()


def _spec(name: str) -> TableSpec:
    return TableSpec(
        logical_id=name,
        name=name,
        key_schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        attribute_definitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        stream_view_type="NEW_AND_OLD_IMAGES",
        ttl_attribute="expiresAt",
    )


def test_ttl_sweeper_deletes_expired_items_as_the_ttl_service(server: DataServer) -> None:
    ddb, streams = local_client("dynamodb", server.url), local_client("dynamodbstreams", server.url)
    spec = _spec("ttl-test")
    arn = create_table(ddb, spec)
    assert arn
    woken: list[int] = []
    install_stream_hook(lambda: woken.append(1))
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    now = int(time.time())
    ddb.put_item(
        TableName=spec.name, Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "expiresAt": {"N": str(now - 5)}}
    )
    ddb.put_item(
        TableName=spec.name, Item={"pk": {"S": "b"}, "sk": {"S": "1"}, "expiresAt": {"N": str(now + 999)}}
    )
    ddb.put_item(TableName=spec.name, Item={"pk": {"S": "c"}, "sk": {"S": "1"}})
    ddb.delete_item(TableName=spec.name, Key={"pk": {"S": "c"}, "sk": {"S": "1"}})  # a user delete
    assert sweep_expired(server.locks, spec.name) == 1
    left = {i["pk"]["S"] for i in ddb.scan(TableName=spec.name)["Items"]}
    assert left == {"b"}
    records = streams.get_records(ShardIterator=it)["Records"]
    removes = [r for r in records if r["eventName"] == "REMOVE"]
    assert len(removes) == 2
    by_key = {r["dynamodb"]["Keys"]["pk"]["S"]: r for r in removes}
    assert by_key["a"]["userIdentity"] == {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
    assert "userIdentity" not in by_key["c"]
    assert woken  # the stream hook fires on every write


def test_a_message_put_on_a_queue_wakes_its_poller_before_the_fallback_poll(server: DataServer) -> None:
    """The queue hook wakes the SQS poller (in the runtime through a datagram): the message is
    delivered long before the poller's fallback poll, 60 s after its first empty one."""
    from local_runtime.functions import InvokeResult
    from local_runtime.model import EventSourceSpec
    from local_runtime.streams import SqsPoller

    sqs = local_client("sqs", server.url)
    queue_url = create_queue(sqs, "wake-test", {})
    invoked: list[list[str]] = []

    class Functions:
        async def invoke(self, name: str, event: dict[str, Any]) -> InvokeResult:
            invoked.append([record["body"] for record in event["Records"]])
            return InvokeResult(True, {})

    spec = EventSourceSpec(
        logical_id="E",
        function="F",
        source_kind="sqs",
        source_logical_id="Q",
        source_arn="arn:q",
        batch_size=10,
    )
    poller = SqsPoller(spec, Functions(), sqs, queue_url, poll_interval=60)  # type: ignore[arg-type]
    woken: list[str] = []

    def on_message(name: str) -> None:
        woken.append(name)
        poller.wake()

    async def scenario() -> None:
        install_queue_hook(on_message)
        await poller.start()
        try:
            await asyncio.sleep(0.3)  # its first poll found the queue empty: it waits for 60 s
            await asyncio.to_thread(sqs.send_message, QueueUrl=queue_url, MessageBody="hello")
            deadline = time.monotonic() + 10
            while not invoked and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        finally:
            install_queue_hook(lambda _name: None)
            await poller.stop()

    asyncio.run(scenario())
    assert woken == ["wake-test"] and invoked == [["hello"]]
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0)  # deleted


def test_concurrent_adds_to_one_item_are_atomic(server: DataServer) -> None:
    """The lost update moto shows without the table locks: 8 threads x 25 ADDs must total 200."""
    ddb = local_client("dynamodb", server.url)
    spec = _spec("atomic-test")
    create_table(ddb, spec)
    key = {"pk": {"S": "counter"}, "sk": {"S": "x"}}

    def add() -> None:
        for _ in range(25):
            ddb.update_item(
                TableName=spec.name,
                Key=key,
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )

    threads = [threading.Thread(target=add) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ddb.get_item(TableName=spec.name, Key=key, ConsistentRead=True)["Item"]["n"] == {"N": "200"}


def test_a_write_waits_only_for_its_own_table() -> None:
    locks = TableLocks()
    with locks.hold(["a"], exclusive=True):
        entered = threading.Event()

        def other_table() -> None:
            with locks.hold(["b"], exclusive=True):
                entered.set()

        threading.Thread(target=other_table).start()
        assert entered.wait(2), "a write to table b waited for table a"
        readers = threading.Event()

        def reader_of_a() -> None:
            with locks.hold(["a"], exclusive=False):
                readers.set()

        threading.Thread(target=reader_of_a).start()
        assert not readers.wait(0.2), "a read of table a went past its writer"
    assert readers.wait(2)


def test_tables_of_every_request_shape() -> None:
    assert tables_of({"TableName": "t"}) == ["t"]
    assert sorted(tables_of({"RequestItems": {"a": [], "b": []}})) == ["a", "b"]
    assert tables_of({"TransactItems": [{"Put": {"TableName": "x"}}, {"Update": {"TableName": "y"}}]}) == [
        "x",
        "y",
    ]
    assert tables_of({}) == []


ITEMS: list[dict[str, Any]] = [
    {
        "pk": {"S": "p1"},
        "sk": {"S": "a"},
        "n": {"N": "12.50"},
        "flag": {"BOOL": True},
        "nothing": {"NULL": True},
    },
    {
        "pk": {"S": "p1"},
        "sk": {"S": "b"},
        "bin": {"B": b"\x00\xff\x10"},
        "bins": {"BS": [b"\x01", b"\x02"]},
        "strings": {"SS": ["x", "y"]},
        "numbers": {"NS": ["1", "2"]},
        "nested": {"M": {"l": {"L": [{"S": "é\u2028"}, {"N": "-3"}, {"M": {"b": {"B": b"z"}}}]}}},
    },
]


def test_item_responses_match_motos_own_serializer(server: DataServer) -> None:
    """The same requests answered by moto's serializer and by the data server's JSON path parse to
    the same responses (binary values included), and the fast path is the one in use."""
    ddb = local_client("dynamodb", server.url)
    spec = _spec("serializer-test")
    create_table(ddb, spec)
    for item in ITEMS:
        ddb.put_item(TableName=spec.name, Item=item)
    key_b = {"pk": {"S": "p1"}, "sk": {"S": "b"}}
    requests: list[tuple[str, dict[str, Any]]] = [
        (
            "update_item",
            {
                "TableName": spec.name,
                "Key": key_b,
                "UpdateExpression": "SET extra = :x",
                "ExpressionAttributeValues": {":x": {"B": b"\x07"}},
                "ReturnValues": "ALL_NEW",
            },
        ),
        (
            "query",
            {
                "TableName": spec.name,
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "p1"}},
                "Limit": 1,
                "ReturnConsumedCapacity": "TOTAL",
            },
        ),
        ("get_item", {"TableName": spec.name, "Key": key_b}),
        (
            "query",
            {
                "TableName": spec.name,
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "p1"}},
                "ProjectionExpression": "sk, bin, nested.l",
            },
        ),
        ("batch_get_item", {"RequestItems": {spec.name: {"Keys": [key_b]}}}),
        ("scan", {"TableName": spec.name}),
    ]

    streams = local_client("dynamodbstreams", server.url)
    arn = ddb.describe_table(TableName=spec.name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    def answers() -> list[dict[str, Any]]:
        out = []
        for operation, kwargs in requests:
            response = getattr(ddb, operation)(**kwargs)
            response.pop("ResponseMetadata")
            out.append(response)
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
        out.append({"Records": records[:2]})  # the two INSERTs: images with binary values, timestamps
        return out

    fast, reference = fast_and_moto(answers)
    assert fast == reference
    with_extra = {**ITEMS[1], "extra": {"B": b"\x07"}}  # the update runs first, in both passes
    assert fast[0]["Attributes"] == with_extra
    assert fast[1]["Items"] == [ITEMS[0]] and fast[1]["LastEvaluatedKey"] and fast[1]["ConsumedCapacity"]
    assert fast[2]["Item"] == with_extra
    assert fast[3]["Items"][1] == {"sk": {"S": "b"}, "bin": ITEMS[1]["bin"], "nested": ITEMS[1]["nested"]}
    assert fast[4]["Responses"][spec.name] == [with_extra]
    assert fast[6]["Records"][0]["dynamodb"]["NewImage"] == ITEMS[0]
    assert fast[6]["Records"][0]["dynamodb"]["ApproximateCreationDateTime"].year >= 2026


def test_the_data_process_wakes_the_runtime_sweeps_ttl_and_saves_snapshots(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.json"

    async def scenario() -> tuple[bytes, list[str]]:
        wake = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        wake.bind(("127.0.0.1", 0))
        wake.settimeout(5)
        store = DataStore(
            "127.0.0.1",
            notify_port=wake.getsockname()[1],
            ttl_sweep_interval=0.2,
            snapshot=snapshot,
            snapshot_interval=0.2,
        )
        await store.start()
        try:
            ddb = store.client("dynamodb")
            spec = _spec("process-ttl")
            await asyncio.to_thread(create_table, ddb, spec)
            await asyncio.to_thread(
                ddb.put_item,
                TableName=spec.name,
                Item={"pk": {"S": "old"}, "sk": {"S": "1"}, "expiresAt": {"N": str(int(time.time()) - 1)}},
            )
            datagrams = await asyncio.to_thread(wake.recv, 16)
            sqs = store.client("sqs")
            queue_url = await asyncio.to_thread(create_queue, sqs, "process-wake", {})
            await asyncio.to_thread(sqs.send_message, QueueUrl=queue_url, MessageBody="m")
            queue_datagrams: list[bytes] = []
            while b"q:process-wake" not in queue_datagrams:  # after the stream's, in order
                queue_datagrams.append(await asyncio.to_thread(wake.recv, 64))
            left: list[str] = ["old"]
            deadline = time.monotonic() + 10
            while left and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                items = (await asyncio.to_thread(ddb.scan, TableName=spec.name))["Items"]
                left = [i["pk"]["S"] for i in items]
            await asyncio.to_thread(
                ddb.put_item,
                TableName=spec.name,
                Item={"pk": {"S": "kept"}, "sk": {"S": "1"}, "b": {"B": b"\x01"}},
            )
            return datagrams, left
        finally:
            await store.stop()
            wake.close()

    woken, left = asyncio.run(scenario())
    assert woken == b"s"  # a stream record appended
    assert left == []
    saved = json.loads(snapshot.read_text())["tables"]["process-ttl"]  # the final one, at stop
    assert saved == [{"pk": {"S": "kept"}, "sk": {"S": "1"}, "b": {"B": "AQ=="}}]


def test_snapshot_round_trip(server: DataServer, tmp_path: Path) -> None:
    ddb = local_client("dynamodb", server.url)
    spec = _spec("snap-test")
    create_table(ddb, spec)
    for i in range(60):
        ddb.put_item(
            TableName=spec.name,
            Item={
                "pk": {"S": f"p{i}"},
                "sk": {"S": "x"},
                "n": {"N": str(i)},
                "b": {"B": b"\x00\x01"},
                "l": {"L": [{"S": "v"}]},
            },
        )
    path = tmp_path / "snapshot.json"
    saved = json.loads(path.read_text()) if path.exists() else None
    assert saved is None
    assert write_snapshot(server.locks, path) >= 60  # every table of the server, this one included
    assert len(json.loads(path.read_text())["tables"][spec.name]) == 60
    ddb.delete_table(TableName=spec.name)
    create_table(ddb, spec)
    assert restore_snapshot(path, ddb, [spec]) == 60
    items = ddb.scan(TableName=spec.name)["Items"]
    assert len(items) == 60 and all(i["b"]["B"] == b"\x00\x01" for i in items)


def test_cached_table_views_follow_every_write(server: DataServer) -> None:
    """GSI and table Queries answered from the cached views equal moto's own answers, before and
    after each kind of write (put, update of the index key, delete, batch write)."""
    ddb = local_client("dynamodb", server.url)
    _create_by_post_table(ddb, "views-test")

    def both() -> tuple[list[Any], list[Any]]:
        def ask() -> list[Any]:
            by_post = ddb.query(
                TableName="views-test",
                IndexName="byPost",
                KeyConditionExpression="postId = :p",
                ExpressionAttributeValues={":p": {"S": "p1"}},
                ProjectionExpression="pk",
            )["Items"]
            by_key = ddb.query(
                TableName="views-test",
                KeyConditionExpression="pk = :k",
                ExpressionAttributeValues={":k": {"S": "c2"}},
            )["Items"]
            return [by_post, by_key]

        return fast_and_moto(ask)

    def sub(pk: str, post: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": f"sub#{post}"}, "postId": {"S": post}}

    for pk in ("c1", "c2", "c3"):
        ddb.put_item(TableName="views-test", Item=sub(pk, "p1"))
    fast, reference = both()
    assert fast == reference and [i["pk"]["S"] for i in fast[0]] == ["c1", "c2", "c3"]
    ddb.put_item(TableName="views-test", Item=sub("c4", "p1"))
    ddb.update_item(
        TableName="views-test",
        Key={"pk": {"S": "c1"}, "sk": {"S": "sub#p1"}},
        UpdateExpression="SET postId = :other",
        ExpressionAttributeValues={":other": {"S": "p2"}},
    )
    ddb.delete_item(TableName="views-test", Key={"pk": {"S": "c3"}, "sk": {"S": "sub#p1"}})
    ddb.batch_write_item(RequestItems={"views-test": [{"PutRequest": {"Item": sub("c2", "p9")}}]})
    fast, reference = both()
    assert fast == reference
    assert [i["pk"]["S"] for i in fast[0]] == ["c2", "c4"]
    assert sorted(i["sk"]["S"] for i in fast[1]) == ["sub#p1", "sub#p9"]


def test_index_query_answers_are_kept_until_a_write_can_change_them(server: DataServer) -> None:
    """A `byPost` answer is served again after writes to items outside the index (a user's
    counter), and equals moto's own answer after every kind of write that can change it: an item
    entering the index by UpdateItem, put, replace, delete, batch write, transaction, TTL."""
    ddb = local_client("dynamodb", server.url)
    _create_by_post_table(ddb, "query-cache-test")
    ddb.update_time_to_live(
        TableName="query-cache-test",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"},
    )
    user_key = {"pk": {"S": "u1"}, "sk": {"S": "limit"}}

    def sub(pk: str, post: str = "p1") -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": "sub"}, "postId": {"S": post}}

    def ask() -> dict[str, Any]:
        return ddb.query(
            TableName="query-cache-test",
            IndexName="byPost",
            KeyConditionExpression="postId = :p",
            ExpressionAttributeValues={":p": {"S": "p1"}},
        )

    def subscribers(expected: list[str], *, served_again: bool) -> None:
        hits = QUERY_CACHE.hits
        fast, reference = fast_and_moto(ask)
        assert (QUERY_CACHE.hits - hits == 1) is served_again
        assert fast["Items"] == reference["Items"] and fast["Count"] == reference["Count"]
        assert [item["pk"]["S"] for item in fast["Items"]] == expected

    for pk in ("c1", "c2"):
        ddb.put_item(TableName="query-cache-test", Item=sub(pk))
    subscribers(["c1", "c2"], served_again=False)
    first, again = ask(), ask()
    assert first["Items"] == again["Items"]
    assert first["ResponseMetadata"]["RequestId"] != again["ResponseMetadata"]["RequestId"]
    for _ in range(2):  # writes to an item outside the index keep the answer
        ddb.update_item(
            TableName="query-cache-test",
            Key=user_key,
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    ddb.put_item(TableName="query-cache-test", Item=sub("c9", "p2"))  # another post's: in the index
    subscribers(["c1", "c2"], served_again=False)
    subscribers(["c1", "c2"], served_again=True)

    ddb.update_item(
        TableName="query-cache-test",
        Key=user_key,
        UpdateExpression="SET postId = :p",
        ExpressionAttributeValues={":p": {"S": "p1"}},
    )
    subscribers(["c1", "c2", "u1"], served_again=False)
    ddb.put_item(TableName="query-cache-test", Item=sub("c2", "p2"))  # replaced: leaves p1
    subscribers(["c1", "u1"], served_again=False)
    ddb.delete_item(TableName="query-cache-test", Key={"pk": {"S": "c1"}, "sk": {"S": "sub"}})
    subscribers(["u1"], served_again=False)
    ddb.batch_write_item(RequestItems={"query-cache-test": [{"PutRequest": {"Item": sub("c3")}}]})
    subscribers(["c3", "u1"], served_again=False)
    ddb.transact_write_items(TransactItems=[{"Delete": {"TableName": "query-cache-test", "Key": user_key}}])
    subscribers(["c3"], served_again=False)
    expired = {**sub("c4"), "expiresAt": {"N": str(int(time.time()) - 5)}}
    ddb.put_item(TableName="query-cache-test", Item=expired)
    subscribers(["c3", "c4"], served_again=False)
    assert sweep_expired(server.locks, "query-cache-test") == 1
    subscribers(["c3"], served_again=False)
    subscribers(["c3"], served_again=True)


def test_counter_adds_answer_and_change_items_as_moto_does(server: DataServer, monkeypatch: Any) -> None:
    """UpdateItem ``ADD`` of an integer through the data server's own path equals moto's: the
    answers for each ReturnValues, the stored items, the stream records and, for every shape the
    path leaves to moto, the errors."""
    from botocore.exceptions import ClientError

    import local_runtime.data_store as data_store

    ddb, streams = local_client("dynamodb", server.url), local_client("dynamodbstreams", server.url)
    taken: list[bool] = []
    original = data_store.add_to_counter

    def spy(table: Any, body: dict[str, Any]) -> Any:
        answer = original(table, body)
        taken.append(answer is not None)
        return answer

    monkeypatch.setattr(data_store, "add_to_counter", spy)
    stream = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    for name in ("adds-fast", "adds-moto"):
        _create_pk_sk_table(ddb, name)
        _create_pk_sk_table(ddb, f"{name}-stream", **stream)

    def update(table: str, **request: Any) -> Any:
        try:
            answer = ddb.update_item(TableName=table, Key={"pk": {"S": "k"}, "sk": {"S": "c"}}, **request)
        except ClientError as error:
            return error.response["Error"]["Code"]
        answer.pop("ResponseMetadata")
        assert answer["ConsumedCapacity"].pop("TableName") == table
        return answer

    def both(suffix: str = "", **request: Any) -> Any:
        from moto.dynamodb.responses import DynamoResult

        taken.clear()
        fast = update(f"adds-fast{suffix}", **request)
        took = taken[-1] if taken else False
        DynamoResult.fast_items = False
        try:
            reference = update(f"adds-moto{suffix}", **request)
        finally:
            DynamoResult.fast_items = True
        assert fast == reference, request
        return took

    def add(expression: str, value: str, **extra: Any) -> dict[str, Any]:
        return {"UpdateExpression": expression, "ExpressionAttributeValues": {":v": {"N": value}}, **extra}

    named = {"ExpressionAttributeNames": {"#c": "count"}}
    assert both(**add("ADD #c :v", "1", **named)) is True  # creates the item
    assert both(**add("ADD #c :v", "-3", **named, ReturnValues="UPDATED_NEW")) is True
    assert both(**add(" ADD  lastSeq :v ", "7", ReturnValues="ALL_NEW")) is True
    for left_to_moto in (
        add("ADD count :v", "1"),  # a reserved word
        add("ADD #c :v", "1.5", **named),  # not an integer
        add("ADD #c :v", "1", **named, ConditionExpression="attribute_exists(pk)"),
        add("ADD #c :v", "1", **named, ReturnValues="ALL_OLD"),
        add("ADD #c :v", "1", ExpressionAttributeNames={"#c": "count", "#x": "x"}),  # unused name
        add("ADD sk :v", "1"),  # a key attribute
        add("SET #c = :v", "1", **named),
    ):
        assert both(**left_to_moto) is False
    ddb.put_item(TableName="adds-fast", Item={"pk": {"S": "k"}, "sk": {"S": "c"}, "s": {"S": "text"}})
    ddb.put_item(TableName="adds-moto", Item={"pk": {"S": "k"}, "sk": {"S": "c"}, "s": {"S": "text"}})
    assert both(**add("ADD s :v", "1")) is False  # not a number: moto's error
    assert both(**add("ADD n :v", "2", ReturnValues="ALL_NEW")) is True

    assert both("-stream", **add("ADD n :v", "1")) is False  # a new item on a stream: moto's records
    assert both("-stream", **add("ADD n :v", "5", ReturnValues="UPDATED_NEW")) is True

    def records(table: str) -> list[Any]:
        arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        found = streams.get_records(ShardIterator=it["ShardIterator"])["Records"]
        return [
            (r["eventName"], {k: v for k, v in r["dynamodb"].items() if k.endswith(("Keys", "Image"))})
            for r in found
        ]

    assert records("adds-fast-stream") == records("adds-moto-stream")
    for suffix in ("", "-stream"):
        fast, reference = (ddb.scan(TableName=f"adds-{kind}{suffix}")["Items"] for kind in ("fast", "moto"))
        assert fast == reference


def test_an_index_query_orders_items_written_out_of_key_order(server: DataServer) -> None:
    """The index buckets keep the table's insertion order, not its key order: moto's Query sorts
    an index's candidates itself, so pages in both directions equal moto's own answers."""
    ddb = local_client("dynamodb", server.url)
    _create_by_post_table(ddb, "index-order")
    for pk, sk in (("c9", "sub#b"), ("c1", "sub#z"), ("c5", "sub#a"), ("c1", "sub#a"), ("c7", "sub#m")):
        ddb.put_item(TableName="index-order", Item={"pk": {"S": pk}, "sk": {"S": sk}, "postId": {"S": "p1"}})
    # A write elsewhere in the table, as the write limit's counter is beside the subscriptions.
    ddb.put_item(TableName="index-order", Item={"pk": {"S": "limit#u1"}, "sk": {"S": "limit"}})

    def pages(forward: bool) -> list[list[str]]:
        found, start = [], None
        while True:
            page = ddb.query(
                TableName="index-order",
                IndexName="byPost",
                KeyConditionExpression="postId = :p",
                ExpressionAttributeValues={":p": {"S": "p1"}},
                ScanIndexForward=forward,
                Limit=2,
                **({"ExclusiveStartKey": start} if start else {}),
            )
            found.append([f"{i['pk']['S']}/{i['sk']['S']}" for i in page["Items"]])
            start = page.get("LastEvaluatedKey")
            if not start:
                return found

    fast, reference = fast_and_moto(lambda: [pages(True), pages(False)])
    assert fast == reference
    assert sum(fast[0], []) == ["c1/sub#a", "c1/sub#z", "c5/sub#a", "c7/sub#m", "c9/sub#b"]


def test_an_index_query_orders_numbers_as_numbers(server: DataServer) -> None:
    """The fast sort orders by plain values: numbers as numbers (9 < 10 < 100, not as strings), in
    both directions, as moto's own sort of ``DynamoType``s does."""
    ddb = local_client("dynamodb", server.url)
    ddb.create_table(
        TableName="index-numbers",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "postId", "AttributeType": "S"},
            {"AttributeName": "score", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byScore",
                "KeySchema": [
                    {"AttributeName": "postId", "KeyType": "HASH"},
                    {"AttributeName": "score", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    for pk, score in (("a", "100"), ("b", "9"), ("c", "10"), ("d", "-1.5"), ("e", "10")):
        ddb.put_item(
            TableName="index-numbers", Item={"pk": {"S": pk}, "postId": {"S": "p"}, "score": {"N": score}}
        )

    def ask(forward: bool) -> list[str]:
        items = ddb.query(
            TableName="index-numbers",
            IndexName="byScore",
            KeyConditionExpression="postId = :p",
            ExpressionAttributeValues={":p": {"S": "p"}},
            ScanIndexForward=forward,
        )["Items"]
        return [i["pk"]["S"] for i in items]

    fast, reference = fast_and_moto(lambda: [ask(True), ask(False)])
    assert fast == reference
    assert fast[0] == ["d", "b", "c", "e", "a"] and fast[1] == ["a", "e", "c", "b", "d"]


def test_the_data_server_keeps_no_item_a_request_made(server: DataServer) -> None:
    """moto tracks every model object it creates (for mock_aws's reset); the data server must not,
    or each Query's result copies stay alive for good (300 Items per 100-subscriber Query)."""
    import gc

    from moto.dynamodb.models.dynamo_type import Item

    ddb = local_client("dynamodb", server.url)
    _create_pk_sk_table(ddb, "no-leak")
    for i in range(50):
        ddb.put_item(TableName="no-leak", Item={"pk": {"S": "p"}, "sk": {"S": f"{i:03d}"}})

    def live_items() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) is Item)

    before = live_items()
    for _ in range(20):
        page = ddb.query(
            TableName="no-leak",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "p"}},
        )
        assert len(page["Items"]) == 50
        ddb.update_item(
            TableName="no-leak",
            Key={"pk": {"S": "p"}, "sk": {"S": "000"}},
            UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": {"N": "1"}},
        )
    assert live_items() - before < 50  # 20 Queries of 50 items and 20 updates: 1,000+ when tracked


def test_a_hash_only_table_query_reads_its_one_item(server: DataServer) -> None:
    ddb = local_client("dynamodb", server.url)
    ddb.create_table(
        TableName="hash-only",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for pk in ("a", "b"):
        ddb.put_item(TableName="hash-only", Item={"pk": {"S": pk}, "v": {"N": "1"}})

    def ask(pk: str) -> list[Any]:
        return ddb.query(
            TableName="hash-only",
            KeyConditionExpression="pk = :k",
            ExpressionAttributeValues={":k": {"S": pk}},
        )["Items"]

    assert ask("b") == [{"pk": {"S": "b"}, "v": {"N": "1"}}]
    assert ask("missing") == []


def test_another_moto_server_in_the_process_keeps_motos_behaviour(server: DataServer) -> None:
    """The data server's fast paths are for its own requests: a plain moto server in the same
    process (the handler tests run one) sees every write at once, with no cached view."""
    from moto.server import ThreadedMotoServer

    plain = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    plain.start()
    try:
        host, port = plain.get_host_and_port()
        ddb = local_client("dynamodb", f"http://{host}:{port}")
        spec = _spec("plain-server")
        create_table(ddb, spec)

        def keys() -> list[str]:
            return [
                i["sk"]["S"]
                for i in ddb.query(
                    TableName=spec.name,
                    KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": "p"}},
                )["Items"]
            ]

        ddb.put_item(TableName=spec.name, Item={"pk": {"S": "p"}, "sk": {"S": "1"}})
        assert keys() == ["1"]
        ddb.put_item(TableName=spec.name, Item={"pk": {"S": "p"}, "sk": {"S": "2"}})
        ddb.delete_item(TableName=spec.name, Key={"pk": {"S": "p"}, "sk": {"S": "1"}})
        assert keys() == ["2"]
    finally:
        plain.stop()


def test_a_slow_snapshot_is_taken_less_often(server: DataServer, tmp_path: Path, monkeypatch: Any) -> None:
    """A snapshot that takes 1 s is not taken again for 20 s (5 % of the time at most)."""
    import local_runtime.data_store as data_store

    def slow_snapshot(locks: TableLocks, path: Path) -> int:
        clock[0] += 1.0
        return 0

    clock = [100.0]
    fake_time = type("FakeTime", (), {"monotonic": staticmethod(lambda: clock[0]), "time": time.time})
    monkeypatch.setattr(data_store, "time", fake_time)  # this module's clock only
    monkeypatch.setattr(data_store, "write_snapshot", slow_snapshot)
    snapshots = data_store._Snapshots(server.locks, tmp_path / "s.json", interval=10.0, in_child=False)
    data_store.bump_versions(["slow-snapshot-test"])
    snapshots.save()
    assert snapshots.due == 101.0 + 1.0 / data_store.SNAPSHOT_TIME_SHARE
    snapshots.save()  # nothing written since: no second snapshot
    assert clock[0] == 101.0


def test_the_snapshot_holds_every_type_as_moto_itself_writes_it(server: DataServer, tmp_path: Path) -> None:
    from moto.dynamodb.models.utilities import dynamo_to_dict

    import local_runtime.data_store as data_store

    ddb = local_client("dynamodb", server.url)
    spec = _spec("snap-types")
    create_table(ddb, spec)
    item = {
        "pk": {"S": "all-types"},
        "sk": {"S": "x"},
        "n": {"N": "-1.5"},
        "b": {"B": b"\x00\xff"},
        "t": {"BOOL": True},
        "nothing": {"NULL": True},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2"]},
        "bs": {"BS": [b"\x01", b"\x02"]},
        "m": {"M": {"inner": {"L": [{"S": "v"}, {"M": {"deep": {"B": b"\x03"}}}, {"N": "7"}]}}},
    }
    ddb.put_item(TableName=spec.name, Item=item)
    path = tmp_path / "s.json"
    write_snapshot(server.locks, path)
    saved = json.loads(path.read_text())["tables"][spec.name]
    stored = data_store.items_of(data_store._backend().tables[spec.name])
    expected = [
        json.loads(json.dumps(dynamo_to_dict(i.attrs), default=data_store.wire_value)) for i in stored
    ]
    assert saved == expected
    assert saved[0]["b"] == {"B": "AP8="} and saved[0]["m"]["M"]["inner"]["L"][1]["M"]["deep"] == {
        "B": "Aw=="
    }
    key = {"pk": {"S": "all-types"}, "sk": {"S": "x"}}
    before = ddb.get_item(TableName=spec.name, Key=key)["Item"]
    ddb.delete_table(TableName=spec.name)
    create_table(ddb, spec)
    assert restore_snapshot(path, ddb, [spec]) == 1
    assert ddb.get_item(TableName=spec.name, Key=key)["Item"] == before


def _wait_for_child(snapshots: Any) -> None:
    deadline = time.monotonic() + 20
    while snapshots.child is not None and time.monotonic() < deadline:
        snapshots.tick()
        time.sleep(0.01)
    assert snapshots.child is None


def test_a_snapshot_is_written_by_a_child_while_the_tables_take_writes(
    server: DataServer, tmp_path: Path
) -> None:
    """The child writes the tables as they were at the fork; the parent is not held up meanwhile."""
    import local_runtime.data_store as data_store

    ddb = local_client("dynamodb", server.url)
    spec = _spec("snap-child")
    create_table(ddb, spec)
    for i in range(200):
        ddb.put_item(TableName=spec.name, Item={"pk": {"S": f"p{i}"}, "sk": {"S": "x"}, "b": {"B": b"\x02"}})
    path = tmp_path / "s.json"
    snapshots = data_store._Snapshots(server.locks, path, interval=0.0)
    snapshots.tick()
    assert snapshots.child is not None and snapshots.child != os.getpid()
    ddb.put_item(TableName=spec.name, Item={"pk": {"S": "after-the-fork"}, "sk": {"S": "x"}})
    _wait_for_child(snapshots)
    saved = json.loads(path.read_text())["tables"][spec.name]
    assert len(saved) == 200 and "after-the-fork" not in {item["pk"]["S"] for item in saved}
    assert {"pk": {"S": "p7"}, "sk": {"S": "x"}, "b": {"B": "Ag=="}} in saved
    assert snapshots.saved_at_writes == snapshots._writes  # nothing to save until the next write
    snapshots.final()  # the write after the fork: saved here, at exit
    assert len(json.loads(path.read_text())["tables"][spec.name]) == 201


def test_a_failed_child_snapshot_is_logged_and_tried_again(
    server: DataServer, tmp_path: Path, caplog: Any
) -> None:
    import local_runtime.data_store as data_store

    data_store.bump_versions(["failed-snapshot-test"])
    snapshots = data_store._Snapshots(server.locks, tmp_path / "missing" / "s.json", interval=0.0)
    with caplog.at_level("ERROR", logger="local_runtime.data"):
        snapshots.tick()
        _wait_for_child(snapshots)
    assert "the child writing it failed (exit status 1)" in caplog.text
    assert snapshots.saved_at_writes == -1  # not saved: due again once its time share allows
    snapshots.due = time.monotonic()
    snapshots.tick()
    assert snapshots.child is not None
    _wait_for_child(snapshots)


def _raw_request(target: str, body: bytes, *, chunked: bool = False) -> bytes:
    head = (
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.0\r\n"
        f"X-Amz-Target: {target}\r\n"
        "Authorization: AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0\r\n"
    )
    if chunked:
        half = len(body) // 2
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:half], body[half:]) if p)
        return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\n\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _read_response(reader: Any) -> tuple[int, dict[str, str], bytes]:
    status = int(reader.readline().split()[1])
    headers: dict[str, str] = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, reader.read(int(headers["content-length"]))


def test_the_data_server_keeps_connections_open(server: DataServer) -> None:
    """werkzeug's server closed the connection after every request; SDK clients now reuse one
    socket (plain and chunked bodies), and a request that is not HTTP gets a 400 and a close."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        reader = sock.makefile("rb")
        for chunked in (False, True, False):
            sock.sendall(_raw_request("DynamoDB_20120810.ListTables", b"{}", chunked=chunked))
            status, headers, body = _read_response(reader)
            assert status == 200, body
            assert headers["connection"] == "keep-alive"
            assert "TableNames" in json.loads(body)
        sock.sendall(_raw_request("DynamoDB_20120810.DescribeTable", b'{"TableName": "no-such-table"}'))
        status, headers, body = _read_response(reader)
        assert status == 400 and b"ResourceNotFoundException" in body
        assert headers["x-amz-crc32"]  # moto's handler answered, not a generic error page
        sock.sendall(b"nonsense\r\n")
        status, headers, _ = _read_response(reader)
        assert status == 400 and headers["connection"] == "close"
        assert reader.read() == b""  # closed by the server


def test_query_pages_by_size_as_moto_does_and_never_changes_stored_items(server: DataServer) -> None:
    """The fast Query keeps item sizes between writes and shares attribute values with the results:
    the 1 MB page ends where moto's own ends, before and after a write that grows an item, and a
    projected Query leaves the stored items whole."""

    ddb = local_client("dynamodb", server.url)
    _create_pk_sk_table(ddb, "pages-test")
    for i in range(30):
        item = {"pk": {"S": "p"}, "sk": {"S": f"{i:03d}"}, "payload": {"S": "x" * 40_000}, "n": {"N": str(i)}}
        ddb.put_item(TableName="pages-test", Item=item)

    def both(**extra: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        def ask() -> dict[str, Any]:
            page = ddb.query(
                TableName="pages-test",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": "p"}},
                **extra,
            )
            return {"sks": [i["sk"]["S"] for i in page["Items"]], "last": page.get("LastEvaluatedKey")}

        return fast_and_moto(ask)

    fast, reference = both()
    assert fast == reference and fast["last"] is not None and len(fast["sks"]) < 30
    ddb.update_item(
        TableName="pages-test",
        Key={"pk": {"S": "p"}, "sk": {"S": "001"}},
        UpdateExpression="SET payload = :big",
        ExpressionAttributeValues={":big": {"S": "y" * 300_000}},
    )
    grown, reference = both()
    assert grown == reference and len(grown["sks"]) < len(fast["sks"])
    projected, reference = both(ProjectionExpression="sk")
    assert projected == reference
    stored = ddb.get_item(TableName="pages-test", Key={"pk": {"S": "p"}, "sk": {"S": "002"}})["Item"]
    assert set(stored) == {"pk", "sk", "payload", "n"} and len(stored["payload"]["S"]) == 40_000


def test_the_runtimes_own_get_records_reads_what_boto3_reads(server: DataServer) -> None:
    """The stream pollers' GetRecords on the event loop (DataApiClient) gives the records boto3
    gives, once both become the Lambda event's shape (binary values base64, timestamps epoch
    seconds); an error answer is a DataApiError with the AWS error type."""
    from local_runtime.data_client import DataApiClient, DataApiError
    from local_runtime.streams import lambda_stream_record

    spec = _spec("raw-records")
    create_table(local_client("dynamodb", server.url), spec)
    ddb = local_client("dynamodb", server.url)
    ddb.put_item(TableName=spec.name, Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "b": {"B": b"\x00\xff"}})
    ddb.delete_item(TableName=spec.name, Key={"pk": {"S": "a"}, "sk": {"S": "1"}})
    streams = local_client("dynamodbstreams", server.url)
    arn = ddb.describe_table(TableName=spec.name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    def iterator() -> str:
        return streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]

    by_boto3 = streams.get_records(ShardIterator=iterator())["Records"]

    async def by_data_api() -> dict[str, Any]:
        client = DataApiClient(server.url)
        try:
            first = await client.call("DynamoDBStreams_20120810.GetRecords", {"ShardIterator": iterator()})
            again = await client.call("DynamoDBStreams_20120810.GetRecords", {"ShardIterator": iterator()})
            assert again["Records"] == first["Records"]  # the same kept connection, twice
            with pytest.raises(DataApiError) as refused:
                await client.call("DynamoDB_20120810.DescribeTable", {"TableName": "no-such-table"})
            assert refused.value.status == 400 and refused.value.error_type == "ResourceNotFoundException"
            return first
        finally:
            await client.close()

    raw = asyncio.run(by_data_api())["Records"]
    assert [r["eventName"] for r in raw] == ["INSERT", "REMOVE"]
    assert [lambda_stream_record(r, arn) for r in raw] == [lambda_stream_record(r, arn) for r in by_boto3]
