"""How one message reaches one connection: POST {callback_url}/@connections/{id}, SigV4-signed.

Two interchangeable transports:
- `SignedHttpTransport` (the default): signs with botocore's credentials and SigV4 rules but
  precomputes what is the same for every recipient (signing key, payload hash) and reuses
  keep-alive connections of its own bounded HTTP/1.1 client (`http1.py`). A boto3
  `post_to_connection` call costs ~1 ms of CPU (serialization, event hooks, endpoint rules,
  signing) and a urllib3 pool with the same signing ~4x this path (`make bench`, `transport` rows);
  under the GIL that caps one process far below API Gateway's 10,000 sends/s.
- `Boto3Transport`: wraps an `apigatewaymanagementapi` client (handy for callers that already
  have one, and for comparison in the benchmarks).
Both raise `SendError` with the HTTP status and the error code, which `retry.classify` reads.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ssl
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from botocore.exceptions import ClientError
from botocore.utils import normalize_url_path
from realtime_comments.delivery.http1 import KeepAliveConnection
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
    return hmac.digest(key, text.encode("utf-8"), "sha256")


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
        self._path_prefix = f"{self.base_path}/@connections/"
        self._canonical_prefix = quote(normalize_url_path(self._path_prefix + "x"), safe="/~")[:-1]
        self.region = region
        self.credentials_provider = credentials_provider
        self.timeout = timeout
        self.clock = clock
        self._ssl_context = ssl.create_default_context() if self.scheme == "https" else None
        # Idle keep-alive connections; deque.append/pop are atomic, so no lock is needed.
        self._connections: deque[KeepAliveConnection] = deque()
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

    def _canonical_path(self, path: str, connection_id: str) -> str:
        """SigV4's canonical URI (botocore encodes the path once more for execute-api)."""
        quoted_id = path[len(self._path_prefix) :]
        if quoted_id in (".", ".."):  # a dot segment: let botocore's normalization decide
            return quote(normalize_url_path(path), safe="/~")
        # The quoted id holds only unreserved characters and %XX: encoding it again touches only "%".
        return self._canonical_prefix + quoted_id.replace("%", "%25")

    def signed_headers(self, connection_id: str, data: bytes) -> tuple[str, dict[str, str]]:
        """The request path and headers, signed as botocore's SigV4Auth would sign them."""
        signing = self._signing_context()
        path = self.path_for(connection_id)
        payload_hash = self._payload_hash(data)
        if signing.token:
            names = "host;x-amz-date;x-amz-security-token"
            canonical_headers = (
                f"host:{self.netloc}\nx-amz-date:{signing.amz_date}\nx-amz-security-token:{signing.token}\n"
            )
        else:
            names = "host;x-amz-date"
            canonical_headers = f"host:{self.netloc}\nx-amz-date:{signing.amz_date}\n"
        canonical_path = self._canonical_path(path, connection_id)
        canonical = f"POST\n{canonical_path}\n\n{canonical_headers}\n{names}\n{payload_hash}"
        string_to_sign = (
            f"AWS4-HMAC-SHA256\n{signing.amz_date}\n{signing.scope}\n"
            f"{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        signature = hmac.digest(signing.signing_key, string_to_sign.encode(), "sha256").hex()
        headers = {"Host": self.netloc, "x-amz-date": signing.amz_date}
        if signing.token:
            headers["x-amz-security-token"] = signing.token
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={signing.access_key}/{signing.scope}, "
            f"SignedHeaders={names}, Signature={signature}"
        )
        headers["Content-Type"] = "application/octet-stream"
        return path, headers

    def _payload_hash(self, data: bytes) -> str:
        cached = self._payload_hashes.get(id(data))
        if cached is not None and cached[0] is data:
            return cached[1]
        digest = hashlib.sha256(data).hexdigest()
        self._payload_hashes = {id(data): (data, digest)}  # one message per batch: keep only the last
        return digest

    def _new_connection(self) -> KeepAliveConnection:
        return KeepAliveConnection(
            self.host, self.port or (443 if self._ssl_context else 80), self._ssl_context, self.timeout
        )

    def post(self, connection_id: str, data: bytes) -> None:
        cpu_started = time.thread_time()
        path, headers = self.signed_headers(connection_id, data)
        request = (
            f"POST {path} HTTP/1.1\r\n"
            + "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
            + f"Content-Length: {len(data)}\r\n\r\n"
        ).encode("latin-1") + data
        try:
            connection, reused = self._connections.pop(), True
        except IndexError:
            connection, reused = self._new_connection(), False
        sent = time.perf_counter()
        try:
            response = connection.round_trip(request)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            connection.close()
            if not reused:
                raise
            # A pooled keep-alive socket the server had already closed: nothing was processed.
            connection = self._new_connection()
            sent = time.perf_counter()
            try:
                response = connection.round_trip(request)
            except BaseException:
                connection.close()
                raise
        except BaseException:
            connection.close()
            raise
        round_trip = time.perf_counter() - sent
        if response.keep_alive:
            self._connections.append(connection)
        else:
            connection.close()
        self.pace.record(round_trip, time.thread_time() - cpu_started)
        if response.status >= 300:
            raise SendError(
                response.status,
                _error_code(response.status, response.error_type),
                response.body[:200].decode("utf-8", "replace"),
            )

    def close(self) -> None:
        """Close every idle connection (after a SnapStart restore, or when done)."""
        while True:
            try:
                self._connections.pop().close()
            except IndexError:
                return


def _error_code(status: int, error_type: str) -> str:
    if error_type:
        return error_type.split(":", 1)[0]
    return {
        410: "GoneException",
        429: "TooManyRequestsException",
        403: "ForbiddenException",
        413: "PayloadTooLargeException",
    }.get(status, f"HTTP{status}")
