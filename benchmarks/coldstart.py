"""Benchmark 4: cold start of each handler module in a fresh process, against a bare boto3 handler.

Each sample is a new ``python`` process with the function's environment set to dummy local values.
Inside it we measure the CPU time (``time.process_time``; wall time is in the note) of the import
of ``handlers.<module>`` plus the initialization a first invocation does before any network I/O:
the function's settings and the clients of ``realtime_comments.aws_clients`` the function uses
(DynamoDB, SQS, the @connections transport). CPU time, not wall time, because this machine is
shared and wall time swings 2x between runs; a cold start is CPU-bound import work. Interpreter
start-up is the same for every sample and not counted. The bare handler is
``import boto3; boto3.client("dynamodb")``, measured
in the same run, interleaved with the others. Median of ``samples`` per module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from benchmarks.common import HANDLERS, LAMBDAS, ROOT, Row, handler_env, median

# What each function builds for an ordinary first request, as its code does: the @connections
# transport for the senders; a DynamoDB client except where none is used (the fan-out worker
# builds one only at its first 410 Gone); the SQS client only above the inline fan-out limit, so
# never here.
SENDERS = {
    "ws_actions",
    "ws_default",
    "broadcast_endpoint",
    "stream_broadcaster",
    "fanout_worker",
    "notifier",
}
NO_DYNAMODB = {"authorizer", "ws_default", "fanout_worker"}
QUEUE_USERS: set[str] = set()
# What a first request of another kind adds, imported where the code imports it lazily: shown as
# its own row so that the cost moved out of the cold start stays in sight.
FIRST_REQUEST_EXTRAS = {
    "comments_api": (
        " + first POST (Pydantic models)",
        "import realtime_comments.comments.requests",
    ),
}

_BARE = """
import time
t0, c0 = time.perf_counter(), time.process_time()
import boto3
boto3.client("dynamodb")
t1, c1 = time.perf_counter(), time.process_time()
print("RESULT", c1 - c0, c1 - c0, 0.0, t1 - t0)
"""

_HANDLER = """
import importlib, sys, time
sys.path[:0] = [{lambdas!r}]
t0, c0 = time.perf_counter(), time.process_time()
importlib.import_module("handlers.{module}")
c1 = time.process_time()
import os
from realtime_comments import aws_clients
region = os.environ.get("AWS_REGION", "us-east-1")
if {dynamodb}:
    aws_clients.dynamodb(region)
if {queue}:
    aws_clients.sqs(region)
