"""Connection lifecycle: missed-message recovery, $disconnect cleanup, 410 cleanup, @connections API."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import boto3

from tests.e2e.client import (
    check_comment,
    connect,
    connection_ids_of,
    connections_table,
    data_client,
    eventually,
    local_info,
    post_comment,
    token,
    unique,
)


def _items_of(info: dict[str, Any], connection_id: str) -> list[dict[str, Any]]:
    ddb = data_client(info, "dynamodb")
    table = connections_table(info)
    return ddb.query(
        TableName=table,
        KeyConditionExpression="connectionId = :c",
        ExpressionAttributeValues={":c": {"S": connection_id}},
        ConsistentRead=True,
    )["Items"]


def test_subscribe_since_returns_exactly_the_missed_comments(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        post_id = unique()
        async with aiohttp.ClientSession() as s:
            tok = await token(s, urls, "gina")
            c = await connect(s, urls, tok)
            await c.subscribe(post_id)
            for i in range(2):
                assert (await post_comment(s, urls, tok, post_id, f"before {i}"))[0] == 201
            await c.wait_for(lambda m: m["type"] == "comment.created" and m["data"]["comment"]["seq"] == 2)
            last_seen = 2
            await c.close()
            missed = [(await post_comment(s, urls, tok, post_id, f"missed {i}"))[1] for i in range(3)]
            c2 = await connect(s, urls, tok)
            lst = await c2.subscribe(post_id, since=last_seen)
            assert lst["data"]["comments"] == missed
            assert lst["data"]["count"] == 3 and lst["data"]["hasMore"] is False
            assert [x["seq"] for x in lst["data"]["comments"]] == [3, 4, 5]
            for x in lst["data"]["comments"]:
                check_comment(x)
            full = await c2.subscribe(post_id)
            assert [x["seq"] for x in full["data"]["comments"]] == [1, 2, 3, 4, 5]
            await c2.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_disconnect_removes_connection_and_subscriptions(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        user = unique("u")
        async with aiohttp.ClientSession() as s:
            tok = await token(s, urls, user)
            c = await connect(s, urls, tok)
            await c.subscribe(unique())
            await c.subscribe(unique())
            (cid,) = await connection_ids_of(s, urls, user)
            info = await local_info(s, urls)
            items = _items_of(info, cid)
            assert sorted(i["sk"]["S"].split("#")[0] for i in items) == ["connection", "sub", "sub"]
            await c.close()

            async def gone() -> bool:
                return not _items_of(info, cid)

            await eventually(gone)

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_vanished_client_is_removed_on_next_broadcast(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        user, post_id = unique("u"), unique()
        async with aiohttp.ClientSession() as s:
            tok = await token(s, urls, user)
            vanishing = await connect(s, urls, tok)
            (vid,) = await connection_ids_of(s, urls, user)
            await vanishing.subscribe(post_id)
            # Its own subscribe's presence (coalesced, so up to a second late) must arrive before
            # the drop: sent after it, it would meet the vanished client and clean it up before
            # the comment's broadcast does. The watcher is the same user, so it sends no presence.
            await vanishing.wait_type("presence", postId=post_id, viewers=1)
            watcher = await connect(s, urls, tok)
            await watcher.subscribe(post_id)
            # Abort the transport: no close frame, and (test control) no $disconnect either, so the
            # connection item stays behind the way it does when API Gateway loses the client.
            async with s.post(f"{urls['apiUrl']}/__local/websocket/drop", json={"connectionIds": [vid]}) as r:
                assert (await r.json())["dropped"] == 1
            info = await local_info(s, urls)
            assert _items_of(info, vid), "the item must still be there before the broadcast"
            assert (await post_comment(s, urls, tok, post_id, "anyone there?"))[0] == 201
            await watcher.wait_type("comment.created", postId=post_id)

            async def cleaned() -> bool:
                return not _items_of(info, vid)

            await eventually(cleaned)
            await watcher.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def _management_api(urls: dict[str, str], stage_path: str = "") -> Any:
    """An unmodified boto3 `apigatewaymanagementapi` client for the runtime's @connections."""
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=urls["callbackUrl"].rsplit("/@", 1)[0] + stage_path,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
    )


