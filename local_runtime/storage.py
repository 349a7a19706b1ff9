"""DynamoDB (+ Streams) and SQS: moto's server mode, in-process, on a loopback port.

Also: creating the template's tables and queues, the TTL sweeper, and the snapshot file that
keeps the data across restarts.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from .model import TableSpec
from .template import ACCOUNT_ID, REGION

log = logging.getLogger("local_runtime.storage")
TTL_IDENTITY = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}  # Streams API shape


def _quiet_moto_logging() -> None:
    for name in ("werkzeug", "moto"):
        logging.getLogger(name).setLevel(logging.WARNING)


# DynamoDB applies each single-item write atomically (UpdateItem ADD, conditional PutItem); moto's
# threaded server interleaves concurrent requests and loses updates: 20 writers creating comments
# on one post got duplicate seqs and 500s (benchmarks/README.md). DynamoDB calls run one at a time.
_DYNAMODB_LOCK = threading.Lock()


def _serialized_moto_server(host: str) -> Any:
    from moto.server import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        ThreadedMotoServer,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class SerializedMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)

            def serialized(environ: dict[str, Any], start_response: Any) -> Any:
                if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):  # not SQS long polls
                    with _DYNAMODB_LOCK:
                        return list(app(environ, start_response))
                return app(environ, start_response)

            self._server = make_server(
                self._ip_address, self._port, serialized, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return SerializedMotoServer(ip_address=host, port=0, verbose=False)


class MotoServer:
    def __init__(self, host: str = "127.0.0.1"):
        os.environ["MOTO_ACCOUNT_ID"] = ACCOUNT_ID
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
        _quiet_moto_logging()
        self._server = _serialized_moto_server(host)
        self._server.start()
        h, port = self._server.get_host_and_port()
        self.url = f"http://{h}:{port}"
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                import boto3
                from botocore.config import Config

                self._clients[service] = boto3.session.Session().client(
                    service,
                    endpoint_url=self.url,
                    region_name=REGION,
                    aws_access_key_id="local",
                    aws_secret_access_key="local",  # noqa: S106
                    config=Config(max_pool_connections=32, retries={"max_attempts": 2, "mode": "standard"}),
                )
            return self._clients[service]

    def stop(self) -> None:
        with contextlib.suppress(Exception):  # best effort at exit
            self._server.stop()


def create_table(ddb: Any, spec: TableSpec) -> str | None:
    """Create a table in moto; returns its stream ARN (or None)."""
    kwargs: dict[str, Any] = {
        "TableName": spec.name,
        "KeySchema": spec.key_schema,
        "AttributeDefinitions": spec.attribute_definitions,
        "BillingMode": "PAY_PER_REQUEST",
    }
    if spec.gsis:
        kwargs["GlobalSecondaryIndexes"] = spec.gsis
    if spec.lsis:
        kwargs["LocalSecondaryIndexes"] = spec.lsis
    if spec.stream_view_type:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream_view_type}
    desc = ddb.create_table(**kwargs)["TableDescription"]
    if spec.ttl_attribute:
        ddb.update_time_to_live(
            TableName=spec.name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
        )
    return desc.get("LatestStreamArn")


def create_queue(sqs: Any, name: str, attributes: dict[str, str]) -> str:
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def install_stream_hook(callback: Any) -> bool:
    """Call ``callback()`` (from moto's request thread) whenever a stream record is appended.

    The pollers still poll; this only wakes them up at once, so a write reaches its consumer
    without waiting for the next poll tick. Returns False if moto's internals are not as expected.
    """
    try:
        from moto.dynamodb.models.table import StreamShard
    except ImportError:  # pragma: no cover
        return False
    original = getattr(StreamShard.add, "__wrapped_by_local_runtime__", None) or StreamShard.add

    def add(self: Any, old: Any, new: Any) -> None:
        original(self, old, new)
        with contextlib.suppress(Exception):  # a wake-up must never break a write
            callback()

    add.__wrapped_by_local_runtime__ = original  # type: ignore[attr-defined]
    StreamShard.add = add  # type: ignore[method-assign]
    return True


# -- snapshot -------------------------------------------------------------------------------


def _av(value: dict[str, Any], binary: Any) -> dict[str, Any]:
    """Map the binary parts of one AttributeValue (B, BS, nested in M and L) through ``binary``."""
    ((typ, v),) = value.items()
    if typ == "B":
        return {"B": binary(v)}
    if typ == "BS":
        return {"BS": [binary(x) for x in v]}
    if typ == "M":
        return {"M": {k: _av(x, binary) for k, x in v.items()}}
    if typ == "L":
        return {"L": [_av(x, binary) for x in v]}
    return value


def _to_json_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _av(v, lambda b: base64.b64encode(b).decode()) for k, v in item.items()}


def _from_json_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _av(v, base64.b64decode) for k, v in item.items()}


def dump_items(ddb: Any, tables: list[TableSpec]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for spec in tables:
        items: list[dict[str, Any]] = []
        for page in ddb.get_paginator("scan").paginate(TableName=spec.name, ConsistentRead=True):
            items.extend(_to_json_item(i) for i in page.get("Items", []))
        out[spec.name] = items
    return out


def write_snapshot(path: Path, ddb: Any, tables: list[TableSpec]) -> int:
    data = dump_items(ddb, tables)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": 1, "savedAt": time.time(), "tables": data}))
    os.replace(tmp, path)
    return sum(len(v) for v in data.values())


def restore_snapshot(path: Path, ddb: Any, tables: list[TableSpec]) -> int:
    if not path.exists():
        return 0
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        log.warning("snapshot %s unreadable (%s); starting empty", path, exc)
        return 0
    known = {t.name for t in tables}
    count = 0
    for name, items in (data.get("tables") or {}).items():
        if name not in known:
            log.warning("snapshot table %s is not in the template; skipped", name)
            continue
        for i in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": _from_json_item(it)}} for it in items[i : i + 25]]
            req: dict[str, Any] = {name: batch}
            for _ in range(10):
                unprocessed = ddb.batch_write_item(RequestItems=req).get("UnprocessedItems") or {}
                if not unprocessed:
                    break
                req = unprocessed
        count += len(items)
    return count


# -- TTL sweeper ------------------------------------------------------------------------------


def sweep_expired(ddb: Any, spec: TableSpec, now: float | None = None) -> int:
    """Delete the items whose TTL attribute is in the past, as DynamoDB's TTL process does.

    Deletes go through moto's backend in this process so that their stream records can be
    marked with the TTL service identity (``userIdentity`` Type Service, PrincipalId
    dynamodb.amazonaws.com), which is how consumers tell TTL deletions from user deletions.
    Falls back to plain DeleteItem calls if moto's internals are not what we expect.
    """
    if not spec.ttl_attribute:
        return 0
    now = time.time() if now is None else now
    attr = spec.ttl_attribute
    try:
        from moto.dynamodb.models import dynamodb_backends

        table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(spec.name)
        expired = []
        for item in list(table.all_items()):
            v = item.attrs.get(attr)
            if v is not None and v.type == "N":
                try:
                    if float(v.value) < now:
                        expired.append(item)
                except ValueError:
                    continue
        with _DYNAMODB_LOCK:  # no request may interleave with the sweep
            for item in expired:
                table.delete_item(item.hash_key, item.range_key)
                shard = table.stream_shard
                if shard is not None:
                    keys = {table.hash_key_attr: item.hash_key.to_json()}
                    if table.range_key_attr is not None:
                        keys[table.range_key_attr] = item.range_key.to_json()  # type: ignore[union-attr]
                    for rec in reversed(shard.items[-200:]):
                        r = rec.record
                        if (
                            r["eventName"] == "REMOVE"
                            and r["dynamodb"]["Keys"] == keys
                            and "userIdentity" not in r
                        ):
                            r["userIdentity"] = dict(TTL_IDENTITY)
                            break
        return len(expired)
    except (ImportError, AttributeError, KeyError) as exc:  # pragma: no cover - moto changed
        log.debug("TTL sweep via boto3 (%s)", exc)
    key_names = [k["AttributeName"] for k in spec.key_schema]
    n = 0
    for page in ddb.get_paginator("scan").paginate(
        TableName=spec.name,
        FilterExpression="#t < :now",
        ExpressionAttributeNames={"#t": attr},
        ExpressionAttributeValues={":now": {"N": str(int(now))}},
    ):
        for it in page.get("Items", []):
            ddb.delete_item(TableName=spec.name, Key={k: it[k] for k in key_names})
            n += 1
    return n
