"""The local runtime's guards (local_runtime/guards.py): loopback bind, Host check, JSON-only and
same-site local controls. A DNS-rebinding page reaches 127.0.0.1 under its own Host name; a
cross-site page can send a form or text/plain POST without a preflight."""

from __future__ import annotations

import asyncio
import http.client
from urllib.parse import urlsplit

import aiohttp
import pytest

from local_runtime.guards import HostGuard, RemoteBindRefused, check_bind_host, is_loopback_name
from local_runtime.runtime import Options, Runtime, StartupError
from tests.e2e.client import connect_status, token


def _raw(url: str, method: str, path: str, host: str, body: bytes = b"", headers=None) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True)
        conn.putheader("Host", host)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        return conn.getresponse().status
    finally:
        conn.close()


def test_loopback_names():
    for name in (
        "localhost",
        "LOCALHOST:3000",
        "app.localhost",
        "127.0.0.1",
        "127.1.2.3:80",
        "[::1]:3002",
        "::1",
    ):
        assert is_loopback_name(name), name
    wildcard = "0.0.0.0"  # noqa: S104 - a name to refuse, not a bind
    for name in (wildcard, "192.168.1.10", "evil.example.com", "localhost.evil.com", "[::]:1", ""):
        assert not is_loopback_name(name), name
    guard = HostGuard(["devbox.lan"])
    assert guard.allows("devbox.lan:3002") and not guard.allows("other.lan") and not guard.allows(None)
    assert guard.origin_is_local("http://localhost:3000") and not guard.origin_is_local(
        "https://evil.example"
    )
    assert not guard.origin_is_local("null")


def test_binding_beyond_loopback_needs_the_flag_and_warns():
    assert check_bind_host("127.0.0.1", allow_remote=False) is None
    with pytest.raises(RemoteBindRefused):
        check_bind_host("0.0.0.0", allow_remote=False)  # noqa: S104
    warning = check_bind_host("0.0.0.0", allow_remote=True)  # noqa: S104
    assert warning and "/dev/token" in warning
    # The runtime refuses before it synthesizes, binds or starts anything.
    with pytest.raises(StartupError, match="--allow-remote"):
        asyncio.run(Runtime(Options(host="0.0.0.0", synth=False)).start())  # noqa: S104


def test_a_foreign_host_header_is_refused_on_every_port(urls: dict[str, str]) -> None:
    api, ws, front = urls["apiUrl"], urls["websocketUrl"].replace("ws://", "http://"), urls["frontendUrl"]
    for base, path in ((api, "/api/v1/websocket/connections"), (front, "/runtime-config.json")):
        assert _raw(base, "GET", path, "localhost") == 200
        assert _raw(base, "GET", path, "rebind.evil.example") == 403
    # @connections, which the WebSocket port serves outside aiohttp.
    body = b'{"x":1}'
    assert _raw(ws, "POST", "/dev/@connections/abc", "rebind.evil.example", body) == 403
    assert _raw(ws, "POST", "/dev/@connections/abc", "127.0.0.1", body) == 410  # no such connection
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    assert _raw(ws, "GET", "/dev", "rebind.evil.example", headers=upgrade) == 403


def test_local_controls_take_json_from_the_same_site_only(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as s:
            token_url = urls["tokenUrl"]
            form = {"Content-Type": "text/plain"}
            async with s.post(token_url, data='{"username":"mallory"}', headers=form) as r:
                assert r.status == 415
            cross = {"Origin": "https://evil.example"}
            async with s.post(token_url, json={"username": "mallory"}, headers=cross) as r:
                assert r.status == 403
            async with s.post(
                token_url, json={"username": "ok"}, headers={"Origin": "http://localhost:3000"}
            ) as r:
                assert r.status == 200
            stop = f"{urls['apiUrl']}/__local/websocket/stop"
            async with s.post(stop, data="{}", headers=form) as r:
                assert r.status == 415
            async with s.post(stop, json={}, headers=cross) as r:
                assert r.status == 403
            async with s.get(f"{urls['apiUrl']}/__local/info", headers=cross) as r:
                assert r.status == 403
            # Nothing was stopped: a socket still opens.
            assert await connect_status(s, urls, await token(s, urls, "guard-check")) == 101

    asyncio.run(scenario())
