"""The TTL sweeper and the snapshot against an in-process moto server (no runtime process)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from local_runtime.model import TableSpec
from local_runtime.storage import (
    MotoServer,
    create_table,
    install_stream_hook,
    restore_snapshot,
    sweep_expired,
    write_snapshot,
)


@pytest.fixture(scope="module")
def moto() -> MotoServer:
    server = MotoServer("127.0.0.1")
    yield server
    server.stop()


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


def test_ttl_sweeper_deletes_expired_items_as_the_ttl_service(moto: MotoServer) -> None:
    ddb, streams = moto.client("dynamodb"), moto.client("dynamodbstreams")
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
    assert sweep_expired(ddb, spec) == 1
    left = {i["pk"]["S"] for i in ddb.scan(TableName=spec.name)["Items"]}
    assert left == {"b"}
    records = streams.get_records(ShardIterator=it)["Records"]
    removes = [r for r in records if r["eventName"] == "REMOVE"]
    assert len(removes) == 2
    by_key = {r["dynamodb"]["Keys"]["pk"]["S"]: r for r in removes}
    assert by_key["a"]["userIdentity"] == {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
    assert "userIdentity" not in by_key["c"]
    assert woken  # the stream hook wakes pollers on every write


def test_snapshot_round_trip(moto: MotoServer, tmp_path: Path) -> None:
    ddb = moto.client("dynamodb")
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
    assert write_snapshot(path, ddb, [spec]) == 60
    ddb.delete_table(TableName=spec.name)
    create_table(ddb, spec)
    assert restore_snapshot(path, ddb, [spec]) == 60
    items = ddb.scan(TableName=spec.name)["Items"]
    assert len(items) == 60 and all(i["b"]["B"] == b"\x00\x01" for i in items)
