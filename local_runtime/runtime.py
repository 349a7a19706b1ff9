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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from realtime_comments.site_headers import origin_of, security_headers

from .connections_api import ConnectionsApi, PortSplitter
from .controls import Controls
from .data_client import DataApiClient
from .data_store import QUEUE_WAKE_PREFIX
from .functions import FunctionPool, Functions, build_env
from .guards import HostGuard, RemoteBindRefused, check_bind_host
from .http_api import HttpGateway
from .identity import Identity
from .model import AppModel, Endpoints
from .storage import DataStore, create_queue, create_table, restore_snapshot
from .streams import SqsPoller, StreamPoller
from .template import Template, classify, find_stack, load_template, short_counts
from .websocket import WebSocketGateway

log = logging.getLogger("local_runtime")
REPO_ROOT = Path(__file__).resolve().parent.parent


class StartupError(Exception):
    """The runtime cannot start (reported in one line, without a traceback)."""


@dataclass
class Options:
    stage: str = "dev"
    # The stack to run; by default the one template in --cdk-out whose name ends in "-<stage>".
    stack: str | None = None
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
    warm_workers: int = 1  # per function, started ahead of the first call
    snapshot_interval: float = 10.0
    ttl_sweep_interval: float = 5.0
    stream_poll_interval: float = 1.0  # a fallback: every stream write wakes the pollers (UDP)
    wait_warm: bool = False
    env_overrides: dict[str, str] = field(default_factory=dict)
    # Function variables that list allowed browser origins: the local frontend's origins are
    # appended to them (unless the value is "*"), so the page served here may call the APIs.
    origin_variables: tuple[str, ...] = ("ALLOWED_ORIGINS",)
    # Binding beyond loopback must be asked for (local_runtime/guards.py); then `allowed_hosts`
    # are the Host names clients may use besides localhost and loopback addresses.
    allow_remote: bool = False
    allowed_hosts: tuple[str, ...] = ()


def synthesize(cdk_out: Path, stages: Sequence[str] = ()) -> float:
    """Run app.py into ``cdk_out`` (only ``stages`` when given: the app's ``stages`` context)."""
    started = time.perf_counter()
    # app.py silences jsii's Node end-of-life banner itself.
    env = dict(os.environ, CDK_OUTDIR=str(cdk_out))
    if stages:
        context = json.loads(env.get("CDK_CONTEXT_JSON") or "{}")
        env["CDK_CONTEXT_JSON"] = json.dumps({**context, "stages": ",".join(stages)})
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


