"""API Gateway WebSocket API emulation, the data plane: the handshake with its REQUEST authorizer and
``$connect``, route selection for each frame, ``$disconnect``, and the limits on frames and
connection lifetimes. The management API (``@connections``) is :mod:`local_runtime.connections_api`."""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web

from .connections_api import MAX_MESSAGE
from .model import ApiSpec, RouteSpec
from .template import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from .functions import Functions

log = logging.getLogger("local_runtime.ws")


def new_connection_id() -> str:
    """16 characters like API Gateway's ids (e.g. ``L0SM9cOFvHcCIhw=``), URL-safe."""
    return base64.urlsafe_b64encode(os.urandom(10)).decode()


def _http_date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _request_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(6)).decode() + "="


@dataclass
class Connection:
    id: str
    ws: web.WebSocketResponse
    connected_at: int
    source_ip: str
    user_agent: str
    authorizer: dict[str, Any]
    last_active: float = field(default_factory=time.monotonic)
    last_active_ms: int = field(default_factory=_now_ms)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    skip_disconnect: bool = False
    close_reason: str = ""
    transport: asyncio.BaseTransport | None = None

    def touch(self) -> None:
        self.last_active = time.monotonic()
        self.last_active_ms = _now_ms()

    async def send(self, body: bytes) -> None:
        """One frame to the client: text when the bytes are UTF-8 (as API Gateway sends them)."""
        async with self.lock:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                await self.ws.send_bytes(body)
            else:
                await self.ws.send_str(text)
        self.touch()

    def pending_bytes(self) -> int:
        """Bytes written for this client that the kernel has not taken yet (a slow reader)."""
        # Duck-typed: uvloop's transports implement asyncio.WriteTransport without subclassing it.
        buffered = getattr(self.transport, "get_write_buffer_size", None)
        return buffered() if buffered is not None else 0


