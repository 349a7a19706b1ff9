"""The local runtime: wires storage, functions, gateways and pollers from the template."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from .functions import FunctionPool, Functions, build_env
from .http_api import HttpGateway
from .identity import Identity
from .model import AppModel, Endpoints
from .storage import (
    MotoServer,
    create_queue,
    create_table,
    install_stream_hook,
    restore_snapshot,
    sweep_expired,
    write_snapshot,
)
from .streams import SqsPoller, StreamPoller
from .template import classify, load_template, short_counts
from .websocket import WebSocketGateway

log = logging.getLogger("local_runtime")
REPO_ROOT = Path(__file__).resolve().parent.parent


class StartupError(Exception):
    """The runtime cannot start (reported in one line, without a traceback)."""


@dataclass
class Options:
    stage: str = "dev"
    host: str = "127.0.0.1"
    frontend_port: int = 3000
    ws_port: int = 3001
    api_port: int = 3002
    state_dir: Path = Path(".local")
    fresh: bool = False
    synth: bool = True
    cdk_out: Path = Path("cdk.out")
    frontend_dir: Path = Path("frontend/out")
    frontend: bool = True
    idle_timeout: float = 600
    max_connection_duration: float = 7200
    workers_per_function: int = 4
    snapshot_interval: float = 10.0
    ttl_sweep_interval: float = 5.0
    stream_poll_interval: float = 0.05
    wait_warm: bool = False
    env_overrides: dict[str, str] = field(default_factory=dict)


def synthesize(cdk_out: Path) -> float:
    started = time.perf_counter()
    # app.py silences jsii's Node end-of-life banner itself.
    env = dict(os.environ, CDK_OUTDIR=str(cdk_out))
    proc = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,  # noqa: S603
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise StartupError(f"synth failed (exit {proc.returncode})")
    return time.perf_counter() - started


def _reserve(host: str, port: int) -> socket.socket:
    """Bind a listening socket now (port 0 -> a free port); the app is attached later."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another port (0 = any free one)"
        ) from None
    sock.listen(256)
    sock.setblocking(False)
    return sock


async def _serve(app: web.Application, sock: socket.socket) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner


