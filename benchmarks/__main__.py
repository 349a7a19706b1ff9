"""``python -m benchmarks`` (``make bench``): every benchmark, one table, and benchmarks/results.json.

Options: ``--quick`` (small N, a smoke run: checks deliveries, not speed), ``--only fanout,coldstart``
(``runtime`` is another name for ``e2e``), ``--output PATH`` (default benchmarks/results.json; ``-`` to
skip), ``--latency-ms``, ``--rate``, ``--no-reference`` / ``--reference-commit`` (e2e's reference runtime),
``--e2e-phases disconnect`` (e2e: only the disconnect storm; ``ladder`` = first comment + load ladder).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
import warnings
from typing import Any

from benchmarks.common import ROOT, Row, add_lambdas_to_path, render_table
from benchmarks.servers import set_local_aws_env

ALL = ("fanout", "sqs_fanout", "e2e", "replies", "presence", "coldstart", "warm", "dynamodb_local", "cost")
ALIASES = {"runtime": "e2e"}


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nproc": os.cpu_count(),
    }
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout  # noqa: S607
        info["lscpu"] = [
            line
            for line in lscpu.splitlines()
            if line.split(":")[0].strip()
            in {"Architecture", "CPU(s)", "Model name", "Thread(s) per core", "Hypervisor vendor"}
        ]
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open("/proc/meminfo") as f:
            info["mem_total"] = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N smoke run (deliveries, not speed)")
    parser.add_argument(
        "--only", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)} (runtime = e2e)"
    )
    parser.add_argument("--output", default=os.path.join(ROOT, "benchmarks", "results.json"))
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--workers", type=int, default=0, help="fan-out worker processes (0: auto)")
    parser.add_argument(
        "--no-reference", action="store_true", help="e2e: measure only the current local runtime"
    )
    parser.add_argument(
        "--reference-commit",
        default=None,
        help="e2e: the commit whose local_runtime/ is the reference (default da53cd7)",
    )
    parser.add_argument(
        "--e2e-phases",
        default="ladder,disconnect",
        help="e2e: comma-separated subset of ladder (first comment + load ladder), disconnect (the storm)",
    )
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    set_local_aws_env()
    add_lambdas_to_path()
    selected = [ALIASES.get(name.strip(), name.strip()) for name in args.only.split(",") if name.strip()]
    selected = list(dict.fromkeys(selected))
    unknown = set(selected) - set(ALL)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    rows: list[Row] = []
    raw: dict[str, Any] = {
        "machine": machine(),
        "quick": args.quick,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    started = time.perf_counter()
    failures = 0
    for name in selected:
        try:
            if name == "fanout":
                from benchmarks import fanout

                ns = (200,) if args.quick else (1_000, 10_000)
                r, data = fanout.run(
                    ns=ns,
                    baseline_n=100 if args.quick else 1_000,
                    latency_ms=args.latency_ms,
                    rate=args.rate,
                    repeats=1 if args.quick else 3,
                    log=log,
                )
            elif name == "sqs_fanout":
                from benchmarks import sqs_fanout

                r, data = sqs_fanout.run(
                    n=2_000 if args.quick else 100_000,
                    latency_ms=args.latency_ms,
                    rate=args.rate,
                    workers=args.workers or None,
                    quick=args.quick,
                    log=log,
                )
            elif name == "e2e":
                from benchmarks import e2e

                r, data = e2e.run(
                    quick=args.quick,
                    log=log,
                    reference=not args.no_reference,
                    reference_commit=args.reference_commit,
                    phases=tuple(p.strip() for p in args.e2e_phases.split(",") if p.strip()),
                )
            elif name == "replies":
                from benchmarks import replies

                r, data = replies.run(quick=args.quick, log=log)
            elif name == "presence":
                from benchmarks import presence

                r, data = (
                    presence.run(subscribers=200, rate=20, seconds=2, work_calls=10, log=log)
                    if args.quick
                    else presence.run(log=log)
                )
            elif name == "coldstart":
                from benchmarks import coldstart

                r, data = coldstart.run(samples=2 if args.quick else 10, log=log)
            elif name == "warm":
                from benchmarks import warm

                r, data = warm.run(invocations=3 if args.quick else 30, log=log)
            elif name == "dynamodb_local":
                from benchmarks import dynamodb_local

                r, data = dynamodb_local.run(quick=args.quick, log=log)
            else:
                from benchmarks import cost

                r, data = cost.run(log=log, repeats=1 if args.quick else 5)
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
            failures += 1
            log(f"{name} failed:\n{traceback.format_exc()}")
            r, data = [Row(name, "FAILED", check=f"FAIL: {exc!r}"[:120])], {"error": traceback.format_exc()}
        rows.extend(r)
        raw[name] = data
        if any(row.check.startswith("FAIL") for row in r):
            failures += 1
    if not args.quick:
        from benchmarks.cloud_plots import draw

        draw(raw, log)
    raw["seconds"] = time.perf_counter() - started
    raw["rows"] = [row.as_dict() for row in rows]
    table = render_table(rows)
    print(table)
    print(
        f"\n{len(rows)} rows in {raw['seconds']:.0f} s on {raw['machine']['nproc']} CPUs, "
        f"Python {raw['machine']['python']}; latency {args.latency_ms:g} ms, rate limit {args.rate:,.0f}/s"
        f"{' (quick smoke run: timings are not meaningful)' if args.quick else ''}"
    )
    if args.output != "-":
        with open(args.output, "w") as f:
            json.dump(raw, f, indent=1, default=str)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