class WebSocketGateway:
    def __init__(
        self,
        api: ApiSpec,
        functions: Functions,
        *,
        idle_timeout: float,
        max_duration: float,
        ready: asyncio.Event,
        domain: str = "",
    ):
        self.api = api
        self.functions = functions
        self.idle_timeout = idle_timeout
        self.max_duration = max_duration
        self.ready = ready
        self.domain = domain
        self.stage = next(
            (s for s in api.stages if s != "$default"), api.stages[0] if api.stages else "$default"
        )
        self.connections: dict[str, Connection] = {}
        self.accepting = True
        self._tasks: set[asyncio.Task[Any]] = set()
        self._auth_cache: dict[str, tuple[float, dict[str, Any]]] = {}

    # -- wiring ---------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.handle_ws)
        app.router.add_get("/{stage}", self.handle_ws)
        app.router.add_get("/{stage}/", self.handle_ws)

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- events ---------------------------------------------------------------------------
    def _context(
        self,
        route_key: str,
        event_type: str,
        conn_id: str,
        connected_at: int,
        source_ip: str,
        user_agent: str,
        authorizer: dict[str, Any] | None,
    ) -> dict[str, Any]:
        now = _now_ms()
        rid = _request_id()
        ctx: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": rid,
            "requestTime": _http_date(now),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": connected_at,
            "requestTimeEpoch": now,
            "identity": {"userAgent": user_agent, "sourceIp": source_ip},
            "requestId": rid,
            "domainName": self.domain,
            "connectionId": conn_id,
            "apiId": self.api.id,
        }
        if authorizer:
            ctx["authorizer"] = authorizer
        return ctx

    @staticmethod
    def _headers(request: web.Request) -> tuple[dict[str, str], dict[str, list[str]]]:
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for k, v in request.headers.items():
            multi.setdefault(k, []).append(v)
            single[k] = v
        return single, multi

    @staticmethod
    def _query(request: web.Request) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
        if not request.query:
            return None, None
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for k, v in request.query.items():
            multi.setdefault(k, []).append(v)
            single[k] = v
        return single, multi

    # -- $connect ------------------------------------------------------------------------
    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        status, conn = await self._handshake(request)
        ms = (time.perf_counter() - started) * 1000
        if conn is None:
            log.info("WS   $connect -> %d (%.0f ms)", status, ms)
            return web.json_response({"message": _status_message(status)}, status=status)
        log.info("WS   $connect %s -> 101 (%.0f ms)", conn.id, ms)
        try:
            await self._serve(conn)
        finally:
            # A task of its own: shutdown waits for it (wait_idle), so the snapshot has no orphan
            # connection items, and a handler cancelled by the server's shutdown cannot cut it short.
            await asyncio.shield(self.spawn(self._closed(conn)))
        return conn.ws

    async def _handshake(self, request: web.Request) -> tuple[int, Connection | None]:
        await self.ready.wait()
        if not self.accepting:
            return 503, None
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return 426, None
        stage = request.match_info.get("stage")
        if stage and stage not in (self.stage, "$default"):
            return 403, None
        conn_id = new_connection_id()
        connected_at = _now_ms()
        source_ip = (
            request.headers.get("X-Forwarded-For", request.remote or "127.0.0.1").split(",")[0].strip()
        )
        user_agent = request.headers.get("User-Agent", "")
        headers, mv_headers = self._headers(request)
        query, mv_query = self._query(request)
        route = self.api.routes.get("$connect")
        authorizer_ctx: dict[str, Any] | None = None
        if route and route.authorization_type == "CUSTOM" and route.authorizer:
            status, authorizer_ctx = await self._authorize(
                route,
                request,
                conn_id,
                connected_at,
                source_ip,
                user_agent,
                headers,
                mv_headers,
                query,
                mv_query,
            )
            if status != 200:
                return status, None
        if route and route.function:
            event = {
                "headers": headers,
                "multiValueHeaders": mv_headers,
                "requestContext": self._context(
                    "$connect", "CONNECT", conn_id, connected_at, source_ip, user_agent, authorizer_ctx
                ),
                "isBase64Encoded": False,
            }
            if query is not None:
                event["queryStringParameters"] = query
                event["multiValueQueryStringParameters"] = mv_query
            res = await self.functions.invoke(route.function, event)
            if not res.ok:
                log.error("WS   $connect integration failed: %s", res.error_text)
                return 500, None
            code = res.result.get("statusCode") if isinstance(res.result, dict) else None
            if isinstance(code, int) and code >= 300:
                return code, None
        if not self.accepting:
            return 503, None
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE, autoping=True)
        await ws.prepare(request)
        conn = Connection(
            conn_id,
            ws,
            connected_at,
            source_ip,
            user_agent,
            authorizer_ctx or {},
            transport=request.transport,
        )
        self.connections[conn_id] = conn
        return 101, conn

    async def _authorize(
        self,
        route: RouteSpec,
        request: web.Request,
        conn_id: str,
        connected_at: int,
        source_ip: str,
        user_agent: str,
        headers: dict[str, str],
        mv_headers: dict[str, list[str]],
        query: dict[str, str] | None,
        mv_query: dict[str, list[str]] | None,
    ) -> tuple[int, dict[str, Any] | None]:
        auth = route.authorizer
        assert auth is not None
        identity: list[str] = []
        for src in auth.identity_source:
            value = None
            if src.startswith("route.request.querystring."):
                value = (query or {}).get(src.rsplit(".", 1)[1])
            elif src.startswith("route.request.header."):
                value = request.headers.get(src.split("route.request.header.", 1)[1])
            if not value:
                return 401, None  # identity source missing: API Gateway answers 401 without calling
            identity.append(value)
        cache_key = "\x00".join(identity)
        if auth.result_ttl and cache_key in self._auth_cache:
            expires, cached = self._auth_cache[cache_key]
            if expires > time.monotonic():
                return 200, cached
        method_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{self.api.id}/{self.stage}/$connect"
        event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            "headers": headers,
            "multiValueHeaders": mv_headers,
            "queryStringParameters": query or {},
            "multiValueQueryStringParameters": mv_query or {},
            "stageVariables": {},
            "requestContext": self._context(
                "$connect", "CONNECT", conn_id, connected_at, source_ip, user_agent, None
            ),
        }
        if not auth.function:
            return 500, None
        res = await self.functions.invoke(auth.function, event)
        if not res.ok:
            if res.error_message == "Unauthorized":
                return 401, None
            log.error("WS   authorizer failed: %s", res.error_text)
            return 500, None
        out = res.result if isinstance(res.result, dict) else {}
        effect = evaluate_policy(out.get("policyDocument") or {}, method_arn)
        if effect != "Allow":
            return 403, None
        ctx: dict[str, Any] = {}
        for k, v in (out.get("context") or {}).items():
            if isinstance(v, dict | list):
                log.error("WS   authorizer context value %r is not a primitive", k)
                return 500, None
            ctx[k] = v
        ctx["principalId"] = out.get("principalId")
        ctx["integrationLatency"] = int(res.duration_ms)
        if auth.result_ttl:
            self._auth_cache[cache_key] = (time.monotonic() + auth.result_ttl, ctx)
        return 200, ctx

    # -- messages ------------------------------------------------------------------------
    async def _serve(self, conn: Connection) -> None:
        watchdog = self.spawn(self._watchdog(conn))
        try:
            while True:
                msg = await conn.ws.receive()
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    conn.touch()
                    self.spawn(self._on_message(conn, msg.data, msg.type == WSMsgType.BINARY))
                elif msg.type == WSMsgType.ERROR:
                    conn.close_reason = str(msg.data)
                    break
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                    break
        finally:
            watchdog.cancel()

    def select_route(self, body: str | bytes, binary: bool) -> str:
        if binary or not isinstance(body, str):
            return "$default"
        expr = self.api.route_selection or ""
        if not expr.startswith("$request.body."):
            return "$default"
        try:
            value: Any = json.loads(body)
        except ValueError:
            return "$default"
        for part in expr[len("$request.body.") :].split("."):
            if not isinstance(value, dict) or part not in value:
                return "$default"
            value = value[part]
        if isinstance(value, str) and value in self.api.routes and not value.startswith("$"):
            return value
        return "$default"

    async def _on_message(self, conn: Connection, data: str | bytes, binary: bool) -> None:
        started = time.perf_counter()
        route_key = self.select_route(data, binary)
        route = self.api.routes.get(route_key)
        ctx = self._context(
            route_key, "MESSAGE", conn.id, conn.connected_at, conn.source_ip, conn.user_agent, conn.authorizer
        )
        ctx["messageId"] = _request_id()
        if route is None or not route.function:
            await self._send_error(conn, "Forbidden", ctx["requestId"])
            log.info(
                "WS   %s %s -> no route (%.0f ms)", route_key, conn.id, (time.perf_counter() - started) * 1000
            )
            return
        body = (
            base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode() if binary else data
        )
        event = {"requestContext": ctx, "body": body, "isBase64Encoded": binary}
        res = await self.functions.invoke(route.function, event)
        ms = (time.perf_counter() - started) * 1000
        if res.ok:
            log.info("WS   %s %s -> ok (%.0f ms)", route_key, conn.id, ms)
        else:
            log.error("WS   %s %s -> error %s (%.0f ms)", route_key, conn.id, res.error_text, ms)
            await self._send_error(conn, "Internal server error", ctx["requestId"])

    async def _send_error(self, conn: Connection, message: str, request_id: str) -> None:
        payload = json.dumps({"message": message, "connectionId": conn.id, "requestId": request_id})
        try:
            async with conn.lock:
                if not conn.ws.closed:
                    await conn.ws.send_str(payload)
        except (ConnectionError, RuntimeError):
            pass

    async def _watchdog(self, conn: Connection) -> None:
        deadline_total = time.monotonic() + self.max_duration
        while not conn.ws.closed:
            now = time.monotonic()
            idle_deadline = conn.last_active + self.idle_timeout
            if now >= deadline_total:
                conn.close_reason = "Connection max duration reached"
                break
            if now >= idle_deadline:
                conn.close_reason = "Idle timeout"
                break
            await asyncio.sleep(min(deadline_total, idle_deadline) - now + 0.01)
        if not conn.ws.closed:
            log.info("WS   closing %s: %s", conn.id, conn.close_reason)
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=conn.close_reason.encode()[:120])

    # -- $disconnect ---------------------------------------------------------------------
    async def _closed(self, conn: Connection) -> None:
        self.connections.pop(conn.id, None)
        if not conn.ws.closed:
            await conn.ws.close()
        code = conn.ws.close_code or 1006
        if conn.skip_disconnect:
            log.info("WS   %s dropped without $disconnect (test control)", conn.id)
            return
        route = self.api.routes.get("$disconnect")
        if route is None or not route.function:
            return
        started = time.perf_counter()
        ctx = self._context(
            "$disconnect",
            "DISCONNECT",
            conn.id,
            conn.connected_at,
            conn.source_ip,
            conn.user_agent,
            conn.authorizer,
        )
        ctx["disconnectStatusCode"] = code
        ctx["disconnectReason"] = conn.close_reason or (
            "Client-side close frame status code" if code != 1006 else ""
        )
        event = {
            "headers": {"Host": self.domain, "X-Forwarded-For": conn.source_ip},
            "multiValueHeaders": {"Host": [self.domain], "X-Forwarded-For": [conn.source_ip]},
            "requestContext": ctx,
            "isBase64Encoded": False,
        }
        res = await self.functions.invoke(route.function, event)
        ms = (time.perf_counter() - started) * 1000
        if res.ok:
            log.info("WS   $disconnect %s (code %s) -> ok (%.0f ms)", conn.id, code, ms)
        else:
            log.error("WS   $disconnect %s -> error %s (%.0f ms)", conn.id, res.error_text, ms)

    # -- controls ------------------------------------------------------------------------
    async def close_all(self, code: int = WSCloseCode.GOING_AWAY, reason: str = "Going away") -> int:
        conns = list(self.connections.values())
        for c in conns:
            c.close_reason = reason
        await asyncio.gather(
            *(c.ws.close(code=code, message=reason.encode()) for c in conns), return_exceptions=True
        )
        return len(conns)

    async def drop(self, conn_ids: list[str]) -> int:
        """Abort transports without a close frame and without $disconnect (a vanished client)."""
        n = 0
        for cid in conn_ids:
            c = self.connections.get(cid)
            if c is None:
                continue
            c.skip_disconnect = True
            self.connections.pop(cid, None)
            transport = c.ws._req.transport if c.ws._req is not None else None  # noqa: SLF001
            if transport is not None:
                transport.abort()
            n += 1
        return n

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "connectionId": c.id,
                "connectedAt": c.connected_at,
                "userId": c.authorizer.get("userId"),
                "principalId": c.authorizer.get("principalId"),
            }
            for c in self.connections.values()
        ]

    async def wait_idle(self, timeout: float) -> None:
        """Until every connection is gone and its ``$disconnect`` done (and every spawned task),
        or ``timeout``: a closed socket's handler starts its ``$disconnect`` a little later."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            pending = [t for t in self._tasks if not t.done()]
            if not pending and not self.connections:
                return
            if pending:
                await asyncio.wait(pending, timeout=min(remaining, 0.1), return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.sleep(min(remaining, 0.01))


def _status_message(status: int) -> str:
    return {401: "Unauthorized", 403: "Forbidden", 426: "Upgrade Required", 503: "Service Unavailable"}.get(
        status, "Internal server error"
    )


def evaluate_policy(doc: dict[str, Any], resource_arn: str) -> str:
    """IAM-style evaluation for execute-api:Invoke: an explicit Deny wins; else Allow if any matches."""
    statements = doc.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for st in statements:
        actions = st.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) or a == "*" for a in actions):
            continue
        resources = st.get("Resource") or []
        resources = [resources] if isinstance(resources, str) else resources
        if not any(fnmatch.fnmatchcase(resource_arn, r) for r in resources):
            continue
        if st.get("Effect") == "Deny":
            return "Deny"
        if st.get("Effect") == "Allow":
            allowed = True
    return "Allow" if allowed else "Deny"