class _WakeProtocol(asyncio.DatagramProtocol):
    """Datagrams from the data process: a stream record appended wakes the stream pollers, a
    message put on a queue wakes that queue's poller (``data_store.STREAM_WAKE`` and
    ``QUEUE_WAKE_PREFIX``)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if data.startswith(QUEUE_WAKE_PREFIX):
            self.runtime.wake_queue_poller(data[len(QUEUE_WAKE_PREFIX) :].decode(errors="replace"))
        else:
            self.runtime.wake_stream_pollers()


class Runtime:
    """Starts in named phases (:meth:`start`), each of which can be read and changed on its own."""

    def __init__(self, opts: Options):
        self.o = opts
        self.ready = asyncio.Event()
        self.runners: list[web.AppRunner] = []
        self.functions = Functions()
        self.pollers: list[Any] = []
        self.data: DataStore | None = None
        self.ws: WebSocketGateway | None = None
        self.connections: ConnectionsApi | None = None
        self.timings: dict[str, float] = {}
        self.warm_task: asyncio.Task[None] | None = None
        self._wake_transport: asyncio.DatagramTransport | None = None
        self._ws_server: asyncio.Server | None = None
        self._stream_pollers: list[StreamPoller] = []
        self._queue_pollers: dict[str, SqsPoller] = {}  # by queue name
        self._data_api: DataApiClient | None = None
        self._t0 = time.perf_counter()

    @property
    def cdk_out(self) -> Path:
        return self.o.cdk_out if self.o.cdk_out.is_absolute() else Path.cwd() / self.o.cdk_out

    async def start(self) -> dict[str, str]:
        self._t0 = time.perf_counter()
        self._check_exposure()
        await self._synthesize()
        template = self._load_template()
        self.o.state_dir.mkdir(parents=True, exist_ok=True)
        self.snapshot_path = (self.o.state_dir / "snapshot.json").resolve()
        sockets = await self._start_data_store_and_bind()
        await self._create_resources(template)
        self._start_identity()
        self._start_functions()
        await self._start_gateways(*sockets)
        await self._start_event_sources()
        if self.o.wait_warm:
            self.start_warm()
            assert self.warm_task is not None
            await self.warm_task
        return self._publish_endpoints()

    # -- phases -------------------------------------------------------------------------------
    def _check_exposure(self) -> None:
        try:
            warning = check_bind_host(self.o.host, self.o.allow_remote)
        except RemoteBindRefused as exc:
            raise StartupError(str(exc)) from None
        if warning:
            log.warning("WARNING: %s", warning)
            sys.stderr.write(f"WARNING: {warning}\n")
        bound = [] if self.o.host in ("0.0.0.0", "::", "") else [self.o.host]  # noqa: S104
        self.host_guard = HostGuard([*bound, *self.o.allowed_hosts] if self.o.allow_remote else [])

    async def _synthesize(self) -> None:
        if self.o.synth and (REPO_ROOT / "app.py").exists():
            log.info("synthesizing %s ...", self.o.stack or f"stage {self.o.stage}")
            stages = () if self.o.stack else (self.o.stage,)
            secs = await asyncio.to_thread(synthesize, self.cdk_out, stages)
            self.timings["synth"] = secs
            log.info("synth took %.1f s", secs)

    def _load_template(self) -> Template:
        try:
            stack = self.o.stack or find_stack(self.cdk_out, self.o.stage)
            template = load_template(self.cdk_out, stack)
        except (FileNotFoundError, ValueError) as exc:
            raise StartupError(f"{exc} (run without --no-synth, or `make synth`)") from None
        emulated, no_effect, unsupported = classify(template)
        log.info("template %s: %d resources", template.path, len(template.resources))
        log.info("  emulated: %s", short_counts(emulated))
        log.info("  accepted, no local effect: %s", short_counts(no_effect))
        if unsupported:
            log.warning("  UNSUPPORTED (ignored): %s", short_counts(unsupported))
        return template

    async def _start_data_store_and_bind(self) -> tuple[socket.socket, socket.socket, socket.socket | None]:
        """Start the data process and bind every port meanwhile (port 0 -> a real port), so that
        every URL can be resolved before anything is created."""
        o = self.o
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in o.host else socket.AF_INET
        self._wake_transport, _ = await loop.create_datagram_endpoint(
            lambda: _WakeProtocol(self),
            local_addr=("::1" if family == socket.AF_INET6 else "127.0.0.1", 0),
        )
        wake_port = self._wake_transport.get_extra_info("sockname")[1]
        self.data = DataStore(
            "127.0.0.1",
            notify_port=wake_port,
            ttl_sweep_interval=o.ttl_sweep_interval,
            snapshot=self.snapshot_path,
            snapshot_interval=o.snapshot_interval,
        )
        data_started = asyncio.create_task(self.data.start())
        ep = Endpoints(host=o.host)
        try:
            ws_sock = _reserve(o.host, o.ws_port)
            api_sock = _reserve(o.host, o.api_port)
            front_sock = _reserve(o.host, o.frontend_port) if o.frontend else None
        except StartupError:
            data_started.cancel()
            raise
        ep.ws_port = ws_sock.getsockname()[1]
        ep.api_port = api_sock.getsockname()[1]
        if front_sock is not None:
            ep.frontend_port = front_sock.getsockname()[1]
        try:
            ep.moto_url = await data_started
        except Exception as exc:  # noqa: BLE001
            raise StartupError(f"the data process did not start: {exc}") from None
        log.info("data process (DynamoDB + Streams + SQS on moto) at %s", ep.moto_url)
        self.endpoints = ep
        return ws_sock, api_sock, front_sock

    async def _create_resources(self, template: Template) -> None:
        """The template's tables and queues, then the snapshot's items (unless --fresh)."""
        assert self.data is not None
        model = AppModel(template, self.endpoints)
        self.model = model
        ddb = self.data.client("dynamodb")
        sqs = self.data.client("sqs")
        for lid, spec in model.tables.items():
            arn = await asyncio.to_thread(create_table, ddb, spec)
            if arn:
                model.names.stream_arns[lid] = arn
        # Dead-letter queues first: a redrive policy names its target.
        for lid, q in sorted(model.queues.items(), key=lambda kv: "RedrivePolicy" in kv[1].attributes):
            model.names.queue_urls[lid] = await asyncio.to_thread(create_queue, sqs, q.name, q.attributes)
        restored = 0
        if self.o.fresh:
            self.snapshot_path.unlink(missing_ok=True)
        else:
            restored = await asyncio.to_thread(
                restore_snapshot, self.snapshot_path, ddb, list(model.tables.values())
            )
        log.info(
            "dynamodb: %d table(s) %s; %d item(s) restored%s",
            len(model.tables),
            ", ".join(t.name for t in model.tables.values()),
            restored,
            " (--fresh)" if self.o.fresh else "",
        )
        model.build()
        for w in model.warnings:
            log.warning("  %s", w)

    def _start_identity(self) -> None:
        """The local issuer stands in for the first user pool (its client id is the audience)."""
        pool_id = next(iter(self.model.user_pools.values()), "us-east-1_local")
        client_id = next(iter(self.model.user_pool_clients.values()), "local-client")
        self.identity = Identity(
            self.o.state_dir / "signing-key.pem", self.model.names.issuer(pool_id), client_id
        )

    def _function_env_extra(self, environment: dict[str, str]) -> dict[str, str]:
        extra: dict[str, str] = {}
        origins = self.endpoints.frontend_origins
        for name in self.o.origin_variables:
            value = environment.get(name)
            if value is None or value.strip() == "*" or not origins:
                continue
            have = [x.strip() for x in value.split(",") if x.strip()]
            extra[name] = ",".join(have + [x for x in origins if x not in have])
        for key, value in self.o.env_overrides.items():
            if key in environment:  # only variables the template gives this function
                extra[key] = value
        return extra

    def _start_functions(self) -> None:
        """A pool of warm workers for each function wired to a route or an event source."""
        assert self.data is not None
        model = self.model
        used = model.used_functions()
        inline_root = self.o.state_dir / "inline"
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
            env = build_env(fspec, code_dir, self.data.url, self._function_env_extra(fspec.environment))
            self.functions.add(FunctionPool(fspec, env, self.o.workers_per_function))
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

    async def _start_gateways(
        self, ws_sock: socket.socket, api_sock: socket.socket, front_sock: socket.socket | None
    ) -> None:
        """The WebSocket API with @connections, the HTTP API with the local controls, the frontend."""
        model, ep = self.model, self.endpoints
        guard = self.host_guard
        ws_app = web.Application(client_max_size=1024 * 1024, middlewares=[guard.host_middleware])
        api_app = web.Application(
            client_max_size=10 * 1024 * 1024, middlewares=[guard.host_middleware, guard.controls_middleware]
        )
        ws_api = next((a for a in model.apis.values() if a.protocol == "WEBSOCKET"), None)
        http_api = next((a for a in model.apis.values() if a.protocol == "HTTP"), None)
        if ws_api is not None:
            self.ws = WebSocketGateway(
                ws_api,
                self.functions,
                idle_timeout=self.o.idle_timeout,
                max_duration=self.o.max_connection_duration,
                ready=self.ready,
                domain=f"{ep.public_host}:{ep.ws_port}",
            )
            self.connections = ConnectionsApi(self.ws)
            self.connections.add_routes(ws_app)
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
            extra_origins=ep.frontend_origins,
            domain=f"{ep.public_host}:{ep.api_port}",
        )
        Controls(self.ws, self.connections, self.info, self.functions).add_routes(api_app)
        self.http.add_routes(api_app)  # last: its catch-all serves the API's routes
        if http_api is not None:
            log.info("http api %s: %d route(s)", http_api.name, len(http_api.routes))
        if self.connections is not None:
            await self._serve_websocket_port(ws_app, ws_sock, self.connections)
        else:
            self.runners.append(await _serve(ws_app, ws_sock))
        self.runners.append(await _serve(api_app, api_sock))
        if front_sock is not None:
            front_app = web.Application(middlewares=[guard.host_middleware])
            self._frontend_routes(front_app)
            self.runners.append(await _serve(front_app, front_sock))

    async def _serve_websocket_port(
        self, ws_app: web.Application, sock: socket.socket, connections: ConnectionsApi
    ) -> None:
        """aiohttp serves the handshakes; connections that start with @connections skip it."""
        runner = web.AppRunner(ws_app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        aiohttp_protocol = runner.server
        assert aiohttp_protocol is not None
        self._ws_server = await asyncio.get_running_loop().create_server(
            lambda: PortSplitter(connections, aiohttp_protocol, self.host_guard.allows), sock=sock
        )
        self.runners.append(runner)

    async def _start_event_sources(self) -> None:
        """Pollers start at LATEST, after the restore: restored items are never re-broadcast."""
        assert self.data is not None
        model = self.model
        streams = self.data.client("dynamodbstreams")
        sqs = self.data.client("sqs")
        self._data_api = DataApiClient(self.data.url)
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
                    poll_interval=self.o.stream_poll_interval,
                    data_api=self._data_api,
                )
                self._stream_pollers.append(p)
            else:
                assert es.source_logical_id is not None
                p = SqsPoller(es, self.functions, sqs, model.names.queue_urls[es.source_logical_id])
                self._queue_pollers[model.names.queue_name(es.source_logical_id)] = p
            await p.start()
            self.pollers.append(p)
            log.info(
                "event source %s -> %s (batch %d%s)",
                es.source_kind,
                es.function,
                es.batch_size,
                ", partial failures" if es.report_batch_item_failures else "",
            )

    def _publish_endpoints(self) -> dict[str, str]:
        ep = self.endpoints
        urls = {
            "websocketUrl": f"ws://{ep.public_host}:{ep.ws_port}",
            "callbackUrl": f"http://{ep.public_host}:{ep.ws_port}/@connections",
            "apiUrl": ep.api_base,
            "tokenUrl": f"{ep.api_base}/dev/token",
            # The tables' and queues' endpoint (AWS_ENDPOINT_URL for boto3), for seeding data.
            "dataUrl": self.data.url if self.data is not None else "",
            "frontendUrl": f"http://{ep.public_host}:{ep.frontend_port}" if ep.frontend_port else "",
        }
        self.urls = urls
        (self.o.state_dir / "endpoints.json").write_text(json.dumps(urls, indent=2) + "\n")
        self.ready.set()
        self.timings["startup"] = time.perf_counter() - self._t0
        for k, v in urls.items():
            log.info("  %-13s %s", k, v or "(disabled)")
        log.info(
            "ready in %.2f s (synth %.1f s)%s",
            self.timings["startup"],
            self.timings.get("synth", 0.0),
            "" if self.o.wait_warm else "; functions warm up in the background",
        )
        return urls

    # -- running ------------------------------------------------------------------------------
    def wake_stream_pollers(self) -> None:
        for poller in self._stream_pollers:
            poller.wake()

    def wake_queue_poller(self, queue_name: str) -> None:
        poller = self._queue_pollers.get(queue_name)
        if poller is not None:
            poller.wake()

    def start_warm(self) -> None:
        if self.warm_task is None:
            self.warm_task = asyncio.create_task(self._warm())

    async def _warm(self) -> None:
        started = time.perf_counter()
        await self.functions.warm_all(self.o.warm_workers)
        self.timings["warm"] = time.perf_counter() - started
        self.timings["warmSinceStart"] = time.perf_counter() - self._t0
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
                lid: {"name": pool.spec.name, "workers": pool.worker_count}
                for lid, pool in self.functions.pools.items()
            },
            "connectionsApi": self.connections.stats() if self.connections else {},
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "warm": self.warm_task is not None and self.warm_task.done(),
        }

    def site_headers(self) -> dict[str, str]:
        """The page's security headers (``realtime_comments.site_headers``, the ones of StaticSite's
        CloudFront policy) for this runtime: connect-src is the local HTTP and WebSocket APIs."""
        ep = self.endpoints
        return security_headers([origin_of(ep.api_base), f"ws://{ep.public_host}:{ep.ws_port}"])

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

        headers = self.site_headers()

        async def with_security_headers(request: web.Request, response: web.StreamResponse) -> None:
            # Every response of the page's origin, as CloudFront adds them: the browser tests run
            # under the deployed CSP.
            response.headers.update(headers)

        app.on_response_prepare.append(with_security_headers)
        app.router.add_get("/runtime-config.json", runtime_config)
        app.router.add_get("/{tail:.*}", static)
        if not root.is_dir():
            log.warning("frontend: %s does not exist yet (serving /runtime-config.json only)", root)

    async def stop(self) -> None:
        log.info("shutting down ...")
        if self.ws is not None:
            self.ws.accepting = False
            n = await self.ws.close_all()
            if n:
                log.info("closed %d websocket(s) with 1001", n)
            await self.ws.wait_idle(timeout=10)  # let the $disconnect invocations finish
        await asyncio.gather(*(p.stop() for p in self.pollers), return_exceptions=True)
        t_close = time.perf_counter()
        if self.connections is not None:
            await self.connections.close()
        if self._ws_server is not None:
            self._ws_server.close()
        await asyncio.gather(*(r.cleanup() for r in self.runners), return_exceptions=True)
        log.info("servers closed (%.2f s)", time.perf_counter() - t_close)
        if self.warm_task is not None and not self.warm_task.done():
            self.warm_task.cancel()
        await self.functions.close()
        log.info("functions stopped (%.2f s)", time.perf_counter() - t_close)
        if self._wake_transport is not None:
            self._wake_transport.close()
        if self._data_api is not None:
            await self._data_api.close()
        if self.data is not None:
            await self.data.stop()  # it saves the snapshot as it stops
        log.info("stopped")
