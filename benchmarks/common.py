"""Shared helpers: import paths, environment for the handler code, result rows and the table."""

from __future__ import annotations

import importlib
import os
import statistics
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# BENCH_LAMBDAS: benchmark a patched copy of the code asset instead (to measure a proposed change).
LAMBDAS = os.environ.get("BENCH_LAMBDAS") or os.path.join(ROOT, "lambdas")

# The handler modules of lambdas/handlers that the cold-start and warm-cost benchmarks measure.
HANDLERS = [
    "authorizer",
    "ws_connect",
    "ws_disconnect",
    "ws_actions",
    "ws_default",
    "comments_api",
    "broadcast_endpoint",
    "stream_broadcaster",
    "fanout_worker",
    "notifier",
    "notifications_api",
]


def add_lambdas_to_path() -> None:
    for path in (ROOT, LAMBDAS):
        if path not in sys.path:
            sys.path.insert(0, path)


def handler_env(
    *,
    connections_table: str = "bench-connections",
    comments_table: str = "bench-comments",
    idempotency_table: str = "bench-idempotency",
    callback_url: str = "http://127.0.0.1:9/local",
    dynamodb_endpoint: str | None = None,
    sqs_endpoint: str | None = None,
    queue_url: str = "",
    send_concurrency: int | None = None,
) -> dict[str, str]:
    """The design.md environment of a function, pointed at local servers."""
    env = {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "CONNECTIONS_TABLE_NAME": connections_table,
        "COMMENTS_TABLE_NAME": comments_table,
        "IDEMPOTENCY_TABLE_NAME": idempotency_table,
        "WEBSOCKET_CALLBACK_URL": callback_url,
        "CONNECTION_TTL_SECONDS": "86400",
        "COMMENTS_PAGE_SIZE": "50",
        "JWT_ISSUER": "http://127.0.0.1:9/issuer",
        "JWT_AUDIENCE": "bench-client",
        "JWKS_URL": "http://127.0.0.1:9/issuer/.well-known/jwks.json",
        "ALLOWED_ORIGINS": "*",
        "FANOUT_QUEUE_URL": queue_url,
        "FANOUT_INLINE_LIMIT": "2000",
        "FANOUT_BATCH_SIZE": "1000",
        "POWERTOOLS_SERVICE_NAME": "realtime-comments",
        "POWERTOOLS_METRICS_NAMESPACE": "RealtimeComments",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_DISABLED": "1",
    }
    if send_concurrency is not None:
        env["SEND_CONCURRENCY"] = str(send_concurrency)
    if dynamodb_endpoint:
        env["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb_endpoint
    if sqs_endpoint:
        env["AWS_ENDPOINT_URL_SQS"] = sqs_endpoint
    return env


def apply_env(env: dict[str, str]) -> None:
    """Set the environment and drop the project's per-container caches."""
    os.environ.update(env)
    add_lambdas_to_path()
    try:
        dependencies = importlib.import_module("realtime_comments.dependencies")
    except ImportError:
        return
    dependencies.reset()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Row:
    bench: str
    variant: str
    n: int | None = None
    seconds: float | None = None
    msgs_per_s: float | None = None
    x_baseline: float | None = None  # speedup: baseline time / our time (> 1 is faster)
    x_floor: float | None = None
    check: str = ""
    target: str = ""
    met: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.{digits}g}" if abs(value) < 0.01 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


COLUMNS = [
    ("bench", "benchmark"),
    ("variant", "variant"),
    ("n", "N"),
    ("seconds", "seconds"),
    ("msgs_per_s", "msg/s"),
    ("x_baseline", "speedup vs baseline"),
    ("x_floor", "x floor"),
    ("check", "check"),
    ("target", "target"),
    ("met", "met"),
    ("note", "note"),
]


def render_table(rows: list[Row]) -> str:
    cells = [[label for _, label in COLUMNS]]
    for row in rows:
        data = row.as_dict()
        cells.append([_fmt(data[key]) for key, _ in COLUMNS])
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    right = {"n", "seconds", "msgs_per_s", "x_baseline", "x_floor"}
    lines = []
    for index, r in enumerate(cells):
        parts = []
        for i, (key, _) in enumerate(COLUMNS):
            text = r[i]
            last = i == len(COLUMNS) - 1
            parts.append(text if last else (text.rjust(widths[i]) if key in right else text.ljust(widths[i])))
        lines.append("  ".join(parts).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths).rstrip())
    return "\n".join(lines)
