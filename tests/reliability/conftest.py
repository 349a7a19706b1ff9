"""Fixtures of the reliability tests.

They reuse the session fixtures of tests/conftest.py (the moto server, fake AWS credentials, the
in-process @connections sink and the JWT issuer) but wire them up once per module, so that
hypothesis can run many examples against one set of tables, and they add:

- `sink_process`: the benchmarks' @connections sink in its own process (latency, rate limit,
  injected 410 / 429 / 5xx, exact per-id counts);
- `throttling_dynamodb`: a loopback proxy in front of moto that answers
  ProvisionedThroughputExceededException to the next N DynamoDB calls.
"""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from benchmarks.servers import SinkProcess
from tests.conftest import Tables, handler_environment


def clear_project_caches() -> None:
    from realtime_comments import dependencies

    dependencies.reset()


@dataclass(frozen=True)
class RelEnv(Tables):
    """One module's tables (with their scan/snapshot helpers) and the environment applied."""

    env: dict[str, str] = field(default_factory=dict)  # after Tables's defaulted fields


@pytest.fixture(scope="module")
def rel_env(aws_env: str, dynamodb_client: Any, _sink_server: Any, jwt_issuer: Any) -> Iterator[RelEnv]:
    """Fresh tables for this module, the in-process sink and the issuer, in os.environ."""
    suffix = uuid.uuid4().hex[:8]
    tables = Tables(
        connections=f"rel-connections-{suffix}",
        comments=f"rel-comments-{suffix}",
        idempotency=f"rel-idempotency-{suffix}",
        client=dynamodb_client,
        notifications=f"rel-notifications-{suffix}",
    )
    tables.create()
    env = handler_environment(
        tables,
        _sink_server.url,
        jwt_issuer,
        allowed_origins="https://app.example.com,http://localhost:3000",
        log_level="CRITICAL",
    )
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        clear_project_caches()
        yield RelEnv(
            tables.connections,
            tables.comments,
            tables.idempotency,
            dynamodb_client,
            tables.notifications,
            env=env,
        )
    clear_project_caches()


@pytest.fixture(scope="module")
def sink_process() -> Iterator[SinkProcess]:
    """The benchmarks' sink in its own process: no latency, no rate limit unless a test sets them."""
    with SinkProcess(latency_ms=0.0, rate=0.0, max_seconds=600) as sink:
        yield sink


# ------------------------------------------------------------------ DynamoDB throttling proxy
THROTTLING_TYPE = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"


class ThrottlingProxy:
    """Forwards to moto; the next `throttle_next` DynamoDB calls get a 400 throttling error."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.throttle_next = 0
        self.throttled = 0
        self.forwarded = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    throttle = proxy.throttle_next > 0
                    if throttle:
                        proxy.throttle_next -= 1
                        proxy.throttled += 1
                    else:
                        proxy.forwarded += 1
                if throttle:
                    data = json.dumps(
                        {
                            "__type": THROTTLING_TYPE,
                            "message": "The level of configured provisioned throughput was exceeded.",
                        }
                    ).encode()
                    self.send_response(400)
                    self.send_header("Content-Type", "application/x-amz-json-1.0")
                    self.send_header("x-amzn-ErrorType", "ProvisionedThroughputExceededException")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=30)
                try:
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in {"host", "connection"}
                    }
                    conn.request("POST", self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status)
                    for key, value in resp.getheaders():
                        if key.lower() not in {
                            "content-length",
                            "connection",
                            "transfer-encoding",
                            "server",
                            "date",
                        }:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    conn.close()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def throttle(self, n: int) -> None:
        with self.lock:
            self.throttle_next = n
            self.throttled = 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def runtime_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A fresh local runtime on free loopback ports for each module that uses one (the load test's
    backlog never reaches the next module's tests); the app is synthesized once (E2E_CDK_OUT)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    if not (root / "local_runtime" / "__main__.py").exists():
        pytest.skip("not run: local_runtime is not present")
    from benchmarks.e2e import start_runtime

    runtime = start_runtime(lambda _m: None, tmp_path_factory.mktemp("reliability-runtime"))
    try:
        yield runtime.urls
    finally:
        runtime.stop()


@pytest.fixture(scope="module")
def throttling_dynamodb(aws_env: str) -> Iterator[ThrottlingProxy]:
    proxy = ThrottlingProxy(aws_env)
    try:
        yield proxy
    finally:
        proxy.close()
