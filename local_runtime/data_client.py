"""The runtime's own hot-path calls to the data process: JSON-protocol requests on the event loop.

A stream poller reads its stream (GetRecords) after every stream write. Through boto3 each call
cost the gateway's process about a millisecond of CPU under its GIL (building, signing and
parsing the request and answer) plus a hand-off to a thread and back. This client writes the
request itself on a kept-alive connection and reads the JSON answer as the data process wrote
it (the wire shape: base64 binaries, epoch-second timestamps). The data process checks no
signature; it reads the region from the credential scope, as from boto3's requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

CALL_TIMEOUT = 30.0
MAX_HEAD = 64 * 1024


class DataApiError(Exception):
    """An error answer: its HTTP status, the AWS error type (``__type``) and message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message} (HTTP {status})")
        self.status = status
        self.error_type = error_type


class DataApiClient:
    """JSON-protocol calls (``X-Amz-Target``) to the data process at ``url``; connections reused."""

    def __init__(self, url: str, signing_service: str = "dynamodb", region: str = "us-east-1") -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._head = (
            f"POST / HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: application/x-amz-json-1.0\r\n"
            f"Authorization: AWS4-HMAC-SHA256 Credential=local/20000101/{region}/{signing_service}"
            "/aws4_request, SignedHeaders=host, Signature=0\r\n"
        )
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def call(self, target: str, body: dict[str, Any]) -> dict[str, Any]:
        """``target`` (e.g. ``DynamoDBStreams_20120810.GetRecords``) with ``body``; the answer's JSON.
        A kept connection the data process closed meanwhile is replaced once."""
        payload = json.dumps(body).encode()
        request = (
            f"{self._head}X-Amz-Target: {target}\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload
        )
        for attempt in range(2):
            reused = bool(self._idle)
            reader, writer = self._idle.pop() if reused else await self._connect()
            try:
                status, data = await asyncio.wait_for(self._exchange(reader, writer, request), CALL_TIMEOUT)
            except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                writer.close()
                if reused and attempt == 0:
                    continue
                raise
            except BaseException:
                writer.close()
                raise
            self._idle.append((reader, writer))
            answer = json.loads(data) if data else {}
            if status != 200:
                error_type = str(answer.get("__type", "")).rpartition("#")[2] or "Error"
                raise DataApiError(status, error_type, str(answer.get("message", answer.get("Message", ""))))
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(asyncio.open_connection(self.host, self.port), CALL_TIMEOUT)

    @staticmethod
    async def _exchange(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> tuple[int, bytes]:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEAD:
            raise ConnectionError("answer head too long")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await reader.readexactly(length)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
