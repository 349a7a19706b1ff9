"""The end-to-end benchmark's WebSocket client (benchmarks/ws_client.py): what the benchmark counts is
what happened. Every comment the runtime sent is recorded once under its content, a repeat counts
as a duplicate, a fragmented message is reassembled, and ``close()`` is a closing handshake the
runtime sees as a ``$disconnect``."""

from __future__ import annotations

import asyncio

import aiohttp
import picows

from benchmarks.ws_client import Client, comment_marker
from tests.e2e.client import WAIT_S, connection_ids_of, eventually, post_comment, token, unique


def test_each_comment_is_recorded_once_and_close_reaches_disconnect(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        post_id, user = unique(), unique("bench")
        async with aiohttp.ClientSession() as session:
            tok = await token(session, urls, user)
            client = Client(0)
            assert await client.connect(f"{urls['websocketUrl']}?token={tok}"), client.errors
            assert len(await connection_ids_of(session, urls, user)) == 1

            assert await client.subscribe(post_id, timeout=WAIT_S), client.errors
            markers = [f"BMK-test-{i}" for i in range(3)]
            for marker in markers:
                assert (await post_comment(session, urls, tok, post_id, marker))[0] == 201

            async def all_arrived() -> bool:
                return len(client.arrivals) == len(markers)

            await eventually(all_arrived, WAIT_S)
            assert sorted(client.arrivals) == markers
            assert client.duplicates == 0 and client.errors == []

            # An error frame (a subscribe without a postId) is kept and ends the wait for a list.
            client.send_json({"action": "subscribe"})

            async def error_seen() -> bool:
                return bool(client.errors)

            await eventually(error_seen, WAIT_S)
            assert '"error"' in client.errors[0]

            await client.close()
            assert client.closed.is_set() and not client.open
            assert client.transport is not None and client.transport.close_handshake.recv is not None

            async def disconnected() -> bool:
                return not await connection_ids_of(session, urls, user)

            await eventually(disconnected, WAIT_S)

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_a_repeat_counts_as_a_duplicate_and_markers_parse_either_way() -> None:
    async def scenario() -> None:
        client = Client(0)
        frame = '{"type":"comment.created","data":{"comment":{"content":"m1","seq":1}}}'
        client.on_text(frame)
        client.on_text(frame)
        assert list(client.arrivals) == ["m1"] and client.duplicates == 1
        client.on_text('{"type": "comments.list", "data": {"comments": []}}')
        assert client.listed.is_set()

    asyncio.run(scenario())
    spaced = '{"type": "comment.created", "data": {"comment": {"content": "m2"}}}'
    assert comment_marker(spaced) == "m2"
    assert comment_marker('{"type":"comment.created"}') is None


def test_a_fragmented_message_is_reassembled() -> None:
    message = b'{"type":"comment.created","data":{"comment":{"content":"split-marker"}}}'
    parts = [message[:10], message[10:30], message[30:]]

    class Server(picows.WSListener):  # type: ignore[misc]
        def on_ws_connected(self, transport: picows.WSTransport) -> None:
            transport.send(picows.WSMsgType.TEXT, parts[0], fin=False)
            transport.send(picows.WSMsgType.CONTINUATION, parts[1], fin=False)
            transport.send(picows.WSMsgType.CONTINUATION, parts[2], fin=True)

        def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
            if frame.msg_type == picows.WSMsgType.CLOSE:
                transport.send_close(picows.WSCloseCode.OK)
                transport.disconnect()

    async def scenario() -> None:
        server = await picows.ws_create_server(lambda _request: Server(), "127.0.0.1", 0)
        try:
            port = server.sockets[0].getsockname()[1]
            client = Client(0)
            assert await client.connect(f"ws://127.0.0.1:{port}/"), client.errors

            async def arrived() -> bool:
                return "split-marker" in client.arrivals

            await eventually(arrived, 5)
            assert client.duplicates == 0
            await client.close()
            assert client.closed.is_set()
        finally:
            server.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
