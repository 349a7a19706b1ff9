"""Small asyncio helpers for the e2e tests: tokens, REST calls, WebSocket clients."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import time
import uuid
from typing import Any

import aiohttp

from local_runtime.storage import local_client

# How long a test waits for a message it expects: a bound for a fresh, busy 2-core machine (two
# test workers, each with its runtime), not a latency figure; benchmarks measure latency.
WAIT_S = 10.0
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
COMMENT_KEYS = {"id", "postId", "content", "userId", "createdAt", "seq"}


def data_client(info: dict[str, Any], service: str) -> Any:
    """A boto3 client of the runtime's data services (DynamoDB, its streams, SQS), from the
    runtime's ``/__local/info``. One per endpoint and service: tests poll through it, and each
    new client costs a boto3 session's set-up."""
    return _data_client(service, info["awsEndpoint"])


@functools.cache
def _data_client(service: str, endpoint: str) -> Any:
    return local_client(service, endpoint)


def connections_table(info: dict[str, Any]) -> str:
    """The physical name of the connections table, from the runtime's ``/__local/info``."""
    return next(v for k, v in info["tables"].items() if k.startswith("Connections"))


def unique(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def get_json(session: aiohttp.ClientSession, urls: dict[str, str], path: str) -> Any:
    """GET one of the runtime's HTTP API paths (``/__local/...`` controls among them); 200 or fail."""
    async with session.get(f"{urls['apiUrl'].rstrip('/')}{path}") as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def local_info(session: aiohttp.ClientSession, urls: dict[str, str]) -> dict[str, Any]:
    """The runtime's ``/__local/info``: endpoints, physical table names, event source stats."""
    return await get_json(session, urls, "/__local/info")


async def connection_ids_of(session: aiohttp.ClientSession, urls: dict[str, str], user: str) -> list[str]:
    """The ids of ``user``'s open connections, from the runtime's ``/__local/websocket/connections``."""
    listing = await get_json(session, urls, "/__local/websocket/connections")
    return [c["connectionId"] for c in listing["connections"] if c["userId"] == user]


async def eventually(check: Any, timeout: float = 5.0) -> None:
    """Poll the coroutine function ``check`` until it returns true; fail after ``timeout`` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await check():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def token(session: aiohttp.ClientSession, urls: dict[str, str], username: str) -> str:
    async with session.post(urls["tokenUrl"], json={"username": username}) as r:
        assert r.status == 200, await r.text()
        return (await r.json())["token"]


async def post_comment(
    session: aiohttp.ClientSession,
    urls: dict[str, str],
    tok: str,
    post_id: str,
    content: str,
    parent_id: Any = None,
    **headers: str,
) -> tuple[int, Any]:
    body = {"content": content} if parent_id is None else {"content": content, "parentId": parent_id}
    async with session.post(
        f"{urls['apiUrl']}/api/v1/posts/{post_id}/comments",
        json=body,
        headers={"Authorization": f"Bearer {tok}", **headers},
    ) as r:
        return r.status, (await r.json() if r.content_length != 0 and r.status != 204 else None)


def check_envelope(msg: dict[str, Any]) -> None:
    assert set(msg) == {"type", "data", "timestamp"}, msg
    assert ISO_Z.match(msg["timestamp"]), msg


def check_comment(c: dict[str, Any]) -> None:
    assert COMMENT_KEYS <= set(c) <= COMMENT_KEYS | {"updatedAt", "parentId", "deleted"}, c
    assert isinstance(c["seq"], int) and c["seq"] >= 1, c
    assert ISO_Z.match(c["createdAt"]), c


class WsClient:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._new = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.close_code: int | None = None

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.raw.append(msg.data)
                try:
                    self.messages.append(json.loads(msg.data))
                except ValueError:
                    self.messages.append({"_raw": msg.data})
                self._new.set()
        self.close_code = self.ws.close_code
        self._new.set()

    async def send(self, obj: Any) -> None:
        await self.ws.send_str(obj if isinstance(obj, str) else json.dumps(obj))

    async def wait_for(self, pred: Any, timeout: float = WAIT_S, start: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for m in self.messages[start:]:
                if pred(m):
                    return m
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._reader.done():
                raise AssertionError(f"no matching message within {timeout}s; got {self.messages[-10:]}")
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), timeout=remaining)

    async def wait_type(self, typ: str, timeout: float = WAIT_S, **data: Any) -> dict[str, Any]:
        return await self.wait_for(
            lambda m: m.get("type") == typ and all(_get(m.get("data"), k) == v for k, v in data.items()),
            timeout,
        )

    async def wait_closed(self, timeout: float = WAIT_S) -> int | None:
        await asyncio.wait_for(asyncio.shield(self._reader), timeout=timeout)
        return self.close_code

    async def subscribe(self, post_id: str, **extra: Any) -> dict[str, Any]:
        n = len(self.messages)
        await self.send({"action": "subscribe", "postId": post_id, **extra})
        await self.wait_for(
            lambda m: m.get("type") == "subscribed" and m["data"].get("postId") == post_id, start=n
        )
        return await self.wait_for(
            lambda m: m.get("type") == "comments.list" and m["data"].get("postId") == post_id, start=n
        )

    async def close(self) -> None:
        await self.ws.close()
        try:
            await asyncio.wait_for(self._reader, timeout=5)
        except (TimeoutError, asyncio.CancelledError):
            self._reader.cancel()


def _get(data: Any, dotted: str) -> Any:
    for part in dotted.split("__"):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


async def connect(
    session: aiohttp.ClientSession, urls: dict[str, str], tok: str | None, origin: str | None = None
) -> WsClient:
    url = urls["websocketUrl"] + (f"?token={tok}" if tok else "")
    headers = {"Origin": origin} if origin else {}
    ws = await session.ws_connect(
        url, headers=headers, timeout=aiohttp.ClientWSTimeout(ws_close=5), max_msg_size=0
    )
    return WsClient(ws)


async def connect_status(
    session: aiohttp.ClientSession, urls: dict[str, str], tok: str | None, origin: str | None = None
) -> int:
    """The HTTP status of a refused handshake (101 if it was accepted)."""
    try:
        client = await connect(session, urls, tok, origin)
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    await client.close()
    return 101
