"""Guards for a runtime that mints any identity (docs/local-runtime.md, "Safety").

`/dev/token` signs a token for any user name, `/__local/*` stops the WebSocket API and injects
faults, and `@connections` is unauthenticated. So the runtime:
- binds to loopback only, unless `--allow-remote` is given (then it warns);
- refuses requests whose Host header names anything but localhost or a loopback address (a
  DNS-rebinding page would send its own name), plus the bound host when remote access is allowed;
- takes `/dev/token` and `/__local/*` only as `application/json` (a cross-site form or
  `text/plain` POST needs no CORS preflight; JSON does) and refuses them from a cross-site Origin.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


HOST_REFUSED = "Host not allowed: the local runtime answers localhost only\n"


class RemoteBindRefused(ValueError):
    pass


def _strip_port(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:3002
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def is_loopback_name(host: str) -> bool:
    """localhost, *.localhost, 127.0.0.0/8 or ::1 (a port is allowed and ignored)."""
    name = _strip_port(host).rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind_host(host: str, allow_remote: bool) -> str | None:
    """None for a loopback bind; a warning when remote access was asked for; else refuse."""
    if is_loopback_name(host):
        return None
    if not allow_remote:
        raise RemoteBindRefused(
            f"--host {host} would expose /dev/token (tokens for any user), /__local/* and an "
            "unauthenticated @connections API beyond this machine; pass --allow-remote to do it anyway"
        )
    return (
        f"listening on {host}: anyone who can reach this machine can mint tokens for any user "
        "(/dev/token), stop the WebSocket API (/__local/*) and post to any connection (@connections)"
    )


class HostGuard:
    """Which Host header names the runtime answers (loopback names plus `extra`)."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self.extra = frozenset(_strip_port(name) for name in extra if name)

    def allows(self, host: str | None) -> bool:
        if not host:
            return False
        return is_loopback_name(host) or _strip_port(host) in self.extra

    def origin_is_local(self, origin: str) -> bool:
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and bool(parts.netloc) and self.allows(parts.netloc)

    @web.middleware
    async def host_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self.allows(request.headers.get("Host")):
            return web.Response(
                status=403, text="Host not allowed: the local runtime answers localhost only\n"
            )
        return await handler(request)

    @web.middleware
    async def controls_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/dev/token" or request.path.startswith("/__local/"):
            origin = request.headers.get("Origin")
            if origin is not None and not self.origin_is_local(origin):
                return _error(403, "CrossSiteRequest", "the local controls refuse cross-site requests")
            if request.method == "POST" and request.content_type != "application/json":
                return _error(415, "UnsupportedMediaType", "send Content-Type: application/json")
        return await handler(request)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)
