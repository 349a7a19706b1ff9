"""The delivery's HTTP/1.1 client against real HTTP servers (aiohttp, http.server) and a raw socket
server scripting the edge cases: every read is bounded, malformed answers close the connection."""

from __future__ import annotations

import asyncio
import http.client
import http.server
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from aiohttp import web
from realtime_comments.delivery.http1 import (
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    KeepAliveConnection,
    ProtocolError,
)
from realtime_comments.delivery.retry import Outcome, classify
from realtime_comments.delivery.transport import SendError, SignedHttpTransport

REQUEST = b"POST /dev/@connections/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"


def _credentials():  # noqa: ANN202
    from botocore.credentials import Credentials

    return Credentials("AKID", "secret").get_frozen_credentials()


# --- a raw socket server: each accepted connection answers every request with the next script ---


class ScriptedServer:
    """Reads one request at a time and answers with the next scripted reply (bytes, or a callable
    given the socket). ``close_after`` closes the connection after that many replies."""

    def __init__(self, replies: list[bytes | Callable[[socket.socket], None]], close_after: int = 0) -> None:
        self.replies = list(replies)
        self.close_after = close_after
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _read_request(self, conn: socket.socket, pending: bytes) -> tuple[bytes, bytes] | None:
        while b"\r\n\r\n" not in pending:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            pending += chunk
        head, _, rest = pending.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += conn.recv(65536)
        return head + b"\r\n\r\n" + rest[:length], rest[length:]

    def _connection(self, conn: socket.socket) -> None:
        pending = b""
        served = 0
        with conn:
            while self.replies:
                got = self._read_request(conn, pending)
                if got is None:
                    return
                request, pending = got
                self.requests.append(request)
                reply = self.replies.pop(0)
                if callable(reply):
                    reply(conn)
                else:
                    conn.sendall(reply)
                served += 1
                if self.close_after and served >= self.close_after:
                    return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def make(replies: list, close_after: int = 0) -> ScriptedServer:
        server = ScriptedServer(replies, close_after)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def _connect(server: ScriptedServer) -> KeepAliveConnection:
    return KeepAliveConnection("127.0.0.1", server.port, None, timeout=5)


def test_content_length_body_and_keep_alive(scripted):
    server = scripted(
        [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"HTTP/1.1 204 No Content\r\n\r\n"]
    )
    conn = _connect(server)
    first = conn.round_trip(REQUEST)
    assert (first.status, first.body, first.keep_alive) == (200, b"hello", True)
    second = conn.round_trip(REQUEST)
    assert (second.status, second.body) == (204, b"")
    assert server.connections == 1 and len(server.requests) == 2


def test_response_split_across_many_segments(scripted):
    def trickle(conn: socket.socket) -> None:
        for (
            byte
        ) in b"HTTP/1.1 410 Gone\r\nx-amzn-ErrorType: GoneException:http://x\r\nContent-Length: 2\r\n\r\n{}":
            conn.sendall(bytes([byte]))

    conn = _connect(scripted([trickle]))
    response = conn.round_trip(REQUEST)
    assert (response.status, response.error_type, response.body) == (410, "GoneException:http://x", b"{}")


def test_interim_100_continue_is_skipped(scripted):
    conn = _connect(scripted([b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]))
    assert conn.round_trip(REQUEST).status == 200


def test_chunked_body_with_extensions_and_trailers(scripted):
    body = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: y\r\n\r\n"
    conn = _connect(scripted([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body]))
    response = conn.round_trip(REQUEST)
    assert (response.body, response.keep_alive) == (b"Wikipedia", True)


def test_body_until_close_without_length(scripted):
    conn = _connect(scripted([b"HTTP/1.1 500 Oops\r\n\r\nsomething broke"], close_after=1))
    response = conn.round_trip(REQUEST)
    assert (response.status, response.body, response.keep_alive) == (500, b"something broke", False)


def test_connection_close_header_ends_keep_alive(scripted):
    conn = _connect(scripted([b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"]))
    assert conn.round_trip(REQUEST).keep_alive is False


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1),
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n",
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % (MAX_BODY_BYTES + 1),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
    ],
    ids=[
        "length-over-bound",
        "negative-length",
        "non-digit-length",
        "conflicting-lengths",
        "head-over-bound",
        "not-http",
        "bad-status-code",
        "header-without-colon",
        "bad-chunk-size",
        "chunk-over-bound",
        "chunk-without-crlf",
    ],
)
def test_malformed_or_oversized_answers_are_protocol_errors(scripted, reply):
    conn = _connect(scripted([reply]))
    with pytest.raises(ProtocolError) as caught:
        conn.round_trip(REQUEST)
    assert classify(caught.value) is Outcome.TRANSIENT


