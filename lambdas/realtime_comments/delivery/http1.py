"""A minimal HTTP/1.1 keep-alive client for one small request and one small response at a time.

Why not http.client / urllib3: they write the head and the body separately and parse headers with
the email package; measured in `make bench` (the `transport` rows) a urllib3 pool costs about 4x
the CPU per @connections send of this client. This client only does what the @connections API
needs: one write per request, a response read with as few `recv` calls as it takes, and hard
bounds on everything it reads, so a misbehaving server cannot make it buffer without limit:

- the status line and headers together: at most ``MAX_HEAD_BYTES``;
- the body (by ``Content-Length``, chunked, or until the server closes): at most ``MAX_BODY_BYTES``;
- a malformed status line, header or length is a `ProtocolError` (an `http.client.HTTPException`,
  so the delivery's retry classification treats it as a transient network failure) and the
  connection is closed.
"""

from __future__ import annotations

import http.client
import socket
import ssl

MAX_HEAD_BYTES = 16 * 1024
# API Gateway's @connections answers are a few hundred bytes (an empty body or a JSON error).
MAX_BODY_BYTES = 64 * 1024
_RECV_BYTES = 16 * 1024


class ProtocolError(http.client.HTTPException):
    """The server's answer is not HTTP/1.x we can read within the bounds."""


class Response:
    __slots__ = ("body", "error_type", "keep_alive", "status")

    def __init__(self, status: int, error_type: str, body: bytes, keep_alive: bool) -> None:
        self.status = status
        self.error_type = error_type
        self.body = body
        self.keep_alive = keep_alive


class KeepAliveConnection:
    """One TCP (or TLS) connection; ``round_trip`` sends one complete request and reads its answer."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, timeout: float) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = tls.wrap_socket(sock, server_hostname=host) if tls else sock
        self._buffer = b""  # bytes received beyond the last response (a server must not send any)

    def round_trip(self, request: bytes) -> Response:
        self.sock.sendall(request)
        while True:
            response = self._read_response()
            if response.status >= 200:
                return response
            # 1xx interim answers (100 Continue, 103 Early Hints) precede the real one.

    def _recv(self) -> bytes:
        chunk = self.sock.recv(_RECV_BYTES)
        if not chunk:
            raise http.client.RemoteDisconnected("connection closed before the response ended")
        return chunk

    def _read_response(self) -> Response:
        data = self._buffer or self._recv()
        while True:
            end = data.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(data) > MAX_HEAD_BYTES:
                raise ProtocolError(f"response head exceeds {MAX_HEAD_BYTES} bytes")
            data += self._recv()
        if end + 4 > MAX_HEAD_BYTES:
            raise ProtocolError(f"response head exceeds {MAX_HEAD_BYTES} bytes")
        lines = data[:end].split(b"\r\n")
        rest = data[end + 4 :]
        status_line = lines[0]
        version, _, tail = status_line.partition(b" ")
        code = tail[:3]
        if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise ProtocolError(f"bad status line {status_line[:100]!r}")
        status = int(code)
        keep_alive = version != b"HTTP/1.0"
        length: int | None = None
        chunked = False
        other_coding = False
        error_type = ""
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                raise ProtocolError(f"bad header line {line[:100]!r}")
            name = name.lower()
            value = value.strip()
            if name == b"content-length":
                if not value.isdigit():
                    raise ProtocolError(f"bad Content-Length {value[:40]!r}")
                if length is not None and length != int(value):
                    raise ProtocolError("conflicting Content-Length headers")
                length = int(value)
            elif name == b"transfer-encoding":
                codings = [c.strip() for c in value.lower().split(b",")]
                chunked = codings[-1] == b"chunked"
                other_coding = not chunked
            elif name == b"connection":
                tokens = {t.strip() for t in value.lower().split(b",")}
                if b"close" in tokens:
                    keep_alive = False
                elif b"keep-alive" in tokens:
                    keep_alive = True
            elif name == b"x-amzn-errortype":
                error_type = value.decode("latin-1")
        if status < 200 or status in (204, 304):
            body = b""
        elif chunked:
            body, rest = self._read_chunked(rest)
        elif other_coding or length is None:
            body, rest, keep_alive = self._read_until_close(rest), b"", False
        else:
            if length > MAX_BODY_BYTES:
                raise ProtocolError(f"Content-Length {length} exceeds {MAX_BODY_BYTES} bytes")
            while len(rest) < length:
                rest += self._recv_or_incomplete(rest, length)
            body, rest = rest[:length], rest[length:]
        self._buffer = rest
        return Response(status, error_type, body, keep_alive)

    def _recv_or_incomplete(self, partial: bytes, expected: int) -> bytes:
        chunk = self.sock.recv(_RECV_BYTES)
        if not chunk:
            raise http.client.IncompleteRead(partial, expected - len(partial))
        return chunk

    def _read_until_close(self, data: bytes) -> bytes:
        while True:
            if len(data) > MAX_BODY_BYTES:
                raise ProtocolError(f"response body exceeds {MAX_BODY_BYTES} bytes")
            chunk = self.sock.recv(_RECV_BYTES)
            if not chunk:
                return data
            data += chunk

    def _read_chunked(self, data: bytes) -> tuple[bytes, bytes]:
        body = b""
        while True:
            end = data.find(b"\r\n")
            while end < 0:
                if len(data) > MAX_HEAD_BYTES:
                    raise ProtocolError("chunk size line too long")
                data += self._recv_or_incomplete(body, len(body) + 1)
                end = data.find(b"\r\n")
            size_text = data[:end].split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError as exc:
                raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from exc
            if size < 0 or len(body) + size > MAX_BODY_BYTES:
                raise ProtocolError(f"chunked body exceeds {MAX_BODY_BYTES} bytes")
            data = data[end + 2 :]
            if size == 0:
                # Trailers, if any, up to the empty line.
                while True:
                    end = data.find(b"\r\n")
                    while end < 0:
                        if len(data) > MAX_HEAD_BYTES:
                            raise ProtocolError("trailers too long")
                        data += self._recv_or_incomplete(body, len(body) + 1)
                        end = data.find(b"\r\n")
                    line, data = data[:end], data[end + 2 :]
                    if not line:
                        return body, data
            while len(data) < size + 2:
                data += self._recv_or_incomplete(body, len(body) + size)
            if data[size : size + 2] != b"\r\n":
                raise ProtocolError("chunk not followed by CRLF")
            body += data[:size]
            data = data[size + 2 :]

    def close(self) -> None:
        self.sock.close()
