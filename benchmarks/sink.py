"""A local API Gateway ``@connections`` sink for the fan-out benchmarks and the fault tests.

It is a real HTTP server on loopback (aiohttp), meant to run in its own process so that it never
competes with the sender for the GIL. Each ``POST .../@connections/{id}`` call:

* waits a fixed latency (``--latency-ms``, default 10 ms, like a real API call),
* passes a token-bucket rate limit (``--rate`` requests per second, default 10,000, API Gateway's
  account default; ``--burst`` tokens): over the limit it answers 429 ``TooManyRequestsException``,
* answers 410 ``GoneException`` for ids marked gone, or for injected faults,
* otherwise counts the delivery per connection id and answers 200.

Control endpoints (JSON): ``POST /__control`` (``reset``, ``gone``, ``fail_429_first``,
``error_ids`` {id: status}, ``latency_ms``, ``rate``, ``burst``), ``GET /__stats`` (totals),
``GET /__counts`` (per id).

Run: ``python -m benchmarks.sink --port 0`` prints ``READY <port>`` once it listens. It exits by
itself after ``--max-seconds`` or when its parent process goes away.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import json
import os
import sys
import time

from aiohttp import web

GONE_BODY = json.dumps({"message": "Gone"}).encode()
THROTTLED_BODY = json.dumps({"message": "Too Many Requests"}).encode()


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = float(rate)
        self.capacity = max(1.0, float(burst))
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Sink:
    def __init__(self, latency_ms: float, rate: float, burst: float | None) -> None:
        self.latency = latency_ms / 1000.0
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 100.0)
        self.reset()

    def reset(self) -> None:
        self.bucket = TokenBucket(self.rate, self.burst)
        self.counts: collections.Counter[str] = collections.Counter()
        self.bodies: collections.Counter[str] = collections.Counter()
        self.gone: set[str] = set()
        self.fail_429_first: int = 0  # per connection id: the first k calls get a 429
        self.fail_seen: collections.Counter[str] = collections.Counter()
        self.error_ids: dict[str, int] = {}  # connection id -> HTTP status to answer (e.g. 500)
        self.calls = 0
        self.throttled = 0
        self.injected_429 = 0
        self.gone_answers = 0
        self.errors = 0
        self.first_call: float | None = None
        self.last_ok: float | None = None

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        marker = path.rfind("/@connections/")
        if marker < 0:
            return web.json_response({"message": "Not Found"}, status=404)
        conn_id = path[marker + len("/@connections/") :]
        if request.method != "POST":
            if conn_id in self.gone:
                return web.Response(
                    status=410,
                    body=GONE_BODY,
                    content_type="application/json",
                    headers={"x-amzn-ErrorType": "GoneException"},
                )
            if request.method == "DELETE":
                self.gone.add(conn_id)
                return web.Response(status=204)
            return web.json_response({"connectedAt": "2026-01-01T00:00:00Z", "identity": {}})
        body = await request.read()
        now = time.monotonic()
        self.calls += 1
        if self.first_call is None:
            self.first_call = now
        allowed = self.bucket.take()
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if not allowed:
            self.throttled += 1
            return web.Response(
                status=429,
                body=THROTTLED_BODY,
                content_type="application/json",
                headers={"x-amzn-ErrorType": "TooManyRequestsException"},
            )
        if conn_id in self.gone:
            self.gone_answers += 1
            return web.Response(
                status=410,
                body=GONE_BODY,
                content_type="application/json",
                headers={"x-amzn-ErrorType": "GoneException"},
            )
        if conn_id in self.error_ids:
            self.errors += 1
            return web.json_response(
                {"message": "Internal server error"},
                status=self.error_ids[conn_id],
                headers={"x-amzn-ErrorType": "InternalServerErrorException"},
            )
        if self.fail_429_first and self.fail_seen[conn_id] < self.fail_429_first:
            self.fail_seen[conn_id] += 1
            self.injected_429 += 1
            return web.Response(
                status=429,
                body=THROTTLED_BODY,
                content_type="application/json",
                headers={"x-amzn-ErrorType": "TooManyRequestsException"},
            )
        self.counts[conn_id] += 1
        self.bodies[hashlib.sha1(body).hexdigest()] += 1  # noqa: S324 - a fingerprint, not security
        self.last_ok = time.monotonic()
        return web.Response(status=200)

    async def control(self, request: web.Request) -> web.Response:
        spec = await request.json() if request.can_read_body else {}
        if "latency_ms" in spec:
            self.latency = float(spec["latency_ms"]) / 1000.0
        if "rate" in spec:
            self.rate = float(spec["rate"])
            self.burst = float(spec.get("burst") or max(1.0, self.rate / 100.0))
        elif "burst" in spec:
            self.burst = float(spec["burst"])
        if spec.get("reset", True):
            self.reset()
        self.gone.update(spec.get("gone", []))
        self.error_ids.update({str(k): int(v) for k, v in spec.get("error_ids", {}).items()})
        self.fail_429_first = int(spec.get("fail_429_first", self.fail_429_first))
        return web.json_response({"ok": True})

    def stats(self) -> dict:
        span = None
        if self.first_call is not None and self.last_ok is not None:
            span = self.last_ok - self.first_call
        return {
            "calls": self.calls,
            "delivered": sum(self.counts.values()),
            "recipients": len(self.counts),
            "duplicates": sum(c - 1 for c in self.counts.values() if c > 1),
            "throttled": self.throttled,
            "injected_429": self.injected_429,
            "gone_answers": self.gone_answers,
            "errors": self.errors,
            "distinct_bodies": len(self.bodies),
            "span_seconds": span,
        }

    async def stats_handler(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def counts_handler(self, request: web.Request) -> web.Response:
        return web.json_response({"counts": dict(self.counts), "stats": self.stats()})


def make_app(sink: Sink) -> web.Application:
    app = web.Application(client_max_size=256 * 1024)
    app.router.add_post("/__control", sink.control)
    app.router.add_get("/__stats", sink.stats_handler)
    app.router.add_get("/__counts", sink.counts_handler)
    app.router.add_route("*", "/{tail:.*}", sink.handle)
    return app


async def _serve(args: argparse.Namespace) -> None:
    sink = Sink(args.latency_ms, args.rate, args.burst)
    runner = web.AppRunner(make_app(sink), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, backlog=4096, reuse_address=True)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"READY {port}", flush=True)
    parent = os.getppid()
    deadline = time.monotonic() + args.max_seconds
    try:
        while time.monotonic() < deadline and os.getppid() == parent:
            await asyncio.sleep(0.5)
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--burst", type=float, default=None, help="bucket size (default rate/100)")
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    sys.exit(0)


if __name__ == "__main__":
    main()
