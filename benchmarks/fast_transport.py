"""Prototype: the delivery loop on asyncio streams instead of 128 threads (standard library only).

Proposed for ``lambdas/realtime_comments/delivery`` (see benchmarks/README.md, "Proposed changes").
It keeps the project's request signing (``SignedHttpTransport.signed_headers``: same SigV4
signature, same cached signing key and payload hash), its retry classification
(``retry.classify`` / ``RetryPolicy``) and its result type (``DeliveryResult``), and replaces only
the I/O: ``concurrency`` coroutines, each with one keep-alive HTTP/1.1 connection, pull ids from a
shared iterator. One event loop does in one thread what 128 threads do with the GIL handing off
between them, which is where the threaded sender spends most of its CPU.

Gone connections are collected and cleaned up after the sends (in a small thread pool), so a
DynamoDB call never holds up a socket.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from realtime_comments.delivery.result import DeliveryResult
from realtime_comments.delivery.retry import Outcome, RetryPolicy, classify
from realtime_comments.delivery.transport import SendError, SignedHttpTransport, _error_code


class _Conn:
    def __init__(self, signer: SignedHttpTransport, timeout: float) -> None:
        self.signer = signer
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        signer = self.signer
        port = signer.port or (443 if signer.scheme == "https" else 80)
        ctx = ssl.create_default_context() if signer.scheme == "https" else None
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(signer.host, port, ssl=ctx), self.timeout
        )

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, connection_id: str, data: bytes) -> None:
        path, headers = self.signer.signed_headers(connection_id, data)
        head = [f"POST {path} HTTP/1.1\r\n"]
        head.extend(f"{name}: {value}\r\n" for name, value in headers.items())
        head.append(f"Content-Length: {len(data)}\r\n\r\n")
        request = "".join(head).encode("latin-1") + data
        for attempt in (0, 1):
            reused = self.writer is not None
            if not reused:
                await self._open()
            try:
                status, error_type, body = await asyncio.wait_for(self._round_trip(request), self.timeout)
                break
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if not reused or attempt:
                    raise
            except BaseException:
                self.close()
                raise
        if status >= 300:
            raise SendError(status, _error_code(status, error_type), body[:200].decode("utf-8", "replace"))

    async def _round_trip(self, request: bytes) -> tuple[int, str, bytes]:
        assert self.reader is not None and self.writer is not None
        self.writer.write(request)
        reader = self.reader
        status_line = await reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        error_type = ""
        keep_alive = True
        while True:
            line = await reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            lname = name.strip().lower()
            if lname == b"content-length":
                length = int(value.strip())
            elif lname == b"x-amzn-errortype":
                error_type = value.strip().decode("latin-1")
            elif lname == b"connection" and value.strip().lower() == b"close":
                keep_alive = False
        body = await reader.readexactly(length) if length else b""
        if not keep_alive:
            self.close()
        return status, error_type, body


async def _deliver_async(
    signer: SignedHttpTransport,
    ids: list[str],
    data: bytes,
    concurrency: int,
    policy: RetryPolicy,
    timeout: float,
) -> tuple[DeliveryResult, list[str]]:
    result = DeliveryResult()
    gone: list[str] = []
    shared = iter(ids)

    async def worker() -> None:
        conn = _Conn(signer, timeout)
        try:
            for connection_id in shared:
                outcome = Outcome.FAILED
                for attempt in range(1, policy.max_attempts + 1):
                    try:
                        await conn.post(connection_id, data)
                        result.sent += 1
                        break
                    except Exception as error:  # noqa: BLE001 - classified like the threaded sender
                        outcome = classify(error)
                        if outcome is Outcome.GONE:
                            result.gone += 1
                            gone.append(connection_id)
                            break
                        if outcome is Outcome.FAILED:
                            result.failed += 1
                            break
                        if attempt < policy.max_attempts:
                            result.throttle_retries += outcome is Outcome.THROTTLED
                            await asyncio.sleep(policy.delay(attempt))
                else:
                    result.failed += 1
                    result.transient_failed_ids.append(connection_id)
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result, gone


def deliver_async(
    message: str | bytes,
    connection_ids: Iterable[str],
    *,
    signer: SignedHttpTransport,
    on_gone: Callable[[str], Any] | None = None,
    concurrency: int = 256,
    retry: RetryPolicy | None = None,
    timeout: float = 10.0,
) -> DeliveryResult:
    """Same contract as ``realtime_comments.delivery.deliver`` (counts, 410 cleanup, bounded retries)."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    ids = list(connection_ids)
    if not ids:
        return DeliveryResult()
    workers = max(1, min(concurrency, len(ids)))
    result, gone = asyncio.run(_deliver_async(signer, ids, data, workers, retry or RetryPolicy(), timeout))
    if gone and on_gone is not None:
        with ThreadPoolExecutor(max_workers=min(16, len(gone))) as pool:
            list(pool.map(_safe(on_gone), gone))
    return result


def _safe(fn: Callable[[str], Any]) -> Callable[[str], Any]:
    def call(connection_id: str) -> Any:
        try:
            return fn(connection_id)
        except Exception:  # noqa: BLE001 - the TTL removes it later
            return None

    return call


def monotonic() -> float:
    return time.monotonic()
