"""Shared fixtures: a moto server on loopback, the tables of docs/design.md, a fake @connections
endpoint and a local JWT issuer. Nothing here talks to anything but 127.0.0.1.

- `moto_server` (session): ThreadedMotoServer URL; serves DynamoDB (with streams) and SQS.
- `aws_env` (session): fake credentials, region us-east-1, AWS_ENDPOINT_URL_DYNAMODB/SQS -> moto.
- `tables` (function): fresh connections / comments / idempotency tables (unique names).
- `connections_sink` (function): the @connections API (POST/GET/DELETE /@connections/{id}), which
  records what it receives and can answer 410 / 429 / 5xx for chosen ids.
- `jwt_issuer` (session): local_runtime's in-memory `Identity` with its JWKS served over HTTP
  (`JwksServer`), `mint(...)` to issue tokens and `foreign_key` to forge them.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from benchmarks import tables as design_tables
from local_runtime.identity import Identity, JwksServer, new_rsa_key

REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread


# --- reports ------------------------------------------------------------------------------------
def _valid_unicode(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Lone surrogates in a report's captured output become escapes before pytest-xdist sends it.

    The fuzzing strategies feed lone surrogates to handlers that log what they refuse; execnet
    cannot encode such a string, and a report carrying one ended the worker mid-suite (an
    INTERNALERROR instead of a result)."""
    report.sections = [(title, _valid_unicode(content)) for title, content in report.sections]


