"""The local-only test controls, ``/__local/*`` on the HTTP API's port (docs/local-runtime.md)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .connections_api import ConnectionsApi
    from .functions import Functions
    from .websocket import WebSocketGateway

log = logging.getLogger("local_runtime.controls")


class Controls:
    def __init__(
        self,
        ws: WebSocketGateway | None,
        connections: ConnectionsApi | None,
        info: Callable[[], dict[str, Any]],
        functions: Functions | None = None,
    ) -> None:
        self.ws = ws
        self.connections = connections
        self.info = info
        self.functions = functions

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/__local/websocket/stop", self.ws_stop)
        app.router.add_post("/__local/websocket/start", self.ws_start)
        app.router.add_post("/__local/websocket/drop", self.ws_drop)
        app.router.add_get("/__local/websocket/connections", self.ws_list)
        app.router.add_post("/__local/faults", self.faults)
        app.router.add_get("/__local/faults", self.faults_list)
        app.router.add_get("/__local/functions", self.functions_list)
        app.router.add_get("/__local/info", self.handle_info)

    async def ws_stop(self, request: web.Request) -> web.Response:
        """Close every WebSocket with 1001 and refuse new ones (503)."""
        if self.ws is None:
            return web.json_response({"closed": 0})
        self.ws.accepting = False
        n = await self.ws.close_all()
        log.info("HTTP POST /__local/websocket/stop -> closed %d", n)
        return web.json_response({"closed": n, "accepting": False})

    async def ws_start(self, request: web.Request) -> web.Response:
        if self.ws is not None:
            self.ws.accepting = True
        log.info("HTTP POST /__local/websocket/start")
        return web.json_response({"accepting": True})

    async def ws_drop(self, request: web.Request) -> web.Response:
        """Abort transports without a close frame and without $disconnect (a vanished client)."""
        body = await request.json() if request.can_read_body else {}
        ids = list(body.get("connectionIds") or [])
        if body.get("userId") and self.ws is not None:
            ids += [c["connectionId"] for c in self.ws.describe() if c["userId"] == body["userId"]]
        n = await self.ws.drop(ids) if self.ws is not None else 0
        return web.json_response({"dropped": n})

    async def ws_list(self, request: web.Request) -> web.Response:
        return web.json_response({"connections": self.ws.describe() if self.ws else []})

    async def handle_info(self, request: web.Request) -> web.Response:
        return web.json_response(self.info())

    async def faults(self, request: web.Request) -> web.Response:
        """The next ``count`` @connections POSTs whose body contains ``marker`` answer ``status``
        (default 500); with ``delayMs`` they are held that long first, and delivered after it
        unless a ``status`` is given."""
        body = await request.json()
        if self.connections is None:
            return web.json_response({"error": "no websocket api"}, status=400)
        delay_ms = float(body.get("delayMs") or 0)
        status = body.get("status", None if delay_ms else 500)
        self.connections.faults.add(
            str(body["marker"]),
            int(body.get("count", 1)),
            None if status is None else int(status),
            delay_ms,
        )
        return web.json_response({"ok": True})

    async def faults_list(self, request: web.Request) -> web.Response:
        """The fault rules and how many POSTs are being held now."""
        if self.connections is None:
            return web.json_response({"held": 0, "rules": []})
        return web.json_response(self.connections.faults.describe())

    async def functions_list(self, request: web.Request) -> web.Response:
        """Each function's workers: pid, the invocation in flight, exits and replacements."""
        pools = self.functions.pools if self.functions is not None else {}
        return web.json_response({"functions": {lid: pool.describe() for lid, pool in pools.items()}})
