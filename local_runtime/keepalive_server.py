"""A keep-alive HTTP/1.1 WSGI server for the data process.

werkzeug's development server (the one ``moto_server`` runs) answers every request with
``Connection: close``: each DynamoDB or SQS call of every function worker paid a TCP connect, and the
data process a new thread, per request (a fifth of a ``$disconnect`` worker's samples were in
``create_connection``). This server keeps connections open, one thread per connection, so a
worker's boto3 pool reuses its sockets as it does against DynamoDB.

It serves what AWS SDK clients send: a request line, headers, a body of ``Content-Length`` bytes
(or ``Transfer-Encoding: chunked``). Anything else gets a 400 and the connection is closed.
"""

from __future__ import annotations

import io
import logging
import socket
import socketserver
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

log = logging.getLogger("local_runtime.data")
MAX_HEADER_LINE = 65_536
MAX_HEADERS = 200


class BadRequest(Exception):
    pass


def _read_chunked(rfile: Any) -> bytes:
    parts: list[bytes] = []
    while True:
        line = rfile.readline(MAX_HEADER_LINE)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise BadRequest("bad chunk size") from exc
        if size == 0:
            while rfile.readline(MAX_HEADER_LINE) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        parts.append(rfile.read(size))
        rfile.readline(MAX_HEADER_LINE)  # the CRLF after the chunk


class _Handler(socketserver.StreamRequestHandler):
    server: KeepAliveServer
    disable_nagle_algorithm = True

    def handle(self) -> None:
        while self._one_request():
            pass

    def _one_request(self) -> bool:
        """Serve one request; False when the connection is to be closed."""
        line = self.rfile.readline(MAX_HEADER_LINE)
        if not line:
            return False
        try:
            method, target, version = line.decode("latin-1").split()
        except ValueError:
            self._reply_bad()
            return False
        headers: list[tuple[str, str]] = []
        while True:
            raw = self.rfile.readline(MAX_HEADER_LINE)
            if raw in (b"\r\n", b"\n"):
                break
            if not raw or len(headers) >= MAX_HEADERS or b":" not in raw:
                self._reply_bad()
                return False
            name, _, value = raw.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
        lowered = {name.lower(): value for name, value in headers}
        try:
            if "chunked" in lowered.get("transfer-encoding", "").lower():
                body = _read_chunked(self.rfile)
            else:
                body = self.rfile.read(int(lowered.get("content-length") or 0))
        except (BadRequest, ValueError):
            self._reply_bad()
            return False
        keep_alive = version == "HTTP/1.1" and lowered.get("connection", "").lower() != "close"
        environ = self._environ(method, target, version, headers, body)
        self._respond(environ, keep_alive)
        return keep_alive

    def _environ(
        self, method: str, target: str, version: str, headers: list[tuple[str, str]], body: bytes
    ) -> dict[str, Any]:
        path, _, query = target.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, "latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": target,
            "REQUEST_URI": target,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in headers:
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key not in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
                existing = environ.get("HTTP_" + key)
                environ["HTTP_" + key] = f"{existing},{value}" if existing else value
        return environ

    def _respond(self, environ: dict[str, Any], keep_alive: bool) -> None:
        started: list[Any] = []

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, response_headers]
            return lambda _data: None  # the legacy write() callable: unused by Flask

        try:
            result: Iterable[bytes] = self.server.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:  # noqa: BLE001 - the client gets a 500, the server goes on
            log.exception("%s %s failed", environ["REQUEST_METHOD"], environ.get("HTTP_X_AMZ_TARGET", ""))
            self.wfile.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
            return
        status, response_headers = started
        out = [f"HTTP/1.1 {status}\r\n"]
        for name, value in response_headers:
            lowered = name.lower()
            if lowered not in ("content-length", "connection", "transfer-encoding"):
                out.append(f"{name}: {value}\r\n")
        out.append(f"Content-Length: {len(body)}\r\n")
        out.append("Connection: keep-alive\r\n\r\n" if keep_alive else "Connection: close\r\n\r\n")
        self.wfile.write("".join(out).encode("latin-1") + body)

    def _reply_bad(self) -> None:
        self.wfile.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


class KeepAliveServer(socketserver.ThreadingTCPServer):
    """``app`` on ``host:port`` (0: a free port), one daemon thread per connection."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, host: str, port: int, app: Callable[..., Any]) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.app = app
        super().__init__((host, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return  # a client that went away
        super().handle_error(request, client_address)
