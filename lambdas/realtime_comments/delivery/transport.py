"""How one message reaches one connection: POST {callback_url}/@connections/{id}, SigV4-signed.

Two interchangeable transports:
- `SignedHttpTransport` (the default): signs with botocore's credentials and SigV4 rules but
  precomputes what is the same for every recipient (signing key, payload hash) and reuses
  keep-alive connections from its own pool. A boto3 `post_to_connection` call costs ~1 ms of CPU
  (serialization, event hooks, endpoint rules, signing); under the GIL that caps one process near
  1,000 sends/s, far below API Gateway's 10,000/s. This path costs about a tenth of that.
- `Boto3Transport`: wraps an `apigatewaymanagementapi` client (handy for callers that already
  have one, and for comparison in the benchmarks).
Both raise `SendError` with the HTTP status and the error code, which `retry.classify` reads.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import queue
import socket
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from botocore.exceptions import ClientError
from botocore.utils import normalize_url_path
from realtime_comments.delivery.pace import SendPace

_SERVICE = "execute-api"


class SendError(Exception):
    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(f"{status} {code} {message}".strip())
        self.status = status
        self.code = code


class Transport(Protocol):
    def post(self, connection_id: str, data: bytes) -> None: ...


class Boto3Transport:
    def __init__(self, client: Any) -> None:
        self.client = client

    def post(self, connection_id: str, data: bytes) -> None:
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as error:
            response = error.response
            raise SendError(
                response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0),
                response.get("Error", {}).get("Code", ""),
                response.get("Error", {}).get("Message", ""),
            ) from error


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


class _SigningContext:
    """What one batch of sends shares: the date, the credential scope and the derived key."""

    def __init__(self, credentials: Any, region: str, now: datetime | None = None) -> None:
        self.created = time.monotonic()
        now = (now or datetime.now(UTC)).astimezone(UTC)
        self.amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        date = self.amz_date[:8]
        self.scope = f"{date}/{region}/{_SERVICE}/aws4_request"
        key = _hmac(_hmac(_hmac(("AWS4" + credentials.secret_key).encode(), date), region), _SERVICE)
        self.signing_key = _hmac(key, "aws4_request")
        self.access_key = credentials.access_key
        self.token = credentials.token


class SignedHttpTransport:
    """SigV4-signed POSTs over a pool of keep-alive HTTP(S) connections to the callback URL."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        credentials_provider: Callable[[], Any],
        *,
        timeout: float = 10.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        parts = urlsplit(endpoint_url.rstrip("/"))
        self.scheme = parts.scheme
        self.netloc = parts.netloc
        self.host = parts.hostname or ""
        self.port = parts.port
        self.base_path = parts.path
        self.region = region
        self.credentials_provider = credentials_provider
        self.timeout = timeout
        self.clock = clock
        self._ssl_context = ssl.create_default_context() if self.scheme == "https" else None
        self._connections: queue.LifoQueue[_KeepAliveConnection] = queue.LifoQueue()
        self._signing: _SigningContext | None = None
        self._payload_hashes: dict[int, tuple[bytes, str]] = {}
        self.pace = SendPace()

    # The signing date, scope and key are derived once and reused for a short while rather than
    # per request: API Gateway accepts a signature date within 5 minutes of its clock.
    _SIGNING_REUSE_SECONDS = 30.0

    def _signing_context(self) -> _SigningContext:
        signing = self._signing
        if signing is None or time.monotonic() - signing.created > self._SIGNING_REUSE_SECONDS:
            signing = _SigningContext(
                self.credentials_provider(), self.region, self.clock() if self.clock else None
            )
            self._signing = signing
        return signing

    def path_for(self, connection_id: str) -> str:
        return f"{self.base_path}/@connections/{quote(connection_id, safe='-_.~')}"

    def signed_headers(self, connection_id: str, data: bytes) -> tuple[str, dict[str, str]]:
        """The request path and headers, signed as botocore's SigV4Auth would sign them."""
        signing = self._signing_context()
        path = self.path_for(connection_id)
        payload_hash = self._payload_hash(data)
        headers = {"host": self.netloc, "x-amz-date": signing.amz_date}
        if signing.token:
            headers["x-amz-security-token"] = signing.token
        names = sorted(headers)
        canonical = "\n".join(
            [
                "POST",
                quote(normalize_url_path(path), safe="/~"),
                "",
                "".join(f"{name}:{headers[name]}\n" for name in names),
                ";".join(names),
                payload_hash,
            ]
        )
        string_to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                signing.amz_date,
                signing.scope,
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        signature = hmac.new(signing.signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={signing.access_key}/{signing.scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}"
        )
        headers["Content-Type"] = "application/octet-stream"
        headers["Host"] = headers.pop("host")
        return path, headers

    def _payload_hash(self, data: bytes) -> str:
        cached = self._payload_hashes.get(id(data))
        if cached is not None and cached[0] is data:
            return cached[1]
        digest = hashlib.sha256(data).hexdigest()
        self._payload_hashes = {id(data): (data, digest)}  # one message per batch: keep only the last
        return digest

    def _new_connection(self) -> _KeepAliveConnection:
        return _KeepAliveConnection(
            self.host, self.port or (443 if self._ssl_context else 80), self._ssl_context, self.timeout
        )

    def post(self, connection_id: str, data: bytes) -> None:
        cpu_started = time.thread_time()
        path, headers = self.signed_headers(connection_id, data)
        head = "".join(
            [
                f"POST {path} HTTP/1.1\r\n",
                *(f"{name}: {value}\r\n" for name, value in headers.items()),
                f"Content-Length: {len(data)}\r\n\r\n",
            ]
        ).encode("latin-1")
        try:
            connection = self._connections.get_nowait()
            reused = True
        except queue.Empty:
            connection, reused = self._new_connection(), False
        try:
            sent = time.perf_counter()
            status, error_type, body, keep_alive = connection.round_trip(head + data)
            round_trip = time.perf_counter() - sent
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            connection.close()
            if not reused:
                raise
            # A pooled keep-alive socket the server had already closed: nothing was processed.
            connection = self._new_connection()
            try:
                sent = time.perf_counter()
                status, error_type, body, keep_alive = connection.round_trip(head + data)
                round_trip = time.perf_counter() - sent
            except BaseException:
                connection.close()
                raise
        except BaseException:
            connection.close()
            raise
        if keep_alive:
            self._connections.put(connection)
        else:
            connection.close()
        self.pace.record(round_trip, time.thread_time() - cpu_started)
        if status >= 300:
            raise SendError(status, _error_code(status, error_type), body[:200].decode("utf-8", "replace"))

    def close(self) -> None:
        while True:
            try:
                self._connections.get_nowait().close()
            except queue.Empty:
                return


