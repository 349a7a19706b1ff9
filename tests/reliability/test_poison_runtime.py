"""A poison record, driven through the local runtime: the broadcaster can never deliver one
comment (every @connections call carrying it fails), so after the stream's retries that record,
and only that record, lands in the stream's on-failure queue; the comments before and after it
still reach the subscriber. Nothing committed is lost: the poison comment stays readable over REST.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest

from tests.e2e.client import data_client, local_info

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(240)]


def _stream_dlq(info: dict[str, Any]) -> str:
    urls = [url for lid, url in info["queues"].items() if "Stream" in lid and "DeadLetter" in lid]
    assert len(urls) == 1, info["queues"]
    return urls[0]


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    out = []
    for _ in range(20):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return out
        for message in got:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return out


def _stream_record(info: dict[str, Any], batch_info: dict[str, Any]) -> dict[str, Any]:
    streams = data_client(info, "dynamodbstreams")
    iterator = streams.get_shard_iterator(
        StreamArn=batch_info["streamArn"],
        ShardId=batch_info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=batch_info["startSequenceNumber"],
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator, Limit=1)["Records"]
    assert records, batch_info
    return records[0]


async def _scenario(urls: dict[str, str], marker: str, post_id: str) -> dict[str, Any]:
    import aiohttp

    api = urls["apiUrl"].rstrip("/")
    async with aiohttp.ClientSession() as session:
        info = await local_info(session, urls)
        async with session.post(urls["tokenUrl"], json={"username": "poison-test"}) as response:
            token = (await response.json())["token"]
        sqs = data_client(info, "sqs")
        dlq = _stream_dlq(info)
        await asyncio.to_thread(_drain, sqs, dlq)  # earlier tests' leftovers, if any
        ws = await session.ws_connect(f"{urls['websocketUrl']}?token={token}")
        await ws.send_str(json.dumps({"action": "subscribe", "postId": post_id}))
        while json.loads((await ws.receive(timeout=30)).data)["type"] != "comments.list":
            pass
        # Every @connections POST whose body contains the marker fails with a 500, forever.
        async with session.post(
            f"{api}/__local/faults", json={"marker": marker, "count": 1_000_000, "status": 500}
        ) as response:
            assert response.status == 200
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        created = []
        for content in ("before the poison", f"poison {marker}", "after the poison"):
            async with session.post(
                f"{api}/api/v1/posts/{post_id}/comments",
                headers=headers,
                data=json.dumps({"content": content}),
            ) as response:
                assert response.status == 201, await response.text()
                created.append(await response.json())
        received: list[str] = []
        dead: list[dict[str, Any]] = []
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and (len(received) < 2 or not dead):
            try:
                message = await ws.receive(timeout=1)
            except TimeoutError:
                message = None
            if message is not None and message.type == aiohttp.WSMsgType.TEXT:
                data = json.loads(message.data)
                if data["type"] == "comment.created":
                    received.append(data["data"]["comment"]["content"])
            if not dead:
                dead = await asyncio.to_thread(_drain, sqs, dlq)
        await asyncio.sleep(2)  # anything else that would wrongly land in the queue
        dead += await asyncio.to_thread(_drain, sqs, dlq)
        async with session.post(f"{api}/__local/faults", json={"marker": marker, "count": 0}) as response:
            assert response.status == 200
        async with session.get(f"{api}/api/v1/posts/{post_id}/comments") as response:
            listed = [c["content"] for c in (await response.json())["comments"]]
        await ws.close()
    return {"info": info, "received": received, "dead": dead, "listed": listed, "created": created}


@pytest.fixture(scope="module")
def poison_run(runtime_urls: dict[str, str]) -> dict[str, Any]:
    marker = f"POISON-{uuid.uuid4().hex[:8]}"
    result = asyncio.run(_scenario(runtime_urls, marker, f"poison-{uuid.uuid4().hex[:6]}"))
    result["marker"] = marker
    return result


def test_poison_record_lands_in_the_on_failure_queue_and_nothing_is_lost(poison_run: dict[str, Any]) -> None:
    marker = poison_run["marker"]
    # Every good comment reached the subscriber (after its dedupe by content), the earlier one once.
    assert set(poison_run["received"]) == {"before the poison", "after the poison"}, poison_run["received"]
    assert poison_run["received"].count("before the poison") == 1
    # One failure record, and the range it names starts at the poison record.
    assert len(poison_run["dead"]) == 1, poison_run["dead"]
    batch = poison_run["dead"][0]["DDBStreamBatchInfo"]
    record = _stream_record(poison_run["info"], batch)
    assert marker in record["dynamodb"]["NewImage"]["content"]["S"]
    # Committed data is not lost: the poison comment is still there for REST and `since` readers.
    assert poison_run["listed"] == ["before the poison", f"poison {marker}", "after the poison"]


def test_only_the_poison_record_is_in_the_on_failure_range_and_nothing_is_resent(
    poison_run: dict[str, Any],
) -> None:
    assert poison_run["received"] == ["before the poison", "after the poison"], poison_run["received"]
    assert poison_run["dead"][0]["DDBStreamBatchInfo"]["batchSize"] == 1, poison_run["dead"]
