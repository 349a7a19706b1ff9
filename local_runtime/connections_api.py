"""API Gateway's ``@connections`` management API: POST sends to a connection, GET describes it,
DELETE closes it; 410 for an unknown or closed id, 413 over 128 KB, 429 over the runtime's bound.

This is the hot path of every broadcast (one request per recipient), so it does as little as it
can per request: no log line per call (a summary every few seconds instead), no JSON parse of the
body, and one bound on the frames queued for delivery. Past that bound it answers
``429 LimitExceededException``, as API Gateway does when a sender outruns it, rather than letting
memory and latency grow without limit; senders retry 429s with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, web

if TYPE_CHECKING:
    from .websocket import WebSocketGateway

log = logging.getLogger("local_runtime.conn")
MAX_MESSAGE = 128 * 1024


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def error_response(status: int, message: str) -> web.Response:
    return web.json_response(
        {"message": message}, status=status, headers={"x-amzn-ErrorType": error_type(status)}
    )


def error_type(status: int) -> str:
    return {
        400: "BadRequestException",
        403: "ForbiddenException",
        410: "GoneException",
        413: "PayloadTooLargeException",
        429: "LimitExceededException",
    }.get(status, "InternalServerErrorException")


class FaultInjector:
    """Test hook: make ``@connections`` POSTs whose body contains a marker fail ``count`` times."""

    def __init__(self) -> None:
        self.rules: list[dict[str, Any]] = []

    def add(self, marker: str, count: int, status: int) -> None:
        """Add a rule; ``count`` 0 removes the rules of that marker."""
        self.rules = [r for r in self.rules if r["marker"] != marker.encode()]
        if count > 0:
            self.rules.append({"marker": marker.encode(), "count": count, "status": status})

    def check(self, body: bytes) -> int | None:
        for rule in self.rules:
            if rule["count"] > 0 and rule["marker"] in body:
                rule["count"] -= 1
                return rule["status"]
        return None


class ConnectionsApi:
    """``/@connections/{id}`` and ``/{stage}/@connections/{id}`` on the WebSocket API's port.

    ``max_pending_bytes``: bytes written to a socket's transport but not yet taken by the kernel,
    per connection, beyond which a POST to it answers 429 (a reader that does not keep up).
    ``max_in_flight``: POSTs being handled at once, beyond which new ones answer 429.
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

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/@connections/{id}", self.handle)
        app.router.add_route("*", "/{stage}/@connections/{id}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        if self._summary_task is None:
            self._summary_task = asyncio.create_task(self._summaries())
        method = request.method
        if method == "POST" and self.in_flight >= self.max_in_flight:
            await request.read()
            return self._count(method, error_response(429, "Rate exceeded"))
        self.in_flight += 1
        try:
            resp = await self._handle(method, request)
        finally:
            self.in_flight -= 1
        return self._count(method, resp)

    async def _handle(self, method: str, request: web.Request) -> web.Response:
        conn = self.gateway.connections.get(request.match_info["id"])
        if method == "POST":
            body = await request.read()
            if conn is None or conn.ws.closed:
                return _gone()
            fault = self.faults.check(body) if self.faults.rules else None
            if fault is not None:
                return error_response(fault, "Injected failure (local test control)")
            if len(body) > MAX_MESSAGE:
                return error_response(413, "Message too long")
            if conn.pending_bytes() > self.max_pending_bytes:
                return error_response(429, "Rate exceeded")
            try:
                await conn.send(body)
            except (ConnectionError, RuntimeError):
                return _gone()
            return web.Response(status=200)
        if conn is None or conn.ws.closed:
            return _gone()
        if method == "GET":
            return web.json_response(
                {  # wire names (botocore maps them to ConnectedAt, Identity, ...)
                    "connectedAt": _iso(conn.connected_at),
                    "lastActiveAt": _iso(conn.last_active_ms),
                    "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
                }
            )
        if method == "DELETE":
            conn.close_reason = "Deleted by @connections"
            self.gateway.spawn(conn.ws.close(code=WSCloseCode.OK))
            return web.Response(status=204)
        return web.json_response({"message": "Method not allowed"}, status=405)

    def _count(self, method: str, resp: web.Response) -> web.Response:
        key = f"{method} {resp.status}"
        self.counts[key] += 1
        if resp.status == 429:
            self.counts["busy"] += 1
        return resp

    async def _summaries(self) -> None:
        """One log line per interval with activity: what a per-request line would say, in sum."""
        while True:
            await asyncio.sleep(self.summary_interval)
            if not self.counts:
                continue
            counts, self.counts = self.counts, Counter()
            busy = counts.pop("busy", 0)
            self.totals.update(counts)
            parts = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            level = logging.WARNING if busy else logging.INFO
            log.log(
                level,
                "CONN last %.0f s: %s%s",
                self.summary_interval,
                parts,
                f" ({busy} refused with 429: senders outran the runtime's bound)" if busy else "",
            )

    def stats(self) -> dict[str, int]:
        return dict(self.totals + self.counts)

    async def close(self) -> None:
        if self._summary_task is not None:
            self._summary_task.cancel()


def _gone() -> web.Response:
    return error_response(410, "Gone")