class _KeepAliveConnection:
    """A minimal HTTP/1.1 keep-alive client: one write per request and a lean response parser.

    http.client writes headers and body separately and parses headers with the email package;
    at thousands of sends per second that overhead dominates the CPU time of a fan-out.
    """

    _MAX_LINE = 65536

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, timeout: float) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = tls.wrap_socket(sock, server_hostname=host) if tls else sock
        self.reader = self.sock.makefile("rb")

    def round_trip(self, request: bytes) -> tuple[int, str, bytes, bool]:
        """Send one request; return (status, x-amzn-ErrorType, body, keep the connection)."""
        self.sock.sendall(request)
        status_line = self.reader.readline(self._MAX_LINE)
        if not status_line:
            raise http.client.RemoteDisconnected("connection closed before the response")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise http.client.BadStatusLine(status_line.decode("latin-1", "replace"))
        status = int(parts[1])
        headers: dict[bytes, bytes] = {}
        while True:
            line = self.reader.readline(self._MAX_LINE)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        keep_alive = headers.get(b"connection", b"").lower() != b"close" and parts[0] != b"HTTP/1.0"
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            body = self._read_chunked()
        elif b"content-length" in headers:
            body = self._read_exactly(int(headers[b"content-length"]))
        elif status in (204, 304) or status < 200:
            body = b""
        else:
            body, keep_alive = self.reader.read(), False
        return status, headers.get(b"x-amzn-errortype", b"").decode("latin-1"), body, keep_alive

    def _read_exactly(self, size: int) -> bytes:
        body = self.reader.read(size)
        if len(body) < size:
            raise http.client.IncompleteRead(body, size - len(body))
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.reader.readline(self._MAX_LINE).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.reader.readline(self._MAX_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self._read_exactly(size))
            self.reader.readline(self._MAX_LINE)

    def close(self) -> None:
        try:
            self.reader.close()
        finally:
            self.sock.close()


def _error_code(status: int, error_type: str) -> str:
    if error_type:
        return error_type.split(":", 1)[0]
    return {
        410: "GoneException",
        429: "TooManyRequestsException",
        403: "ForbiddenException",
        413: "PayloadTooLargeException",
    }.get(status, f"HTTP{status}")
