"""API Gateway's ``@connections`` management API: POST sends to a connection, GET describes it,
DELETE closes it; 410 for an unknown or closed id, 413 over 128 KB, 429 over the runtime's bounds.

This is the hot path of every broadcast (one request per recipient), so a connection whose first
request is for ``@connections`` is served by :class:`ConnectionsProtocol`, a lean HTTP/1.1
keep-alive server that writes the WebSocket frame straight to the recipient's transport: aiohttp's
request machinery cost ~200 us of CPU per delivery, this ~30 us. Every other connection on the
WebSocket port (the handshakes) goes on to aiohttp (:class:`PortSplitter`), which also answers
``@connections`` through the same :meth:`ConnectionsApi.respond` should one arrive there.

No log line per call: a summary every few seconds instead. Beyond its bounds (frames queued for
a client that does not read, requests being handled) it answers ``429 LimitExceededException`` as
API Gateway does when a sender outruns it, rather than letting memory and latency grow; senders
retry 429s with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

from aiohttp import WSCloseCode, web

if TYPE_CHECKING:
    from .websocket import Connection, WebSocketGateway

log = logging.getLogger("local_runtime.conn")
MAX_MESSAGE = 128 * 1024
MAX_HEAD = 16 * 1024  # request line + headers
MAX_BODY = 1024 * 1024  # larger bodies are refused (413) and the connection closed
REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    410: "Gone",
    411: "Length Required",
    413: "Payload Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
}
ERROR_TYPES = {
    400: "BadRequestException",
    403: "ForbiddenException",
    410: "GoneException",
    413: "PayloadTooLargeException",
    429: "LimitExceededException",
}

# (status, JSON body, x-amzn-ErrorType) - what every front end turns into its own response
Answer = tuple[int, bytes, str | None]


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def error(status: int, message: str) -> Answer:
    return (
        status,
        json.dumps({"message": message}).encode(),
        ERROR_TYPES.get(status, "InternalServerErrorException"),
    )


GONE = error(410, "Gone")
BUSY = error(429, "Rate exceeded")
OK: Answer = (200, b"", None)


def websocket_frame(payload: bytes, text: bool) -> bytes:
    """One unmasked, unfragmented server frame (RFC 6455 5.2)."""
    opcode = 0x81 if text else 0x82
    n = len(payload)
    if n < 126:
        return bytes((opcode, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", opcode, 126, n) + payload
    return struct.pack("!BBQ", opcode, 127, n) + payload


class FaultInjector:
    """Test hook: make ``@connections`` POSTs whose body contains a marker fail ``count`` times.

    With ``delay_ms`` the POST is held that long first (then answered ``status``, or delivered
    when no status is given): the sending function stays inside its invocation meanwhile, which
    is how a test kills a worker mid-invocation deterministically (``held`` says when).
    """

    def __init__(self) -> None:
        self.rules: list[dict[str, Any]] = []
        self.held = 0  # POSTs being held right now

    def add(self, marker: str, count: int, status: int | None, delay_ms: float = 0.0) -> None:
        """Add a rule; ``count`` 0 removes the rules of that marker (and releases what they hold:
        answered then as at the end of their delay)."""
        for rule in self.rules:
            if rule["marker"] == marker.encode():
                rule["released"].set()
        self.rules = [r for r in self.rules if r["marker"] != marker.encode()]
        if count > 0:
            self.rules.append(
                {
                    "marker": marker.encode(),
                    "count": count,
                    "status": status,
                    "delay": delay_ms / 1000,
                    "released": asyncio.Event(),
                }
            )

    def _take(self, body: bytes, delayed: bool) -> dict[str, Any] | None:
        for rule in self.rules:
            if rule["count"] > 0 and bool(rule["delay"]) == delayed and rule["marker"] in body:
                rule["count"] -= 1
                return rule
        return None

    def check(self, body: bytes) -> int | None:
        """The status of the first immediate rule matching ``body`` (used up by one)."""
        rule = self._take(body, delayed=False)
        return None if rule is None else rule["status"]

    def must_hold(self, body: bytes) -> bool:
        return any(r["count"] > 0 and r["delay"] and r["marker"] in body for r in self.rules)

    async def hold(self, body: bytes) -> tuple[bool, int | None]:
        """Hold a POST a delayed rule matches: (whether one did, the status to answer after)."""
        rule = self._take(body, delayed=True)
        if rule is None:
            return False, None
        self.held += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rule["released"].wait(), rule["delay"])
        finally:
            self.held -= 1
        return True, rule["status"]

    def describe(self) -> dict[str, Any]:
        return {
            "held": self.held,
            "rules": [
                {
                    "marker": r["marker"].decode(),
                    "count": r["count"],
                    "status": r["status"],
                    "delayMs": r["delay"] * 1000,
                }
                for r in self.rules
            ],
        }


def connection_id_of(path: str) -> str | None:
    """``/@connections/{id}`` or ``/{stage}/@connections/{id}`` -> the (percent-decoded) id."""
    head, sep, tail = path.partition("/@connections/")
    if not sep or not tail or "/" in tail or head.count("/") > 1 or (head and not head.startswith("/")):
        return None
    return unquote(tail.split("?", 1)[0])


class ConnectionsApi:
    """What ``@connections`` answers, whichever front end received the request.

    ``max_pending_bytes``: bytes written to a client's transport that the kernel has not taken
    yet, beyond which a POST to it answers 429 (a reader that does not keep up).
    ``max_in_flight``: POSTs waiting on a send that must be awaited (a connection that negotiated
    permessage-deflate, whose frames aiohttp compresses), beyond which new ones answer 429.
    """

    def __init__(
        self,
        gateway: WebSocketGateway,
        *,
        max_pending_bytes: int = 1024 * 1024,
        max_in_flight: int = 2048,
        summary_interval: float = 5.0,
    ) -> None:
        self.gateway = gateway
        self.faults = FaultInjector()
        self.max_pending_bytes = max_pending_bytes
        self.max_in_flight = max_in_flight
        self.summary_interval = summary_interval
        self.in_flight = 0
        self.counts: Counter[str] = Counter()
        self.totals: Counter[str] = Counter()
        self._summary_task: asyncio.Task[None] | None = None

    # -- the answer -------------------------------------------------------------------------------
    def respond_now(self, method: str, conn_id: str, body: bytes, *, faults: bool = True) -> Answer | None:
        """The answer, if it can be given without waiting (None: use :meth:`respond`).
        ``faults``: apply the injected faults (not again to a POST already held by one)."""
        if self._summary_task is None:
            self._summary_task = asyncio.get_running_loop().create_task(self._summaries())
        conn = self.gateway.connections.get(conn_id)
        if method == "POST":
            if faults and self.faults.rules and self.faults.must_hold(body):
                return None
            answer = self._check_post(conn, body, faults=faults)
            if answer is not None:
                return self._count(method, answer)
            assert conn is not None
            if conn.ws.compress:  # permessage-deflate: aiohttp's writer compresses
                return None
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            transport = conn.transport
            if transport is None or transport.is_closing():
                return self._count(method, GONE)
            transport.write(websocket_frame(body, text is not None))  # type: ignore[attr-defined]
            conn.touch()
            return self._count(method, OK)
        return self._count(method, self._describe_or_close(method, conn))

    async def respond(self, method: str, conn_id: str, body: bytes) -> Answer:
        faults = True
        if method == "POST" and self.faults.rules:
            held, status = await self.faults.hold(body)
            if held and status is not None:
                return self._count(method, error(status, "Injected failure (local test control)"))
            faults = not held
        answer = self.respond_now(method, conn_id, body, faults=faults)
        if answer is not None:
            return answer
        conn = self.gateway.connections.get(conn_id)
        if conn is None or conn.ws.closed:
            return self._count(method, GONE)
        if self.in_flight >= self.max_in_flight:
            return self._count(method, BUSY)
        self.in_flight += 1
        try:
            await conn.send(body)
        except (ConnectionError, RuntimeError):
            return self._count(method, GONE)
        finally:
            self.in_flight -= 1
        return self._count(method, OK)

    def _check_post(self, conn: Connection | None, body: bytes, *, faults: bool = True) -> Answer | None:
        if conn is None or conn.ws.closed:
            return GONE
        if faults and self.faults.rules:
            fault = self.faults.check(body)
            if fault is not None:
                return error(fault, "Injected failure (local test control)")
        if len(body) > MAX_MESSAGE:
            return error(413, "Message too long")
        if conn.pending_bytes() > self.max_pending_bytes:
            return BUSY
        return None

    def _describe_or_close(self, method: str, conn: Connection | None) -> Answer:
        if conn is None or conn.ws.closed:
            return GONE
        if method == "GET":
            described = {  # wire names (botocore maps them to ConnectedAt, Identity, ...)
                "connectedAt": _iso(conn.connected_at),
                "lastActiveAt": _iso(conn.last_active_ms),
                "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            }
            return 200, json.dumps(described).encode(), None
        if method == "DELETE":
            conn.close_reason = "Deleted by @connections"
            self.gateway.spawn(conn.ws.close(code=WSCloseCode.OK))
            return 204, b"", None
        return error(405, "Method not allowed")

    # -- bookkeeping ----------------------------------------------------------------------------
    def _count(self, method: str, answer: Answer) -> Answer:
        self.counts[f"{method} {answer[0]}"] += 1
        return answer

    async def _summaries(self) -> None:
        """One log line per interval with activity: what a per-request line would say, in sum."""
        while True:
            await asyncio.sleep(self.summary_interval)
            if not self.counts:
                continue
            counts, self.counts = self.counts, Counter()
            self.totals.update(counts)
            busy = counts.get("POST 429", 0)
            parts = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            log.log(
                logging.WARNING if busy else logging.INFO,
                "CONN last %.0f s: %s%s",
                self.summary_interval,
                parts,
                " (429s: senders outran a client or the runtime's bound)" if busy else "",
            )

    def stats(self) -> dict[str, int]:
        return dict(self.totals + self.counts)

    async def close(self) -> None:
        if self._summary_task is not None:
            self._summary_task.cancel()

    # -- the aiohttp front end (any @connections request that arrives on an aiohttp connection) --
    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/@connections/{id}", self.handle)
        app.router.add_route("*", "/{stage}/@connections/{id}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        status, payload, error_type = await self.respond(request.method, request.match_info["id"], body)
        headers = {"x-amzn-ErrorType": error_type} if error_type else None
        if not payload:
            return web.Response(status=status, headers=headers)
        return web.Response(status=status, body=payload, content_type="application/json", headers=headers)


class ConnectionsProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive for ``@connections``: Content-Length bodies, requests answered in order."""

    def __init__(self, api: ConnectionsApi) -> None:
        self.api = api
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.waiting: asyncio.Task[None] | None = None  # a request that needs an await (in order)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiting is None:
            self._serve()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def _serve(self) -> None:
        while self.transport is not None and not self.transport.is_closing():
            request = self._next_request()
            if request is None:
                return
            method, path, body, keep_alive = request
            conn_id = connection_id_of(path)
            if conn_id is None:
                self._reply(error(404, "Not Found"), keep_alive)
                continue
            answer = self.api.respond_now(method, conn_id, body)
            if answer is None:
                self.waiting = asyncio.get_running_loop().create_task(
                    self._respond_later(method, conn_id, body, keep_alive)
                )
                return
            self._reply(answer, keep_alive)

    async def _respond_later(self, method: str, conn_id: str, body: bytes, keep_alive: bool) -> None:
        try:
            self._reply(await self.api.respond(method, conn_id, body), keep_alive)
        finally:
            self.waiting = None
        self._serve()

    def _next_request(self) -> tuple[str, str, bytes, bool] | None:
        """One complete request from the buffer (None: wait for more bytes, or it was refused)."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD:
                self._refuse(431, "Request header fields too large")
            return None
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        parts = head[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._refuse(400, "Bad request line")
            return None
        method, path, version = parts
        length = 0
        keep_alive = version == "HTTP/1.1"
        for line in head[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                if not value.strip().isdigit():
                    self._refuse(400, "Bad Content-Length")
                    return None
                length = int(value)
            elif name == "transfer-encoding":
                self._refuse(411, "Content-Length required")
                return None
            elif name == "connection":
                keep_alive = (
                    value.strip().lower() != "close"
                    if version == "HTTP/1.1"
                    else (value.strip().lower() == "keep-alive")
                )
        if length > MAX_BODY:
            self._refuse(413, "Message too long")
            return None
        start = end + 4
        if len(self.buffer) < start + length:
            return None
        body = bytes(self.buffer[start : start + length])
        del self.buffer[: start + length]
        return method, path, body, keep_alive

    def _reply(self, answer: Answer, keep_alive: bool) -> None:
        status, payload, error_type = answer
        if self.transport is None:
            return
        head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}", f"Content-Length: {len(payload)}"]
        if payload:
            head.append("Content-Type: application/json")
        if error_type:
            head.append(f"x-amzn-ErrorType: {error_type}")
        if not keep_alive:
            head.append("Connection: close")
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        if not keep_alive:
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        self._reply(error(status, message), keep_alive=False)
        self.buffer.clear()


class PortSplitter(asyncio.Protocol):
    """The WebSocket port's first look at a connection: ``@connections`` traffic goes to
    :class:`ConnectionsProtocol`, everything else to aiohttp (``aiohttp_protocol``)."""

    def __init__(
        self,
        api: ConnectionsApi,
        aiohttp_protocol: Callable[[], asyncio.Protocol],
        host_allowed: Callable[[str | None], bool] = lambda host: True,
    ) -> None:
        self.api = api
        self.aiohttp_protocol = aiohttp_protocol
        # The Host check (local_runtime/guards.py) for @connections, which aiohttp never sees.
        # Only a connection's first request is read here: a keep-alive connection's later
        # requests come from the same client, under the same Host.
        self.host_allowed = host_allowed
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        line_end = self.buffer.find(b"\r\n")
        if line_end < 0 and len(self.buffer) < MAX_HEAD:
            return
        request_line = self.buffer[: max(line_end, 0)].split(b" ")
        target = request_line[1] if len(request_line) > 1 else b""
        is_connections = b"/@connections/" in target
        if is_connections:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0 and len(self.buffer) < MAX_HEAD:
                return
            if not self.host_allowed(_host_header(self.buffer[: max(head_end, 0)])):
                body = b"Host not allowed: the local runtime answers localhost only\n"
                self.transport.write(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                self.transport.close()
                return
        protocol: asyncio.Protocol = (
            ConnectionsProtocol(self.api) if is_connections else self.aiohttp_protocol()
        )
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        protocol.data_received(self.buffer)
        self.buffer = b""


def _host_header(head: bytes) -> str | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"host":
            return value.strip().decode("latin-1")
    return None