if {sends}:
    aws_clients.connections_transport(os.environ["WEBSOCKET_CALLBACK_URL"], region)
{extra}
t2, c2 = time.perf_counter(), time.process_time()
print("RESULT", c2 - c0, c1 - c0, c2 - c1, t2 - t0)
"""


def _sample(code: str, env: dict[str, str]) -> tuple[float, ...]:
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,  # noqa: S603
        text=True,
        timeout=120,
        check=False,
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return tuple(float(x) for x in line.split()[1:5])
    raise RuntimeError(f"cold start sample failed: {out.stderr.strip()[-800:]}")


def available_handlers(lambdas: str = LAMBDAS) -> list[str]:
    return [m for m in HANDLERS if os.path.exists(os.path.join(lambdas, "handlers", f"{m}.py"))]


def _code(lambdas: str, module: str, extra: str = "") -> str:
    return _HANDLER.format(
        lambdas=lambdas,
        module=module,
        extra=extra,
        queue=module in QUEUE_USERS,
        sends=module in SENDERS,
        dynamodb=module not in NO_DYNAMODB,
    )


def run(
    samples: int = 10,
    log: Callable[[str], None] = print,
    variants: tuple[tuple[str, str], ...] = ((LAMBDAS, ""),),
    tracing: bool = True,
) -> tuple[list[Row], dict]:
    """``variants``: (code asset, label) pairs, measured interleaved in the same loop; a patched copy
    of lambdas/ measures a proposed change against the code as it is."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "PYTHON"))}
    env.update(
        handler_env(
            queue_url="http://127.0.0.1:9/000000000000/bench-fanout",
            dynamodb_endpoint="http://127.0.0.1:9",
            sqs_endpoint="http://127.0.0.1:9",
        )
    )
    # Tracing as deployed (the stacks turn X-Ray on): the handlers build Powertools' Tracer, which
    # imports the X-Ray SDK and patches botocore at import. The bare handler has no tracer.
    # ``tracing=False`` (BENCH_TRACING=0) measures as the first figures did, Tracer off.
    if tracing:
        env.pop("POWERTOOLS_TRACE_DISABLED", None)
        env["LAMBDA_TASK_ROOT"] = LAMBDAS
        env["AWS_XRAY_CONTEXT_MISSING"] = "IGNORE_ERROR"
    cases = [("bare", "", _BARE)]
    for lambdas, label in variants:
        for module in available_handlers(lambdas):
            cases.append((module, label, _code(lambdas, module)))
            if module in FIRST_REQUEST_EXTRAS:
                extra_label, statement = FIRST_REQUEST_EXTRAS[module]
                cases.append((module, extra_label + label, _code(lambdas, module, statement)))
    results: dict[tuple[str, str], list[tuple[float, ...]]] = {(m, lab): [] for m, lab, _ in cases}
    for _, _, code in cases:  # warm the page cache and the bytecode caches first
        _sample(code, env)
    log(f"cold start: {samples} fresh processes x {len(cases)} modules ...")
    for _ in range(samples):  # interleaved: noise on the machine hits every module alike
        for module, label, code in cases:
            results[(module, label)].append(_sample(code, env))
    bare = median([r[0] for r in results[("bare", "")]])
    bare_wall = median([r[3] for r in results[("bare", "")]])
    rows = [
        Row(
            "cold start",
            "bare boto3 handler (import boto3 + client)",
            samples,
            bare,
            x_baseline=1.0,
            check="reference",
            note=f"median CPU s of import + init (wall {bare_wall * 1000:.0f} ms)",
        )
    ]
    raw: dict[str, Any] = {"samples": samples, "bare_cpu_s": bare, "bare_wall_s": bare_wall, "modules": {}}
    for module, label, _ in cases[1:]:
        runs = results[(module, label)]
        total = median([r[0] for r in runs])
        imp = median([r[1] for r in runs])
        init = median([r[2] for r in runs])
        wall = median([r[3] for r in runs])
        ratio = total / bare
        raw["modules"][module + label] = {
            "cpu_s": total,
            "import_cpu_s": imp,
            "init_cpu_s": init,
            "wall_s": wall,
            "ratio": ratio,
            "samples": runs,
        }
        rows.append(
            Row(
                "cold start",
                f"handlers.{module}{label}",
                samples,
                total,
                x_baseline=bare / total,
                check=f"{ratio:.2f}x bare",
                target="<=1.3x bare",
                met="yes" if ratio <= 1.3 else "no",
                note=f"CPU: import {imp * 1000:.0f} ms + init {init * 1000:.0f} ms; "
                f"wall {wall * 1000:.0f} ms",
            )
        )
    present = {module for module, _, _ in cases}
    for module in HANDLERS:
        if module not in present:
            rows.append(Row("cold start", f"handlers.{module}", check="not run: module not present yet"))
    return rows, raw


if __name__ == "__main__":
    from benchmarks.common import render_table

    extra = tuple((path, f" ({os.path.basename(path.rstrip('/'))})") for path in sys.argv[2:])
    r, data = run(
        samples=int(sys.argv[1]) if len(sys.argv) > 1 else 10,
        variants=((LAMBDAS, ""), *extra),
        tracing=os.environ.get("BENCH_TRACING", "1") != "0",
    )
    print(render_table(r))
    print(json.dumps({k: v for k, v in data.items() if k != "modules"}))