def test_connections_api_with_unmodified_boto3(urls: dict[str, str]) -> None:
    async def scenario() -> None:
        user = unique("u")
        async with aiohttp.ClientSession() as s:
            tok = await token(s, urls, user)
            c = await connect(s, urls, tok)
            (cid,) = await connection_ids_of(s, urls, user)
            api = _management_api(urls, "/dev")
            await asyncio.to_thread(api.post_to_connection, ConnectionId=cid, Data=b'{"hello":"boto3"}')
            await c.wait_for(lambda m: m.get("hello") == "boto3")
            st = await asyncio.to_thread(api.get_connection, ConnectionId=cid)
            assert st["Identity"]["SourceIp"] == "127.0.0.1" and "ConnectedAt" in st and "LastActiveAt" in st
            await asyncio.to_thread(api.delete_connection, ConnectionId=cid)
            await c.wait_closed(5)
            for call in (
                lambda: api.post_to_connection(ConnectionId=cid, Data=b"x"),
                lambda: api.get_connection(ConnectionId="Nope0000000000="),
            ):
                try:
                    await asyncio.to_thread(call)
                except api.exceptions.GoneException:
                    pass
                else:
                    raise AssertionError("expected GoneException")
            # also without the stage prefix
            api2 = _management_api(urls)
            try:
                await asyncio.to_thread(api2.get_connection, ConnectionId=cid)
            except api2.exceptions.GoneException:
                pass
            else:
                raise AssertionError("expected GoneException")

    asyncio.run(asyncio.wait_for(scenario(), 30))


KILLED_CLIENT = """
import asyncio, json, sys, aiohttp
async def main():
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(sys.argv[1])
        await ws.send_str(json.dumps({"action": "subscribe", "postId": sys.argv[2]}))
        while json.loads((await ws.receive()).data)["type"] != "comments.list":
            pass
        print("subscribed", flush=True)
        await asyncio.sleep(60)
asyncio.run(main())
"""


def test_killed_client_is_removed(urls: dict[str, str]) -> None:
    """A client process killed with SIGKILL sends no close frame; its connection still goes away."""
    import subprocess
    import sys

    async def scenario() -> None:
        user, post_id = unique("u"), unique()
        async with aiohttp.ClientSession() as s:
            tok = await token(s, urls, user)
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                KILLED_CLIENT,
                f"{urls['websocketUrl']}?token={tok}",
                post_id,
                stdout=subprocess.PIPE,
            )
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), 20)  # type: ignore[union-attr]
                assert line.strip() == b"subscribed"
                (cid,) = await connection_ids_of(s, urls, user)
                info = await local_info(s, urls)
                assert _items_of(info, cid)
            finally:
                proc.kill()
                await proc.wait()

            async def cleaned() -> bool:
                return not _items_of(info, cid) and not await connection_ids_of(s, urls, user)

            await eventually(cleaned, 10)

    asyncio.run(asyncio.wait_for(scenario(), 40))


def _recv(sock: socket.socket, most: int) -> bytes:
    """Up to ``most`` bytes; the runtime closing the connection instead is a failure."""
    data = sock.recv(most)
    assert data, "the runtime closed the connection"
    return data


def _raw_websocket(urls: dict[str, str], tok: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then reads only when told to."""
    parts = urlsplit(urls["websocketUrl"])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.settimeout(10)
    sock.connect((parts.hostname, parts.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /?token={tok} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += _recv(sock, 1)  # one byte at a time: nothing past the handshake is consumed
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def test_connections_api_answers_429_for_a_client_that_does_not_read(urls: dict[str, str]) -> None:
    """Frames for a client that stops reading queue up to the runtime's bound; beyond it
    @connections answers 429 LimitExceededException, as API Gateway does, and nothing is dropped
    silently: once the client reads again, sends succeed again."""
    user = unique("u")
    api = _management_api(urls, "/dev")

    async def connect_raw() -> tuple[socket.socket, str]:
        async with aiohttp.ClientSession() as s:
            tok = await token(s, urls, user)
            sock = await asyncio.to_thread(_raw_websocket, urls, tok)
            (cid,) = await connection_ids_of(s, urls, user)
            return sock, cid

    sock, cid = asyncio.run(asyncio.wait_for(connect_raw(), 30))
    try:
        chunk = b"x" * (64 * 1024)
        accepted = 0
        for _ in range(400):  # 25 MB at most: far beyond the kernel's buffers and the 1 MiB bound
            try:
                api.post_to_connection(ConnectionId=cid, Data=chunk)
            except api.exceptions.LimitExceededException:
                break
            accepted += 1
        else:
            raise AssertionError("400 sends to a client that does not read were all accepted")
        assert accepted >= 4, accepted  # the bound is well above a few frames

        # The client reads everything it was sent (each frame: 2 + 8 header bytes + 64 KiB) ...
        expected = accepted * (10 + len(chunk))
        received = 0
        sock.settimeout(10)
        while received < expected:
            received += len(_recv(sock, 1 << 20))
        assert received == expected
        # ... and the next send is accepted and arrives.
        api.post_to_connection(ConnectionId=cid, Data=b'{"after":"drain"}')
        frame = b""
        while len(frame) < 2 + len(b'{"after":"drain"}'):
            frame += _recv(sock, 4096)
        assert frame.endswith(b'{"after":"drain"}')
    finally:
        sock.close()