def test_endless_body_until_close_is_bounded(scripted):
    def flood(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
        try:
            for _ in range(MAX_BODY_BYTES // 1024 + 64):
                conn.sendall(b"x" * 1024)
        except OSError:
            pass  # the client gave up reading, as it must

    conn = _connect(scripted([flood]))
    with pytest.raises(ProtocolError):
        conn.round_trip(REQUEST)


def test_truncated_body_is_an_incomplete_read(scripted):
    conn = _connect(scripted([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], close_after=1))
    with pytest.raises(http.client.IncompleteRead):
        conn.round_trip(REQUEST)


def test_close_before_any_answer_is_remote_disconnected(scripted):
    conn = _connect(scripted([lambda c: None], close_after=1))
    with pytest.raises(http.client.RemoteDisconnected):
        conn.round_trip(REQUEST)


def test_transport_resends_once_on_a_stale_pooled_connection(scripted):
    # The server answers one request per connection and closes it without saying so.
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    server = scripted([ok, ok], close_after=1)
    transport = SignedHttpTransport(f"http://127.0.0.1:{server.port}/dev", "us-east-1", _credentials)
    transport.post("a", b"x")
    transport.post("b", b"x")  # the pooled socket is dead: reconnect and send again, once
    assert server.connections == 2 and len(server.requests) == 2


def test_transport_raises_send_error_with_the_error_type(scripted):
    server = scripted(
        [b"HTTP/1.1 429 Too Many\r\nx-amzn-ErrorType: LimitExceededException\r\nContent-Length: 0\r\n\r\n"]
    )
    transport = SignedHttpTransport(f"http://127.0.0.1:{server.port}", "us-east-1", _credentials)
    with pytest.raises(SendError) as caught:
        transport.post("a", b"x")
    assert (caught.value.status, caught.value.code) == (429, "LimitExceededException")
    assert classify(caught.value) is Outcome.THROTTLED


# --- real servers ---


class _AiohttpServer:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def plain(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(status=200, text="")

        async def gone(request: web.Request) -> web.Response:
            return web.json_response(
                {"message": "gone"}, status=410, headers={"x-amzn-ErrorType": "GoneException"}
            )

        async def chunked(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(status=200)
            response.enable_chunked_encoding()
            await response.prepare(request)
            for part in (b"part-1,", b"part-2"):
                await response.write(part)
            await response.write_eof()
            return response

        async def closing(request: web.Request) -> web.Response:
            return web.Response(status=200, text="bye", headers={"Connection": "close"})

        app = web.Application()
        app.router.add_post("/plain/@connections/{id}", plain)
        app.router.add_post("/gone/@connections/{id}", gone)
        app.router.add_post("/chunked/@connections/{id}", chunked)
        app.router.add_post("/closing/@connections/{id}", closing)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def aiohttp_server() -> Iterator[_AiohttpServer]:
    server = _AiohttpServer()
    yield server
    server.close()


def _raw_post(port: int, path: str) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nhi".encode()


def test_aiohttp_keep_alive_gone_chunked_and_close(aiohttp_server):
    conn = KeepAliveConnection("127.0.0.1", aiohttp_server.port, None, timeout=5)
    for _ in range(3):
        response = conn.round_trip(_raw_post(aiohttp_server.port, "/plain/@connections/a"))
        assert (response.status, response.keep_alive) == (200, True)
    gone = conn.round_trip(_raw_post(aiohttp_server.port, "/gone/@connections/a"))
    assert (gone.status, gone.error_type, gone.body) == (410, "GoneException", b'{"message": "gone"}')
    chunked = conn.round_trip(_raw_post(aiohttp_server.port, "/chunked/@connections/a"))
    assert (chunked.status, chunked.body, chunked.keep_alive) == (200, b"part-1,part-2", True)
    closing = conn.round_trip(_raw_post(aiohttp_server.port, "/closing/@connections/a"))
    assert (closing.body, closing.keep_alive) == (b"bye", False)
    conn.close()


def test_transport_against_aiohttp_sends_and_classifies(aiohttp_server):
    base = f"http://127.0.0.1:{aiohttp_server.port}"
    SignedHttpTransport(base + "/plain", "us-east-1", _credentials).post("Ab+/c=", b"{}")
    with pytest.raises(SendError) as caught:
        SignedHttpTransport(base + "/gone", "us-east-1", _credentials).post("a", b"{}")
    assert classify(caught.value) is Outcome.GONE


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b'{"message":"Forbidden"}'
        self.send_response(403)
        self.send_header("x-amzn-ErrorType", "ForbiddenException")
        if self.protocol_version == "HTTP/1.1":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("protocol", ["HTTP/1.0", "HTTP/1.1"])
def test_stdlib_http_server_both_protocol_versions(protocol):
    handler = type("Handler", (_Handler,), {"protocol_version": protocol})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        conn = KeepAliveConnection("127.0.0.1", port, None, timeout=5)
        response = conn.round_trip(_raw_post(port, "/@connections/a"))
        assert (response.status, response.error_type, response.body) == (
            403,
            "ForbiddenException",
            b'{"message":"Forbidden"}',
        )
        # HTTP/1.0 answers (no length, closed after) are never reused; HTTP/1.1 ones are.
        assert response.keep_alive is (protocol == "HTTP/1.1")
        transport = SignedHttpTransport(f"http://127.0.0.1:{port}", "us-east-1", _credentials)
        for _ in range(2):
            with pytest.raises(SendError) as caught:
                transport.post("a", b"x")
            assert classify(caught.value) is Outcome.FAILED
        assert len(transport._connections) == (1 if protocol == "HTTP/1.1" else 0)
    finally:
        server.shutdown()
        server.server_close()
