"""Command line of the local runtime (see docs/design.md, "Local runtime command line")."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from pathlib import Path

from . import event_loop
from .heap import freeze_startup_objects
from .runtime import Options, Runtime, StartupError

_LAUNCHED = time.perf_counter()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m local_runtime", description="Run the synthesized Realtime Comments stack locally."
    )
    p.add_argument("--stage", default="dev")
    p.add_argument(
        "--stack",
        help="the stack to run (default: the one template in --cdk-out whose name ends in -<stage>)",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address; beyond loopback needs --allow-remote")
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow --host beyond loopback (exposes /dev/token, /__local/*, @connections; prints a warning)",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="with --allow-remote: a Host name clients use besides localhost (repeatable)",
    )
    p.add_argument("--frontend-port", type=int, default=3000, help="0 = pick a free port")
    p.add_argument("--ws-port", type=int, default=3001, help="WebSocket + @connections; 0 = free port")
    p.add_argument("--api-port", type=int, default=3002, help="HTTP API + /dev/token; 0 = free port")
    p.add_argument("--state-dir", default=".local", help="snapshot, signing key, endpoints.json")
    p.add_argument("--fresh", action="store_true", help="start with empty tables (drop the snapshot)")
    p.add_argument("--no-synth", action="store_true", help="use the existing cdk.out template")
    p.add_argument("--cdk-out", default="cdk.out")
    p.add_argument("--frontend-dir", default="frontend/out")
    p.add_argument("--no-frontend", action="store_true")
    p.add_argument("--idle-timeout", type=float, default=600, help="seconds (API Gateway: 600)")
    p.add_argument("--max-connection-duration", type=float, default=7200, help="seconds (API Gateway: 7200)")
    p.add_argument("--workers-per-function", type=int, default=4, help="warm worker processes per function")
    p.add_argument(
        "--warm-workers",
        type=int,
        default=1,
        help="workers per function started ahead of the first call (like provisioned concurrency)",
    )
    p.add_argument(
        "--event-loop",
        choices=event_loop.CHOICES,
        default="auto",
        help="the runtime process's asyncio loop (auto: uvloop when installed, else asyncio)",
    )
    p.add_argument("--snapshot-interval", type=float, default=10.0, help="seconds between snapshots")
    p.add_argument("--ttl-sweep-interval", type=float, default=5.0, help="seconds between TTL sweeps")
    p.add_argument(
        "--wait-warm",
        action="store_true",
        help="print READY only once every function has a warm worker (default: warm in background)",
    )
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="local override of a template environment variable, in every function that has it "
        "(e.g. FANOUT_INLINE_LIMIT=1); repeatable",
    )
    p.add_argument(
        "--origins-variable",
        action="append",
        metavar="NAME",
        help="a function variable listing allowed origins, to which the local frontend's origins are "
        "appended (default: ALLOWED_ORIGINS); repeatable",
    )
    p.add_argument("--log-level", default="INFO")
    p.add_argument(
        "--quiet-functions", action="store_true", help="hide function log output (errors still shown)"
    )
    return p.parse_args(argv)


def setup_logging(level: str, quiet_functions: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    fn_fmt = logging.Formatter("%(asctime)s.%(msecs)03d   %(name)s | %(message)s", "%H:%M:%S")
    fn_handler = logging.StreamHandler(sys.stderr)
    fn_handler.setFormatter(fn_fmt)
    fn_log = logging.getLogger("fn")
    fn_log.handlers[:] = [fn_handler]
    fn_log.propagate = False
    fn_log.setLevel(logging.ERROR if quiet_functions else logging.INFO)
    for name in ("aiohttp.access", "botocore", "boto3", "urllib3", "werkzeug", "moto"):
        logging.getLogger(name).setLevel(logging.WARNING)


async def run(args: argparse.Namespace) -> int:
    opts = Options(
        stage=args.stage,
        stack=args.stack,
        host=args.host,
        frontend_port=args.frontend_port,
        ws_port=args.ws_port,
        api_port=args.api_port,
        state_dir=Path(args.state_dir),
        fresh=args.fresh,
        synth=not args.no_synth,
        cdk_out=Path(args.cdk_out),
        frontend_dir=Path(args.frontend_dir),
        frontend=not args.no_frontend,
        idle_timeout=args.idle_timeout,
        max_connection_duration=args.max_connection_duration,
        workers_per_function=args.workers_per_function,
        warm_workers=args.warm_workers,
        snapshot_interval=args.snapshot_interval,
        ttl_sweep_interval=args.ttl_sweep_interval,
        wait_warm=args.wait_warm,
        env_overrides=dict(kv.split("=", 1) for kv in args.env),
        origin_variables=tuple(args.origins_variable or ("ALLOWED_ORIGINS",)),
        allow_remote=args.allow_remote,
        allowed_hosts=tuple(args.allowed_host),
    )
    rt = Runtime(opts)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    start_task = asyncio.create_task(rt.start())
    stop_task = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({start_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    if start_task in done:
        try:
            urls = start_task.result()
        except StartupError as exc:
            logging.getLogger("local_runtime").error("start-up failed: %s", exc)
            await rt.stop()
            return 1
        except Exception:
            logging.getLogger("local_runtime").exception("start-up failed")
            await rt.stop()
            return 1
        frozen = freeze_startup_objects()
        logging.getLogger("local_runtime").info(
            "time from launch to READY: %.2f s (%d start-up objects left out of garbage collection)",
            time.perf_counter() - _LAUNCHED,
            frozen,
        )
        sys.stdout.write("READY " + json.dumps(urls) + "\n")
        sys.stdout.flush()
        rt.start_warm()
        await stop_task
    else:
        start_task.cancel()
    await rt.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level, args.quiet_functions)
    try:
        loop = event_loop.resolve(args.event_loop)
    except ValueError as exc:
        raise SystemExit(f"python -m local_runtime: {exc}") from exc
    logging.getLogger("local_runtime").info("event loop: %s", loop)
    return event_loop.run(run(args), loop)
