"""The runtime's side of storage: the data process's handle, the template's tables and queues,
and the snapshot file that keeps the data across restarts (the data process is
``local_runtime.data_store``)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

from .model import TableSpec
from .template import ACCOUNT_ID, REGION

log = logging.getLogger("local_runtime.storage")


class DataStore:
    """The data process (``local_runtime.data_store``): started, awaited until it listens, stopped.

    ``notify_port``: a UDP port of the runtime's, woken on every stream record appended.
    ``snapshot``: the file it saves the tables to, when they changed and when it stops.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        notify_port: int = 0,
        ttl_sweep_interval: float = 5.0,
        snapshot: Path | None = None,
        snapshot_interval: float = 10.0,
    ):
        self.host = host
        self.notify_port = notify_port
        self.ttl_sweep_interval = ttl_sweep_interval
        self.snapshot = snapshot
        self.snapshot_interval = snapshot_interval
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    async def start(self, timeout: float = 60) -> str:
        env = dict(os.environ, PYTHONUNBUFFERED="1", MOTO_ACCOUNT_ID=ACCOUNT_ID)
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "local_runtime.data_store",
            "--host",
            self.host,
            "--notify-port",
            str(self.notify_port),
            "--ttl-sweep-interval",
            str(self.ttl_sweep_interval),
            "--snapshot-interval",
            str(self.snapshot_interval),
            *(["--snapshot", str(self.snapshot)] if self.snapshot else []),
            stdin=asyncio.subprocess.PIPE,  # its end tells the data process that the runtime is gone
            stdout=asyncio.subprocess.PIPE,
            cwd=str(Path(__file__).resolve().parent.parent),
            env=env,
            start_new_session=True,  # a terminal's Ctrl-C reaches the runtime, which stops it last
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=timeout)
        if not line.startswith(b"READY "):
            raise RuntimeError(f"data process exited before it listened (exit {self.proc.returncode})")
        self.url = json.loads(line[6:])["url"]
        return self.url

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = local_client(service, self.url)
            return self._clients[service]

    async def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=30)  # it writes the final snapshot first
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


def local_client(service: str, url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
        config=Config(max_pool_connections=32, retries={"max_attempts": 2, "mode": "standard"}),
    )


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
