"""The reference design's broadcast, as users gave it to us: the baseline of the fan-out benchmark.

Every comment is sent to every connection: Scan the whole connections table (partition key
``connectionId`` only, no subscriptions), then ``post_to_connection`` one connection at a time with
a default boto3 client; a 410 deletes that connection's item.
"""

from __future__ import annotations

import time
from typing import Any

import boto3

BASELINE_TABLE = "bench-baseline-connections"


def create_baseline_table(endpoint: str, table: str = BASELINE_TABLE) -> None:
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    if table in ddb.list_tables()["TableNames"]:
        return
    ddb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
    )


def baseline_items(ids: list[str]) -> list[dict]:
    expires = str(int(time.time()) + 86400)
    return [
        {"connectionId": {"S": cid}, "timestamp": {"S": "2026-01-01T00:00:00Z"}, "ttl": {"N": expires}}
        for cid in ids
    ]


def broadcast_scan_and_send(
    message: str, *, dynamodb_endpoint: str, callback_url: str, table: str = BASELINE_TABLE
) -> dict[str, Any]:
    """Scan every connection, then send to each one by one. Returns timings and counts."""
    ddb = boto3.client("dynamodb", endpoint_url=dynamodb_endpoint, region_name="us-east-1")
    api = boto3.client("apigatewaymanagementapi", endpoint_url=callback_url, region_name="us-east-1")
    started = time.perf_counter()
    ids: list[str] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = ddb.scan(**kwargs)
        ids.extend(item["connectionId"]["S"] for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    scanned = time.perf_counter()
    sent = gone = failed = 0
    data = message.encode()
    for cid in ids:
        try:
            api.post_to_connection(ConnectionId=cid, Data=data)
            sent += 1
        except api.exceptions.GoneException:
            ddb.delete_item(TableName=table, Key={"connectionId": {"S": cid}})
            gone += 1
        except Exception:  # noqa: BLE001 - the reference design logs and goes on
            failed += 1
    done = time.perf_counter()
    return {
        "lookup_s": scanned - started,
        "send_s": done - scanned,
        "seconds": done - started,
        "sent": sent,
        "gone": gone,
        "failed": failed,
        "recipients": len(ids),
    }
