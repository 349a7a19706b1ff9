"""Concurrent delivery of one message to many connections through one shared transport.

Worker threads pull ids from a shared iterator, which is cheaper than one future per recipient at
10,000+ recipients: SEND_CONCURRENCY of them at most, and no more than the transport's sends can
keep busy (`pace.SendPace`). The threads live as long as the
execution environment (one pool per process, grown when a call asks for more): starting 100+
threads per invocation took a third of a 100-recipient broadcast. The transport is thread-safe
and its connection pool grows to the number of threads, so no thread waits for a socket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools import Logger
from realtime_comments.delivery.result import DeliveryResult
from realtime_comments.delivery.retry import Outcome, RetryPolicy, classify
from realtime_comments.delivery.transport import Transport
from realtime_comments.settings import DEFAULT_SEND_CONCURRENCY

logger = Logger(child=True)

GoneHandler = Callable[[str], Any]

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def _send_pool(size: int) -> ThreadPoolExecutor:
    """The process's delivery threads, at least ``size`` of them (created once, reused warm)."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < size:
            old = _pool
            _pool, _pool_size = ThreadPoolExecutor(max_workers=size, thread_name_prefix="deliver"), size
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def _send_with_retries(
    transport: Transport,
    connection_id: str,
    data: bytes,
    policy: RetryPolicy,
    on_gone: GoneHandler | None,
    result: DeliveryResult,
    sleep: Callable[[float], None],
) -> None:
    outcome = Outcome.FAILED
    for attempt in range(1, policy.max_attempts + 1):
        try:
            transport.post(connection_id, data)
            result.sent += 1
            return
        except Exception as error:  # noqa: BLE001 - every error is classified, none may stop the others
            outcome = classify(error)
            if outcome is Outcome.GONE:
                result.gone += 1
                _forget(connection_id, on_gone)
                return
            if outcome is Outcome.FAILED:
                logger.warning("send failed", extra={"connection_id": connection_id, "error": str(error)})
                result.failed += 1
                return
            if attempt < policy.max_attempts:
                result.throttle_retries += outcome is Outcome.THROTTLED
                sleep(policy.delay(attempt))
    logger.warning(
        "send still failing after retries", extra={"connection_id": connection_id, "outcome": outcome.value}
    )
    result.failed += 1
    result.transient_failed_ids.append(connection_id)


def _forget(connection_id: str, on_gone: GoneHandler | None) -> None:
    if on_gone is None:
        return
    try:
        on_gone(connection_id)
    except Exception:  # noqa: BLE001 - the TTL removes it later; delivery to the others goes on
        logger.exception("could not remove gone connection", extra={"connection_id": connection_id})


def deliver(
    message: str | bytes,
    connection_ids: Iterable[str],
    *,
    transport: Transport,
    on_gone: GoneHandler | None = None,
    send_concurrency: int = DEFAULT_SEND_CONCURRENCY,
    concurrency: int | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryResult:
    """Send `message` to every id concurrently through `transport` and return the counts.

    At most `send_concurrency` threads, fewer when the transport's measured pace says more would
    not help; `concurrency` sets the number exactly instead.

    - 410 Gone: `on_gone(connection_id)` (the handler passes the connections repository's
      `delete_connection`); counted in `gone`.
    - 429 / throttling / 5xx / network errors: retried with exponential backoff and jitter up to
      `retry.max_attempts`; those still failing are in `transient_failed_ids` (and `failed`).
    - other errors (403, 413, ...): counted in `failed`, not retried.
    """
    data = message.encode("utf-8") if isinstance(message, str) else message
    ids = list(connection_ids)
    if not ids:
        return DeliveryResult()
    policy = retry or RetryPolicy()
    limit = concurrency or send_concurrency
    pace = getattr(transport, "pace", None)  # SignedHttpTransport measures what its sends cost
    useful = pace.threads(limit) if pace is not None and not concurrency else limit
    workers = max(1, min(useful, len(ids)))

    if workers == 1:
        result = DeliveryResult()
        for connection_id in ids:
            _send_with_retries(transport, connection_id, data, policy, on_gone, result, sleep)
        return result

    shared: Iterator[str] = iter(ids)
    lock = threading.Lock()

    def worker() -> DeliveryResult:
        mine = DeliveryResult()  # per-thread counters: no lock on the hot path
        while True:
            with lock:
                connection_id = next(shared, None)
            if connection_id is None:
                return mine
            _send_with_retries(transport, connection_id, data, policy, on_gone, mine, sleep)

    total = DeliveryResult()
    pool = _send_pool(limit)  # threads start lazily
    for partial in [pool.submit(worker) for _ in range(workers)]:
        total.merge(partial.result())
    return total
