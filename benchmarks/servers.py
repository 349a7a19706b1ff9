"""Loopback servers for the benchmarks and the reliability tests, each in its own process.

* :class:`SinkProcess` runs :mod:`benchmarks.sink` (the ``@connections`` sink) as a subprocess.
* :class:`MotoProcess` runs moto's ``ThreadedMotoServer`` in a spawned child process, so the
  server never competes with the measured code for the GIL, and bulk-loads items straight into
  moto's backend (no HTTP), which makes 100,000-subscriber tables quick to build.

Both bind 127.0.0.1 on a free port and stop by themselves when their parent exits.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from benchmarks import tables

LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}

CONNECTIONS_TABLE = "bench-connections"
COMMENTS_TABLE = "bench-comments"
IDEMPOTENCY_TABLE = "bench-idempotency"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def set_local_aws_env() -> None:
    for key, value in LOCAL_ENV.items():
        os.environ.setdefault(key, value)
    os.environ.pop("AWS_PROFILE", None)


# --------------------------------------------------------------------------------------------- sink
class SinkProcess:
    """The ``@connections`` sink in a subprocess; ``callback_url`` is WEBSOCKET_CALLBACK_URL."""

    def __init__(
        self,
        latency_ms: float = 10.0,
        rate: float = 10_000.0,
        burst: float | None = None,
        max_seconds: float = 1800.0,
    ) -> None:
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.sink",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
            "--rate",
            str(rate),
            "--max-seconds",
            str(max_seconds),
        ]
        if burst is not None:
            cmd += ["--burst", str(burst)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)  # noqa: S603
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError(f"sink did not start: {line!r}")
        self.port = int(line.split()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        self.callback_url = f"{self.base}/local"

    def _call(self, method: str, path: str, body: dict | None = None, timeout: float = 60.0) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - loopback http only
            self.base + path,
            data=data,
            method=method,  # noqa: S310
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return json.loads(resp.read() or b"null")

    def control(self, **spec: Any) -> None:
        self._call("POST", "/__control", spec)

    def reset(self, **spec: Any) -> None:
        self.control(reset=True, **spec)

    def stats(self) -> dict:
        return self._call("GET", "/__stats")

    def counts(self) -> dict[str, int]:
        return self._call("GET", "/__counts")["counts"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def __enter__(self) -> SinkProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def check_exactly_once(counts: dict[str, int], expected: list[str] | set[str]) -> dict[str, int]:
    """Compare the sink's per-id counts with the expected recipients."""
    expected_set = set(expected)
    missing = sum(1 for cid in expected_set if counts.get(cid, 0) == 0)
    duplicated = sum(1 for cid in expected_set if counts.get(cid, 0) > 1)
    unexpected = sum(1 for cid in counts if cid not in expected_set)
    return {
        "expected": len(expected_set),
        "missing": missing,
        "duplicated": duplicated,
        "unexpected": unexpected,
        "ok": int(missing == 0 and duplicated == 0 and unexpected == 0),
    }


# --------------------------------------------------------------------------------------------- moto
def create_tables(
    endpoint: str,
    connections: str = CONNECTIONS_TABLE,
    comments: str = COMMENTS_TABLE,
    idempotency: str = IDEMPOTENCY_TABLE,
) -> None:
    """Create the design.md tables the benchmarked paths touch (benchmarks.tables)."""
    import boto3

    ddb = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto's dummy credentials
    )
    tables.create_tables(
        ddb,
        tables.connections_table(connections),
        tables.comments_table(comments),
        tables.idempotency_table(idempotency),
    )


def _moto_child(conn: Any) -> None:  # runs in the spawned child
    for key, value in LOCAL_ENV.items():
        os.environ[key] = value
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    conn.send(("ready", server.get_host_and_port()[1]))
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        if not conn.poll(1.0):
            if os.getppid() == 1:
                break
            continue
        try:
            cmd, arg = conn.recv()
        except EOFError:
            break
        if cmd == "stop":
            conn.send(("ok", None))
            break
        try:
            if cmd == "load":
                conn.send(("ok", _bulk_put(arg["table"], arg["items"])))
            elif cmd == "count":
                conn.send(("ok", _count_items(arg["table"])))
            else:
                conn.send(("error", f"unknown command {cmd}"))
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            conn.send(("error", repr(exc)))
    server.stop()