class Runtime:
    def __init__(self, opts: Options):
        self.o = opts
        self.ready = asyncio.Event()
        self.runners: list[web.AppRunner] = []
        self.functions = Functions()
        self.pollers: list[Any] = []
        self.moto: MotoServer | None = None
        self._bg: list[asyncio.Task[Any]] = []
        self.ws: WebSocketGateway | None = None
        self.timings: dict[str, float] = {}
        self.warm_task: asyncio.Task[None] | None = None

    async def start(self) -> dict[str, str]:
        t0 = time.perf_counter()
        o = self.o
        stack = f"RealtimeComments-{o.stage}"
        cdk_out = o.cdk_out if o.cdk_out.is_absolute() else (Path.cwd() / o.cdk_out)
        if o.synth and (REPO_ROOT / "app.py").exists():
            log.info("synthesizing %s ...", stack)
            secs = await asyncio.to_thread(synthesize, cdk_out)
            self.timings["synth"] = secs
            log.info("synth took %.1f s", secs)
        try:
            template = load_template(cdk_out, stack)
        except FileNotFoundError as exc:
            raise StartupError(f"{exc} (run without --no-synth, or `make synth`)") from None
        emulated, no_effect, unsupported = classify(template)
        log.info("template %s: %d resources", template.path, len(template.resources))
        log.info("  emulated: %s", short_counts(emulated))
        log.info("  accepted, no local effect: %s", short_counts(no_effect))
        if unsupported:
            log.warning("  UNSUPPORTED (ignored): %s", short_counts(unsupported))

        state = o.state_dir
        state.mkdir(parents=True, exist_ok=True)
        self.snapshot_path = state / "snapshot.json"

        # Servers first (ports 0 -> real ports), so every URL can be resolved.
        ep = Endpoints(host=o.host)
        moto_task = asyncio.create_task(asyncio.to_thread(MotoServer, o.host))
        ws_sock = _reserve(o.host, o.ws_port)
        api_sock = _reserve(o.host, o.api_port)
        ep.ws_port = ws_sock.getsockname()[1]
        ep.api_port = api_sock.getsockname()[1]
        front_sock = None
        if o.frontend:
            front_sock = _reserve(o.host, o.frontend_port)
            ep.frontend_port = front_sock.getsockname()[1]
        self.moto = await moto_task
        ep.moto_url = self.moto.url
        self.endpoints = ep

        model = AppModel(template, ep)
        self.model = model
        ddb = self.moto.client("dynamodb")
        sqs = self.moto.client("sqs")
        for lid, spec in model.tables.items():
            arn = await asyncio.to_thread(create_table, ddb, spec)
            if arn:
                model.names.stream_arns[lid] = arn
        for lid, q in sorted(model.queues.items(), key=lambda kv: "RedrivePolicy" in kv[1].attributes):
            model.names.queue_urls[lid] = await asyncio.to_thread(create_queue, sqs, q.name, q.attributes)
        restored = 0
        if o.fresh:
            if self.snapshot_path.exists():
                self.snapshot_path.unlink()
        else:
            restored = await asyncio.to_thread(
                restore_snapshot, self.snapshot_path, ddb, list(model.tables.values())
            )
        log.info(
            "dynamodb: %d table(s) %s; %d item(s) restored%s",
            len(model.tables),
            ", ".join(t.name for t in model.tables.values()),
            restored,
            " (--fresh)" if o.fresh else "",
        )
        model.build()
        for w in model.warnings:
            log.warning("  %s", w)

        # Identity: the local issuer stands in for the first user pool.
        pool_id = next(iter(model.user_pools.values()), "us-east-1_local")
        client_id = next(iter(model.user_pool_clients.values()), "local-client")
        issuer = model.names.issuer(pool_id)
        self.identity = Identity(state / "signing-key.pem", issuer, client_id)

        # Functions
        used = model.used_functions()
        extra_origins = ep.frontend_origins
        inline_root = state / "inline"
        for lid in sorted(used):
            fspec = model.functions[lid]
            code_dir = fspec.code_dir
            if fspec.inline_code is not None:
                code_dir = inline_root / lid
                code_dir.mkdir(parents=True, exist_ok=True)
                (code_dir / "index.py").write_text(fspec.inline_code)
            if code_dir is None or not code_dir.exists():
                log.error("function %s: code asset not found (%s)", lid, code_dir)
                continue
            env_extra = {}
            origins = fspec.environment.get("ALLOWED_ORIGINS")
            if origins is not None and origins.strip() != "*" and extra_origins:
                have = [x.strip() for x in origins.split(",") if x.strip()]
                env_extra["ALLOWED_ORIGINS"] = ",".join(have + [x for x in extra_origins if x not in have])
            for key, value in o.env_overrides.items():
                if key in fspec.environment:  # only variables the template gives this function
                    env_extra[key] = value
            env = build_env(fspec, code_dir, self.moto.url, env_extra)
            self.functions.add(FunctionPool(fspec, env, o.workers_per_function))
            notes = "; ".join(sorted(set(fspec.layer_notes)))
            log.info(
                "function %-34s %s (%s, timeout %.0fs)%s",
                lid,
                fspec.handler,
                fspec.runtime,
                fspec.timeout,
                f" [{notes}]" if notes else "",
            )
        unused = sorted(set(model.functions) - used)
        if unused:
            log.info("functions not wired to a route or event source (not started): %s", ", ".join(unused))

        # Gateways
        ws_app = web.Application(client_max_size=1024 * 1024)
        api_app = web.Application(client_max_size=10 * 1024 * 1024)
        ws_api = next((a for a in model.apis.values() if a.protocol == "WEBSOCKET"), None)
        http_api = next((a for a in model.apis.values() if a.protocol == "HTTP"), None)
        if ws_api is not None:
            self.ws = WebSocketGateway(
                ws_api,
                self.functions,
                idle_timeout=o.idle_timeout,
                max_duration=o.max_connection_duration,
                ready=self.ready,
                domain=f"{ep.public_host}:{ep.ws_port}",
            )
            self.ws.add_routes(ws_app)
            log.info(
                "websocket api %s: routes %s, stage %s",
                ws_api.name,
                " ".join(sorted(ws_api.routes)),
                self.ws.stage,
            )
        self.http = HttpGateway(
            http_api,
            self.functions,
            self.identity,
            ready=self.ready,
            extra_origins=extra_origins,
            ws=self.ws,
            domain=f"{ep.public_host}:{ep.api_port}",
            info=self.info,
        )
        self.http.add_routes(api_app)
        if http_api is not None:
            log.info("http api %s: %d route(s)", http_api.name, len(http_api.routes))
        self.runners.append(await _serve(ws_app, ws_sock))
        self.runners.append(await _serve(api_app, api_sock))
        if front_sock is not None:
            front_app = web.Application()
            self._frontend_routes(front_app)
            self.runners.append(await _serve(front_app, front_sock))

        # Pollers start at LATEST, after the restore: restored items are never re-broadcast.
        streams = self.moto.client("dynamodbstreams")
        for es in model.event_sources:
            fn = model.functions[es.function]
            if es.function not in self.functions.pools:
                log.warning(
                    "event source %s: function %s is not running; not polled", es.logical_id, es.function
                )
                continue
            if es.source_kind == "dynamodb":
                dest = model.queue_for_arn(es.on_failure_arn) if es.on_failure_arn else None
                p: Any = StreamPoller(
                    es,
                    self.functions,
                    streams,
                    sqs,
                    model.names.queue_urls.get(dest) if dest else None,
                    fn.arn,
                    poll_interval=o.stream_poll_interval,
                )
            else:
                assert es.source_logical_id is not None
                p = SqsPoller(es, self.functions, sqs, model.names.queue_urls[es.source_logical_id])
            await p.start()
            self.pollers.append(p)
            log.info(
                "event source %s -> %s (batch %d%s)",
                es.source_kind,
                es.function,
                es.batch_size,
                ", partial failures" if es.report_batch_item_failures else "",
            )
        stream_pollers = [p for p in self.pollers if isinstance(p, StreamPoller)]
        if stream_pollers:

            def wake_all() -> None:
                for sp in stream_pollers:
                    sp.wake()

            install_stream_hook(wake_all)

        # Warm one worker per function (Lambda's init phase) once everything else is up, so the
        # imports do not compete for the CPU with the start-up itself.
        self._t0 = t0
        if o.wait_warm:
            self.start_warm()
            assert self.warm_task is not None
            await self.warm_task
        self._bg.append(asyncio.create_task(self._ttl_loop()))
        self._bg.append(asyncio.create_task(self._snapshot_loop()))

        urls = {
            "websocketUrl": f"ws://{ep.public_host}:{ep.ws_port}",
            "callbackUrl": f"http://{ep.public_host}:{ep.ws_port}/@connections",
            "apiUrl": ep.api_base,
            "tokenUrl": f"{ep.api_base}/dev/token",
            "frontendUrl": f"http://{ep.public_host}:{ep.frontend_port}" if ep.frontend_port else "",
        }
        self.urls = urls
        (state / "endpoints.json").write_text(json.dumps(urls, indent=2) + "\n")
        self.ready.set()
        self.timings["startup"] = time.perf_counter() - t0
        for k, v in urls.items():
            log.info("  %-13s %s", k, v or "(disabled)")
        log.info(
            "ready in %.2f s (synth %.1f s)%s",
            self.timings["startup"],
            self.timings.get("synth", 0.0),
            "" if o.wait_warm else "; functions warm up in the background",
        )
        return urls

    def start_warm(self) -> None:
        if getattr(self, "warm_task", None) is None:
            self.warm_task = asyncio.create_task(self._warm(self._t0))

    async def _warm(self, t0: float) -> None:
        started = time.perf_counter()
        await self.functions.warm_all()
        self.timings["warm"] = time.perf_counter() - started
        self.timings["warmSinceStart"] = time.perf_counter() - t0
        log.info("functions warm: %d in %.1f s", len(self.functions.pools), self.timings["warm"])

    def info(self) -> dict[str, Any]:
        """Local-only introspection (GET /__local/info): where things are, poller counters."""
        return {
            "awsEndpoint": self.endpoints.moto_url,
            "region": "us-east-1",
            "credentials": {"accessKeyId": "local", "secretAccessKey": "local"},
            "tables": {lid: t.name for lid, t in self.model.tables.items()},
            "queues": dict(self.model.names.queue_urls),
            "eventSources": [
                {
                    "function": p.spec.function,
                    "kind": p.spec.source_kind,
                    "stats": dict(getattr(p, "stats", {})),
                }
                for p in self.pollers
            ],
            "functions": {
                lid: {"name": pool.spec.name, "workers": pool._count}  # noqa: SLF001
                for lid, pool in self.functions.pools.items()
            },
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "warm": self.warm_task is not None and self.warm_task.done(),
        }

    def _frontend_routes(self, app: web.Application) -> None:
        root = self.o.frontend_dir if self.o.frontend_dir.is_absolute() else Path.cwd() / self.o.frontend_dir

        async def runtime_config(request: web.Request) -> web.Response:
            return web.json_response(self.urls, headers={"Cache-Control": "no-store"})

        async def static(request: web.Request) -> web.StreamResponse:
            rel = request.match_info.get("tail", "").lstrip("/")
            if not root.is_dir():
                return web.Response(status=404, text="frontend not built: run `npm run build` in frontend/\n")
            base = root.resolve()
            for cand in (rel, f"{rel}.html", f"{rel}/index.html", "index.html" if not rel else None):
                if cand is None:
                    continue
                p = (base / cand).resolve()
                if p.is_file() and (p == base or base in p.parents):
                    return web.FileResponse(p)
            nf = base / "404.html"
            if nf.is_file():
                return web.FileResponse(nf, status=404)
            return web.Response(status=404, text="not found\n")

        app.router.add_get("/runtime-config.json", runtime_config)
        app.router.add_get("/{tail:.*}", static)
        if not root.is_dir():
            log.warning("frontend: %s does not exist yet (serving /runtime-config.json only)", root)

    async def _ttl_loop(self) -> None:
        assert self.moto is not None
        ddb = self.moto.client("dynamodb")
        while True:
            await asyncio.sleep(self.o.ttl_sweep_interval)
            for spec in self.model.tables.values():
                try:
                    n = await asyncio.to_thread(sweep_expired, ddb, spec)
                    if n:
                        log.info("ttl: deleted %d expired item(s) from %s", n, spec.name)
                except Exception:  # noqa: BLE001
                    log.exception("ttl sweep of %s failed", spec.name)

    async def _snapshot_loop(self) -> None:
        while True:
            await asyncio.sleep(self.o.snapshot_interval)
            await self.snapshot()

    async def snapshot(self) -> int:
        assert self.moto is not None
        try:
            return await asyncio.to_thread(
                write_snapshot,
                self.snapshot_path,
                self.moto.client("dynamodb"),
                list(self.model.tables.values()),
            )
        except Exception:  # noqa: BLE001
            log.exception("snapshot failed")
            return -1

    async def stop(self) -> None:
        log.info("shutting down ...")
        for t in self._bg:
            t.cancel()
        if self.ws is not None:
            self.ws.accepting = False
            n = await self.ws.close_all()
            if n:
                log.info("closed %d websocket(s) with 1001", n)
            await self.ws.wait_idle(timeout=10)  # let the $disconnect invocations finish
        await asyncio.gather(*(p.stop() for p in self.pollers), return_exceptions=True)
        if self.moto is not None and hasattr(self, "model"):
            n = await self.snapshot()
            log.info("snapshot: %d item(s) -> %s", n, self.snapshot_path)
        t_close = time.perf_counter()
        await asyncio.gather(*(r.cleanup() for r in self.runners), return_exceptions=True)
        log.debug("servers closed in %.2f s", time.perf_counter() - t_close)
        log.info("servers closed (%.2f s)", time.perf_counter() - t_close)
        warm = getattr(self, "warm_task", None)
        if warm is not None and not warm.done():
            warm.cancel()
        await self.functions.close()
        log.info("functions stopped (%.2f s)", time.perf_counter() - t_close)
        if self.moto is not None:
            await asyncio.to_thread(self.moto.stop)
        log.info("stopped")
