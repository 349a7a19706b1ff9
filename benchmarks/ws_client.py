"""The end-to-end benchmark's WebSocket client: one subscriber that records when each comment arrives.

It stands in for a browser on another machine, but it runs on the same 2 cores as the runtime under
test, so every microsecond it spends per received frame is taken from the runtime. It is built on
picows (a Cython WebSocket client for asyncio): each frame is one synchronous callback
(``on_ws_frame``) with no task switch, no message object and no ``async for``. At 5,000
deliveries/s the load generator took 1.41-1.51 CPU-s per 10 s step with it, 1.77-2.08 with
aiohttp's ``ws_connect`` and an ``async for`` per message (benchmarks/README.md).

The frames this client reads are the runtime's: unfragmented text frames of compact JSON
(``comment.created``, ``comments.list``, ``error``, ...). A fragmented message is reassembled
anyway. Pings are answered by picows (``enable_auto_pong``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import picows

CONNECT_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 15.0


def comment_marker(data: str) -> str | None:
    """The ``content`` of a ``comment.created`` frame (compact JSON) without parsing all of it."""
    start = data.find('"content":"')
    if start < 0:
        try:
            return str(json.loads(data)["data"]["comment"]["content"])
        except (ValueError, KeyError, TypeError):
            return None
    start += len('"content":"')
    end = data.find('"', start)
    return data[start:end] if end > start else None


class _Listener(picows.WSListener):  # type: ignore[misc]  # picows ships no stubs for subclassing
    def __init__(self, client: Client):
        self.client = client
        self.fragments: list[bytes] = []

    def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
        kind = frame.msg_type
        if kind == picows.WSMsgType.TEXT or kind == picows.WSMsgType.CONTINUATION:
            if frame.fin and not self.fragments:
                self.client.on_text(frame.get_payload_as_utf8_text())
                return
            self.fragments.append(frame.get_payload_as_bytes())
            if frame.fin:
                data, self.fragments = b"".join(self.fragments), []
                self.client.on_text(data.decode())
        elif kind == picows.WSMsgType.CLOSE:
            # The peer's CLOSE: answer it (unless this side started the handshake) and hang up.
            if not transport.is_close_frame_sent:
                transport.send_close(picows.WSCloseCode.OK)
            transport.disconnect()

    def on_ws_disconnected(self, transport: picows.WSTransport) -> None:
        self.client.closed.set()


class Client:
    """One WebSocket client: ``arrivals`` maps each comment's content (the benchmark's marker) to
    the ``time.perf_counter()`` of its first receipt; repeats count as ``duplicates``."""

    def __init__(self, index: int):
        self.index = index
        self.transport: picows.WSTransport | None = None
        self.arrivals: dict[str, float] = {}
        self.duplicates = 0
        self.listed = asyncio.Event()
        self.errors: list[str] = []
        self.closed = asyncio.Event()

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.closed.is_set()

    def on_text(self, data: str) -> None:
        if '"comment.created"' in data:
            now = time.perf_counter()
            marker = comment_marker(data)
            if marker is None:
                return
            if marker in self.arrivals:
                self.duplicates += 1
            else:
                self.arrivals[marker] = now
        elif '"comments.list"' in data:
            self.listed.set()
        elif '"error"' in data[:40]:
            self.errors.append(data[:200])
            self.listed.set()

    async def connect(self, url: str, attempts: int = 5) -> bool:
        for attempt in range(attempts):
            self.closed.clear()
            try:
                self.transport, _ = await picows.ws_connect(
                    lambda: _Listener(self), url, websocket_handshake_timeout=CONNECT_TIMEOUT_S
                )
                return True
            except (TimeoutError, OSError, picows.WSError) as exc:
                self.errors.append(repr(exc)[:120])
                await asyncio.sleep(0.2 * (attempt + 1))
        return False

    def send_json(self, message: dict[str, object]) -> None:
        if not self.open:
            raise ConnectionError("the WebSocket is closed")
        assert self.transport is not None
        self.transport.send(picows.WSMsgType.TEXT, json.dumps(message).encode())

    async def subscribe(self, post_id: str, timeout: float = 60) -> bool:
        self.listed.clear()
        try:
            self.send_json({"action": "subscribe", "postId": post_id})
            await asyncio.wait_for(self.listed.wait(), timeout=timeout)
        except (TimeoutError, ConnectionError) as exc:
            self.errors.append(repr(exc)[:120])
            return False
        return True

    async def close(self) -> None:
        """The closing handshake, as a browser's ``ws.close()``: CLOSE, the peer's CLOSE, hang up."""
        transport = self.transport
        if transport is None or self.closed.is_set():
            return
        transport.send_close(picows.WSCloseCode.OK)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closed.wait(), timeout=CLOSE_TIMEOUT_S)
        # A peer that never answered: hang up anyway, and return once the socket is closed.
        transport.disconnect()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closed.wait(), timeout=CLOSE_TIMEOUT_S)