# --- AWS (moto server) --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def aws_env(moto_server: str) -> Iterator[str]:
    """Fake credentials and botocore's per-service endpoint variables pointing at moto."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_CREDENTIALS.items():
            patch.setenv(name, value)
        patch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_server)
        patch.setenv("AWS_ENDPOINT_URL_SQS", moto_server)
        patch.delenv("AWS_PROFILE", raising=False)
        yield moto_server


@pytest.fixture(scope="session")
def dynamodb_client(aws_env: str) -> Any:
    return boto3.client("dynamodb", region_name=REGION, endpoint_url=aws_env)


@pytest.fixture(scope="session")
def sqs_client(aws_env: str) -> Any:
    return boto3.client("sqs", region_name=REGION, endpoint_url=aws_env)


@dataclass(frozen=True)
class Tables:
    connections: str
    comments: str
    idempotency: str
    client: Any
    notifications: str = ""

    def create(self) -> None:
        """Create this set's tables (benchmarks/tables.py)."""
        design_tables.create_tables(
            self.client,
            design_tables.connections_table(self.connections),
            design_tables.comments_table(self.comments),
            design_tables.idempotency_table(self.idempotency),
            design_tables.notifications_table(self.notifications),
        )

    def scan(self, table: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        while True:
            page = self.client.scan(**kwargs)
            items.extend(page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def connection_items(self) -> list[dict[str, Any]]:
        """The connections table without its bookkeeping partitions ("#stats#..." counter shards,
        "#user#...", presence, legacy "#all#..." registry entries): connection and subscription
        items only."""
        return [item for item in self.scan(self.connections) if not item["connectionId"]["S"].startswith("#")]

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every item of every table, to assert that a rejected request wrote nothing.

        The connection's frame-rate bucket (`actionTat`) is left out: every frame counts
        against it, refused or not, which is what it is for (tests/handlers/test_limits.py)."""
        key = json.dumps
        return {
            name: sorted(
                ({k: v for k, v in item.items() if k != "actionTat"} for item in self.scan(name)),
                key=lambda item: key(item, sort_keys=True),
            )
            for name in (self.connections, self.comments, self.idempotency, self.notifications)
            if name  # a suite without a notifications table leaves it ""
        }


def handler_environment(
    tables: Tables, callback_url: str, issuer: Any, *, allowed_origins: str, log_level: str = "WARNING"
) -> dict[str, str]:
    """The environment every function reads (docs/design.md), wired to the test servers."""
    return {
        "CONNECTIONS_TABLE_NAME": tables.connections,
        "COMMENTS_TABLE_NAME": tables.comments,
        "IDEMPOTENCY_TABLE_NAME": tables.idempotency,
        "NOTIFICATIONS_TABLE_NAME": tables.notifications,
        "NOTIFICATION_TTL_SECONDS": str(30 * 86400),
        "WEBSOCKET_CALLBACK_URL": callback_url,
        "CONNECTION_TTL_SECONDS": "86400",
        "COMMENTS_PAGE_SIZE": "50",
        "JWT_ISSUER": issuer.issuer,
        "JWT_AUDIENCE": issuer.audience,
        "JWKS_URL": issuer.jwks_url,
        "ALLOWED_ORIGINS": allowed_origins,
        "FANOUT_QUEUE_URL": "",
        "FANOUT_INLINE_LIMIT": "2000",
        "FANOUT_BATCH_SIZE": "1000",
        "SEND_CONCURRENCY": "16",
        # The role the handler tests' IAM callers assume (tests/handlers/events.py BROADCASTER_SESSION).
        "BROADCAST_PRINCIPALS": "arn:aws:iam::123456789012:role/service/broadcaster",
        "BROADCAST_MESSAGE_TYPES": "comment.created,comment.updated,comment.deleted,comments.list,test",
        "POWERTOOLS_SERVICE_NAME": "realtime-comments",
        "POWERTOOLS_METRICS_NAMESPACE": "RealtimeComments",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": log_level,
    }


@pytest.fixture
def tables(dynamodb_client: Any) -> Tables:
    suffix = uuid.uuid4().hex[:10]
    names = Tables(
        connections=f"connections-{suffix}",
        comments=f"comments-{suffix}",
        idempotency=f"idempotency-{suffix}",
        notifications=f"notifications-{suffix}",
        client=dynamodb_client,
    )
    names.create()
    return names


# --- the @connections API -----------------------------------------------------------------------
@dataclass
class ConnectionsSink:
    """State of the fake @connections endpoint; tests steer it and read what it received."""

    url: str = ""
    posts: list[tuple[str, bytes]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    throttle_counts: dict[str, int] = field(default_factory=dict)
    error_status: dict[str, int] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    latency: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.posts.clear()
            self.requests.clear()
            self.gone.clear()
            self.throttle_counts.clear()
            self.error_status.clear()
            self.deleted.clear()
            self.latency = 0.0

    def throttle(self, connection_id: str, times: int) -> None:
        """Answer 429 TooManyRequestsException to the next `times` posts to this id."""
        self.throttle_counts[connection_id] = times

    def messages_for(self, connection_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for target, body in self.posts if target == connection_id]

    def recipients(self) -> list[str]:
        with self.lock:
            return [target for target, _ in self.posts]


def _sink_handler(sink: ConnectionsSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            return

        def _connection_id(self) -> str | None:
            path = self.path.split("?", 1)[0]
            marker = "/@connections/"
            if marker not in path:
                return None
            return unquote(path.split(marker, 1)[1])

        def _reply(self, status: int, body: dict[str, Any] | None = None, error_type: str = "") -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if error_type:
                self.send_header("x-amzn-ErrorType", error_type)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - stdlib naming
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            connection_id = self._connection_id()
            if sink.latency:
                time.sleep(sink.latency)
            if connection_id is None:
                self._reply(404, {"message": "Not Found"})
                return
            with sink.lock:
                sink.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "body": body,
                        "id": connection_id,
                    }
                )
                if connection_id in sink.gone:
                    status, error = 410, "GoneException"
                elif sink.throttle_counts.get(connection_id, 0) > 0:
                    sink.throttle_counts[connection_id] -= 1
                    status, error = 429, "TooManyRequestsException"
                elif connection_id in sink.error_status:
                    status, error = sink.error_status[connection_id], "InternalServerErrorException"
                else:
                    status, error = 200, ""
                    sink.posts.append((connection_id, body))
            if status == 200:
                self._reply(200)
            else:
                self._reply(status, {"message": error}, error_type=error)

        def do_GET(self) -> None:  # noqa: N802
            connection_id = self._connection_id()
            if connection_id is None or connection_id in sink.gone:
                self._reply(410, {"message": "GoneException"}, error_type="GoneException")
                return
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self._reply(200, {"connectedAt": now, "lastActiveAt": now, "identity": {"sourceIp": "127.0.0.1"}})

        def do_DELETE(self) -> None:  # noqa: N802
            connection_id = self._connection_id()
            if connection_id is None or connection_id in sink.gone:
                self._reply(410, {"message": "GoneException"}, error_type="GoneException")
                return
            with sink.lock:
                sink.deleted.append(connection_id)
                sink.gone.add(connection_id)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@pytest.fixture(scope="session")
def _sink_server() -> Iterator[ConnectionsSink]:
    sink = ConnectionsSink()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _sink_handler(sink))
    server.daemon_threads = True
    sink.url = f"http://127.0.0.1:{server.server_address[1]}"
    serve_in_thread(server)
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def connections_sink(_sink_server: ConnectionsSink) -> Iterator[ConnectionsSink]:
    _sink_server.reset()
    yield _sink_server
    _sink_server.reset()


# --- a local JWT issuer -------------------------------------------------------------------------
class JwtIssuer(Identity):
    """local_runtime's in-memory `Identity`, plus `mint` and a key its JWKS does not publish."""

    foreign_key: rsa.RSAPrivateKey  # tokens signed with it are forged

    def mint(self, *, key: Any = None, kid: str | None = None, **overrides: Any) -> str:
        """A signed token; pass a claim as None to leave it out."""
        return self.sign(self.claims(**overrides), key=key, kid=kid)


@pytest.fixture(scope="session")
def jwt_issuer() -> Iterator[JwtIssuer]:
    server = JwksServer()
    try:
        issuer = JwtIssuer.ephemeral(server.url, "test-client-id", kid="test-key-1")
        issuer.foreign_key = new_rsa_key()
        server.jwks = issuer.jwks
        yield issuer
    finally:
        server.close()


@pytest.fixture
def clean_env() -> Iterator[None]:
    """Restore os.environ after a test that edits it directly."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