def _find_table(name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    for account in list(dynamodb_backends.keys()):
        for region in list(dynamodb_backends[account].keys()):
            backend = dynamodb_backends[account][region]
            if name in backend.tables:
                return backend, backend.tables[name]
    raise KeyError(name)


def _bulk_put(table: str, items: list[dict]) -> int:
    backend, _ = _find_table(table)
    for item in items:
        backend.put_item(table, item)
    return len(items)


def _count_items(table: str) -> int:
    _, tbl = _find_table(table)
    return sum(1 for _ in tbl.all_items())


@dataclass
class MotoProcess:
    """moto's ThreadedMotoServer in a spawned child process."""

    endpoint: str = ""

    def start(self) -> MotoProcess:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_moto_child, args=(child,), daemon=True)
        self._proc.start()
        deadline = time.monotonic() + 60
        while not self._conn.poll(0.2):
            if not self._proc.is_alive() or time.monotonic() > deadline:
                self._proc.kill()
                raise RuntimeError("moto server did not start")
        kind, port = self._conn.recv()
        assert kind == "ready", port
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        return self

    def _cmd(self, cmd: str, arg: Any = None, timeout: float = 600) -> Any:
        self._conn.send((cmd, arg))
        if not self._conn.poll(timeout):
            raise TimeoutError(cmd)
        kind, value = self._conn.recv()
        if kind != "ok":
            raise RuntimeError(value)
        return value

    def load(self, table: str, items: list[dict], chunk: int = 20_000) -> int:
        """Put items (DynamoDB JSON) straight into moto's backend."""
        done = 0
        for start in range(0, len(items), chunk):
            done += self._cmd("load", {"table": table, "items": items[start : start + chunk]})
        return done

    def count(self, table: str) -> int:
        return self._cmd("count", {"table": table})

    def stop(self) -> None:
        if getattr(self, "_proc", None) is None:
            return
        with contextlib.suppress(Exception):  # best effort, then kill
            self._cmd("stop", timeout=10)
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5)
        self._proc = None

    def __enter__(self) -> MotoProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def subscriber_items(
    post_id: str, n: int, prefix: str = "c", user: str = "u"
) -> tuple[list[str], list[dict]]:
    """N connections subscribed to ``post_id``: (connection ids, DynamoDB JSON items)."""
    expires = str(int(time.time()) + 86400)
    now = "2026-01-01T00:00:00Z"
    ids = [f"{prefix}{i:07d}=" for i in range(n)]
    items: list[dict] = []
    for i, cid in enumerate(ids):
        uid = {"S": f"{user}{i % 997}"}
        items.append(
            {
                "connectionId": {"S": cid},
                "sk": {"S": "connection"},
                "userId": uid,
                "connectedAt": {"S": now},
                "expiresAt": {"N": expires},
            }
        )
        items.append(
            {
                "connectionId": {"S": cid},
                "sk": {"S": f"sub#{post_id}"},
                "postId": {"S": post_id},
                "userId": uid,
                "subscribedAt": {"S": now},
                "expiresAt": {"N": expires},
            }
        )
    return ids, items


@contextlib.contextmanager
def handler_backends(jwt_env: dict[str, str]) -> Iterator[tuple[MotoProcess, SinkProcess]]:
    """moto and the sink (1 ms per call, no rate limit) for handlers run in this process: the
    tables created and the functions' environment applied (``jwt_env``: the issuer's variables)."""
    from benchmarks.common import apply_env, handler_env

    with MotoProcess() as moto, SinkProcess(latency_ms=1.0, rate=0) as sink:
        create_tables(moto.endpoint)
        env = handler_env(
            callback_url=sink.callback_url,
            dynamodb_endpoint=moto.endpoint,
            connections_table=CONNECTIONS_TABLE,
            comments_table=COMMENTS_TABLE,
        )
        env.update(jwt_env)
        apply_env(env)
        yield moto, sink
