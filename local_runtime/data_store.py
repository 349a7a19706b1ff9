"""The data process: DynamoDB (with Streams and TTL) and SQS, on moto's server, in a process of its own.

``python -m local_runtime.data_store --host 127.0.0.1 [--notify-port P] [--ttl-sweep-interval S]``
prints ``READY {"url": ...}`` on stdout once it listens, then serves until SIGTERM, SIGINT or the
end of its standard input (so it never outlives the runtime that started it).

It runs apart from the gateway so that the two never share a GIL: moto's request handling and
response serialization took half of the runtime's single core under load. Three things are added
to moto here, each because the local system needs it:

- **Per-table write atomicity.** DynamoDB applies each single-item write atomically (UpdateItem ADD,
  conditional PutItem); moto's threaded server interleaves concurrent requests and loses updates.
  Writes take their table's lock exclusively, reads share it, and different tables never wait on
  each other (:class:`TableLocks`).
- **Fast paths for what every request hits** (:mod:`local_runtime.moto_fast_paths`): item
  responses and stream records written with :mod:`json` instead of moto's shape-driven
  serializer, table views kept between writes, projections without a quadratic size check;
  index Query answers kept until a write can change them (:mod:`local_runtime.query_cache`);
  integer ``ADD``s without moto's expression code (:mod:`local_runtime.counter_adds`); and
  moto's service dispatch looked up once per ``X-Amz-Target`` prefix (:func:`data_app`).
- **Stream and queue wake-ups, and TTL.** Every stream record appended, and every message put on
  a queue, sends one UDP datagram to ``--notify-port`` so the runtime's pollers read at once
  instead of on their next tick (as Lambda's long polls of SQS would); a sweeper
  deletes expired items the way DynamoDB's TTL process does (stream records marked with the
  service identity).

moto's tracking of every model object it creates (kept for ``mock_aws``'s reset) is switched off
for the services served here, so the process does not keep every item a request ever made
(:func:`stop_instance_tracking`).

It also saves the tables to ``--snapshot`` every ``--snapshot-interval`` seconds when something
was written, and once more when it stops (the runtime restores that file at its next start).
"""

from __future__ import annotations

import argparse
import binascii
import contextlib
import fcntl
import gc
import io
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

from .counter_adds import add_to_counter
from .heap import freeze_startup_objects
from .keepalive_server import KeepAliveServer
from .moto_fast_paths import (
    bump_versions,
    fast_paths_active,
    install_fast_item_serializer,
    items_of,
    request_state,
    wire_value,
    writes_seen,
)
from .query_cache import QueryCache
from .template import ACCOUNT_ID, REGION

TTL_IDENTITY = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}  # Streams API shape

log = logging.getLogger("local_runtime.data")

# DynamoDB operations that only read: they share their table's lock. Every other DynamoDB_ operation
# takes it exclusively. DynamoDBStreams_ reads need no lock (moto appends to a list per shard).
READ_OPERATIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "DescribeTable",
        "DescribeTimeToLive",
        "ListTables",
        "DescribeContinuousBackups",
        "ListTagsOfResource",
        "DescribeLimits",
        "DescribeEndpoints",
    }
)


# -- per-table locks -------------------------------------------------------------------------------
class _SharedLock:
    """Many readers or one writer; a waiting writer holds back new readers (no writer starvation)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class TableLocks:
    """One shared/exclusive lock per table name, taken in name order (no deadlock across tables)."""

    def __init__(self) -> None:
        self._locks: dict[str, _SharedLock] = {}
        self._guard = threading.Lock()

    def lock(self, table: str) -> _SharedLock:
        with self._guard:
            found = self._locks.get(table)
            if found is None:
                found = self._locks[table] = _SharedLock()
            return found

    @contextlib.contextmanager
    def hold(self, tables: list[str], exclusive: bool) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for name in sorted(set(tables)):
                lock = self.lock(name)
                stack.enter_context(lock.exclusive() if exclusive else lock.shared())
            yield


def tables_of(body: dict[str, Any]) -> list[str]:
    """The table names one DynamoDB request touches (single-table, batch and transaction shapes)."""
    names: list[str] = []
    if isinstance(body.get("TableName"), str):
        names.append(body["TableName"])
    if isinstance(body.get("RequestItems"), dict):
        names.extend(str(k) for k in body["RequestItems"])
    for entry in body.get("TransactItems") or []:
        if isinstance(entry, dict):
            for op in entry.values():
                if isinstance(op, dict) and isinstance(op.get("TableName"), str):
                    names.append(op["TableName"])
    return names


def direct_handlers() -> dict[str, Any]:
    """moto's response handlers by ``X-Amz-Target`` service prefix, for :func:`direct_app`."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    return {"DynamoDB_20120810": DynamoHandler, "DynamoDBStreams_20120810": DynamoDBStreamsHandler}


def direct_app(handler: Any) -> Callable[..., Any]:
    """A WSGI app that hands the request straight to one moto response handler.

    moto's server routes each request through a Flask app (request context, URL map, CORS,
    response object) before the handler; for DynamoDB that was a fifth of the data process's
    time per request. The handler gets the request as moto's Flask route gives it (a normalized
    ``Request`` marked as coming from a WSGI server, its raw URL, its headers).
    """
    from moto.core.request import Request

    class ServerRequest(Request):
        from_wsgi_server = True

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        request = ServerRequest(environ)
        result = handler.dispatch(request, request.raw_url, dict(request.headers))
        status, headers, body = result if len(result) == 3 else (200, {}, result)
        if isinstance(body, str):
            body = body.encode("utf-8")
        wire_headers = [(str(k), str(v)) for k, v in headers.items() if k.lower() != "status"]
        if not any(k.lower() == "content-type" for k, _ in wire_headers):
            wire_headers.append(("Content-Type", "text/html; charset=utf-8"))  # as Flask's default
        start_response(f"{int(status)} {HTTPStatus(int(status)).phrase}", wire_headers)
        return [body or b""]

    return app


def data_app(dispatcher: Any, locks: TableLocks) -> Callable[..., Any]:
    """moto's WSGI app, with three changes on the way in:

    - each DynamoDB request holds the locks of the tables it touches (see :class:`TableLocks`);
    - DynamoDB and DynamoDB Streams requests go straight to moto's handler (:func:`direct_app`);
    - for the others the service app is found once per ``X-Amz-Target`` service prefix and then
      looked up in a dict: moto's dispatcher infers the service under one process-wide lock on
      every request, which made every DynamoDB and SQS call of the system wait for every other.
    """
    apps: dict[str, Any] = {prefix: direct_app(h) for prefix, h in direct_handlers().items()}

    def app_for(environ: dict[str, Any], target: str) -> Any:
        key = target.partition(".")[0]
        if not key:
            return dispatcher.get_application(environ)
        found = apps.get(key)
        if found is None:
            found = apps[key] = dispatcher.get_application(environ)
        return found

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        request_state.active = True  # this request may take moto_fast_paths' paths
        try:
            return serve_locked(environ, start_response)
        finally:
            request_state.active = False

    def serve_locked(environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        app = app_for(environ, target)
        if not target.startswith("DynamoDB_"):  # SQS, Streams: no lock
            return list(app(environ, start_response))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        tables = tables_of(body) if isinstance(body, dict) else []
        operation = target.partition(".")[2]
        writes = operation not in READ_OPERATIONS
        with locks.hold(tables, exclusive=writes):
            index = body.get("IndexName") if operation == "Query" else None
            if isinstance(index, str) and len(tables) == 1 and fast_paths_active():
                return _answer_query(app, environ, start_response, raw, tables[0], index)
            if not writes:
                return list(app(environ, start_response))
            before = QUERY_CACHE.indexes_holding(operation, body)
            added = _add_to_counter(body, start_response) if operation == "UpdateItem" else None
            response = added if added is not None else list(app(environ, start_response))
            # Still under the lock: no reader sees the old views or answers after this write.
            bump_versions(tables)
            QUERY_CACHE.written(tables, operation, body, before)
        return response

    return serve


def _add_to_counter(body: dict[str, Any], start_response: Any) -> list[bytes] | None:
    """An UpdateItem that only adds an integer, answered by :mod:`local_runtime.counter_adds`
    (None: any other shape, left to moto). The caller holds the table's write lock."""
    if not fast_paths_active() or not isinstance(body.get("TableName"), str):
        return None
    try:
        table = _backend().get_table(body["TableName"])
    except Exception:  # noqa: BLE001 - no such table: moto answers with its error
        return None
    answer = add_to_counter(table, body)
    if answer is None:
        return None
    payload = json.dumps(answer).encode()
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("server", "amazon.com"),
            ("x-amzn-requestid", _request_id()),
            ("x-amz-crc32", str(binascii.crc32(payload))),
        ],
    )
    return [payload]


def _answer_query(
    app: Any, environ: dict[str, Any], start_response: Any, raw: bytes, table: str, index: str
) -> list[bytes]:
    """An index Query from :data:`QUERY_CACHE`, or from moto (and then kept). The caller holds
    the table's shared lock, so no write comes between the version read and the answer."""
    hit = QUERY_CACHE.lookup(raw, table, index)
    if hit is not None:
        start_response(hit[0], hit[1])
        return [hit[2]]
    version = QUERY_CACHE.version(table, index)
    seen: list[Any] = []

    def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen[:] = [status, list(headers)]
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    body = b"".join(app(environ, keep))
    if seen:
        QUERY_CACHE.store(raw, table, index, version, (seen[0], seen[1], body))
    return [body]


# -- stream and queue wake-ups -----------------------------------------------------------------------
# The datagram kinds sent to ``--notify-port``: a stream record was appended, or a message was put
# on the queue named after the prefix.
STREAM_WAKE = b"s"
QUEUE_WAKE_PREFIX = b"q:"


def _call_after(cls: Any, method: str, callback: Callable[[Any], None]) -> None:
    """Make ``cls.method`` call ``callback(self)`` after it returns (once, however often it is
    installed); a failing callback never breaks the call."""
    original = getattr(cls, method)
    original = getattr(original, "__wrapped_by_local_runtime__", None) or original

    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        with contextlib.suppress(Exception):
            callback(self)
        return result

    wrapped.__wrapped_by_local_runtime__ = original  # type: ignore[attr-defined]
    setattr(cls, method, wrapped)


def install_stream_hook(callback: Callable[[], None]) -> None:
    """Call ``callback()`` (in moto's request thread) whenever a stream record is appended."""
    from moto.dynamodb.models.table import StreamShard

    _call_after(StreamShard, "add", lambda _shard: callback())


def install_queue_hook(callback: Callable[[str], None]) -> None:
    """Call ``callback(queue_name)`` whenever a message is put on an SQS queue (sent, or moved to
    a dead-letter queue)."""
    from moto.sqs.models import Queue

    _call_after(Queue, "add_message", lambda queue: callback(queue.name))


def udp_notifier(host: str, port: int) -> Callable[[bytes], None]:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)

    def notify(datagram: bytes) -> None:
        with contextlib.suppress(OSError):  # a full buffer means a wake-up is already pending
            sock.sendto(datagram, (host, port))

    return notify


# -- TTL ---------------------------------------------------------------------------------------------
def _backend() -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT_ID][REGION]


def _request_id() -> str:
    from moto.utilities.aws_headers import gen_amzn_requestid_long

    return gen_amzn_requestid_long()


QUERY_CACHE = QueryCache(lambda name: _backend().get_table(name), _request_id)


def sweep_expired(locks: TableLocks, table_name: str, now: float | None = None) -> int:
    """Delete the items of one table whose TTL attribute is in the past, as DynamoDB's TTL does.

    Deletes go through moto's backend so that their stream records can carry the TTL service
    identity (``userIdentity`` Type Service, PrincipalId dynamodb.amazonaws.com): that is how
    consumers tell TTL deletions from user deletions.
    """
    table = _backend().get_table(table_name)
    if table.ttl.get("TimeToLiveStatus") != "ENABLED" or not table.ttl.get("AttributeName"):
        return 0
    attr = table.ttl["AttributeName"]
    now = time.time() if now is None else now
    with locks.hold([table_name], exclusive=True):
        expired = []
        for item in items_of(table):
            value = item.attrs.get(attr)
            if value is not None and value.type == "N":
                with contextlib.suppress(ValueError):
                    if float(value.value) < now:
                        expired.append(item)
        for item in expired:
            table.delete_item(item.hash_key, item.range_key)
            _mark_ttl_delete(table, item)
        if expired:
            bump_versions([table_name])
            QUERY_CACHE.invalidate_tables([table_name])
    return len(expired)


def _mark_ttl_delete(table: Any, item: Any) -> None:
    shard = table.stream_shard
    if shard is None:
        return
    keys = {table.hash_key_attr: item.hash_key.to_json()}
    if table.range_key_attr is not None:
        keys[table.range_key_attr] = item.range_key.to_json()
    for rec in reversed(shard.items[-200:]):
        record = rec.record
        if (
            record["eventName"] == "REMOVE"
            and record["dynamodb"]["Keys"] == keys
            and "userIdentity" not in record
        ):
            record["userIdentity"] = dict(TTL_IDENTITY)
            return


def sweep_all(locks: TableLocks) -> dict[str, int]:
    deleted = {}
    for name in list(_backend().tables):
        try:
            n = sweep_expired(locks, name)
        except Exception:  # noqa: BLE001 - the sweeper carries on with the next table
            log.exception("ttl sweep of %s failed", name)
            continue
        if n:
            deleted[name] = n
    return deleted


# -- snapshot ----------------------------------------------------------------------------------------
def _snapshot_text(backend: Any) -> tuple[str, int]:
    """The snapshot document of every table, and its number of items. Items go to :mod:`json` as
    moto holds them, each value as its wire form (``{"S": ...}``; binary values are held base64):
    through moto's ``dynamo_to_dict`` a connection item with its ``slots`` map took ~90 us."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    def stored(value: Any) -> Any:
        return {value.type: value.value} if isinstance(value, DynamoType) else wire_value(value)

    tables = {
        name: [item.attrs for item in items_of(backend.tables[name])] for name in sorted(backend.tables)
    }
    text = json.dumps({"version": 1, "savedAt": time.time(), "tables": tables}, default=stored)
    return text, sum(len(items) for items in tables.values())


def _write_snapshot_text(text: str, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_snapshot(locks: TableLocks, path: Path) -> int:
    """Every item of every table, as DynamoDB JSON (binary values base64), written atomically to
    ``path`` (the format ``storage.restore_snapshot`` reads); returns the number of items.

    Written here, from moto's backend, rather than by the runtime through Scans: the Scans'
    parsing took the gateway's GIL for a good part of a second every interval under load.
    """
    backend = _backend()
    with locks.hold(list(backend.tables), exclusive=False):
        text, items = _snapshot_text(backend)
    _write_snapshot_text(text, path)
    return items


def fork_snapshot(locks: TableLocks, path: Path) -> int:
    """Starts :func:`write_snapshot` in a forked child and returns its pid (the exit status says
    whether the file was written).

    In process, the 1,000 items of a benchmark took 90-115 ms under load, and every request waited
    for them (the GIL, and each table's lock while its items were read): the worst comment of a
    5,000 deliveries/s step each time. The child writes the tables as they were at the fork, every
    table at one instant, while this process goes on serving. It is the fork's only thread: it
    takes no lock, logs nothing and leaves with ``os._exit``.
    """
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: F401 - imported before the fork

    backend = _backend()
    with locks.hold(list(backend.tables), exclusive=False), warnings.catch_warnings():
        # Python 3.12+ warns about forking a threaded process; the child only runs the code below.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        gc.disable()  # a collection would touch, and so copy, every page of the parent's heap
        _write_snapshot_text(_snapshot_text(backend)[0], path)
        status = 0
    except BaseException:  # noqa: BLE001 - reported to the parent through the exit status
        with contextlib.suppress(OSError):
            os.write(2, ("snapshot child failed:\n" + traceback.format_exc()).encode())
    finally:
        os._exit(status)


# A snapshot may take at most this share of the data process's time: with 40,000 comments one took
# about a second, and taken every 10 s it stalled every request behind it (the p99 of a load step).
# Written by a child process it stalls nothing, but it still takes a core of a small machine.
SNAPSHOT_TIME_SHARE = 0.05
CHILD_POLL_S = 0.05  # how often the main loop looks whether the snapshot's child is done


class _Snapshots:
    """Writes the snapshot when some write happened since the last one (and once more at exit),
    at most every ``interval`` seconds and never more than SNAPSHOT_TIME_SHARE of the time.

    ``in_child``: write it in a forked child (:func:`fork_snapshot`, where ``os.fork`` exists);
    otherwise in this process, as the final one at exit always is."""

    def __init__(
        self, locks: TableLocks, path: Path | None, interval: float, *, in_child: bool = hasattr(os, "fork")
    ) -> None:
        self.locks = locks
        self.path = path
        self.interval = interval
        self.in_child = in_child
        self.saved_at_writes = -1
        self.due = time.monotonic() + interval
        self.child: int | None = None  # pid of the child writing a snapshot now
        self._started = 0.0
        self._writes = 0

    def next_wakeup(self) -> float:
        return time.monotonic() + CHILD_POLL_S if self.child is not None else self.due

    def tick(self) -> None:
        """From the data process's main loop: finish a child's snapshot, or start one when due."""
        if self.child is not None:
            self._reap(block=False)
        elif time.monotonic() >= self.due:
            self.save()

    def save(self) -> None:
        if self.path is None or writes_seen() == self.saved_at_writes:
            self.due = time.monotonic() + self.interval
            return
        self._started, self._writes = time.monotonic(), writes_seen()
        if self.in_child:
            try:
                self.child = fork_snapshot(self.locks, self.path)
                return
            except OSError:
                log.exception("snapshot: could not fork; writing it in this process")
        try:
            write_snapshot(self.locks, self.path)
        except Exception:  # noqa: BLE001 - the next interval tries again
            log.exception("snapshot failed")
            self._done(ok=False)
            return
        self._done(ok=True)

    def final(self) -> None:
        """At exit: wait for a child's snapshot, then write one here if anything changed since."""
        if self.child is not None:
            self._reap(block=True)
        if self.path is None or writes_seen() == self.saved_at_writes:
            return
        started = time.monotonic()
        try:
            n = write_snapshot(self.locks, self.path)
        except Exception:  # noqa: BLE001 - logged; the previous snapshot stays
            log.exception("snapshot failed")
            return
        log.info("snapshot: %d item(s) -> %s in %.2f s", n, self.path, time.monotonic() - started)

    def _reap(self, *, block: bool) -> None:
        assert self.child is not None
        pid, status = os.waitpid(self.child, 0 if block else os.WNOHANG)
        if pid == 0:
            return
        self.child = None
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            log.error("snapshot: the child writing it failed (exit status %d)", code)
        self._done(ok=code == 0)

    def _done(self, *, ok: bool) -> None:
        took = time.monotonic() - self._started
        self.due = time.monotonic() + max(self.interval, took / SNAPSHOT_TIME_SHARE)
        if ok:
            self.saved_at_writes = self._writes


# -- the server --------------------------------------------------------------------------------------
class _Untracked(list):  # type: ignore[type-arg]
    """A model class's ``instances_tracked`` that keeps nothing."""

    def append(self, _instance: Any) -> None:
        return None


SERVED_MOTO_SERVICES = ("dynamodb", "dynamodbstreams", "sqs")


def stop_instance_tracking() -> None:
    """moto appends every model object it creates to its class's ``instances_tracked`` (for
    ``mock_aws``'s reset and its dashboard), so a long-running server keeps every ``Item`` it ever
    made: each Query's result copies, each write's old and new item. The data process serves for
    hours and resets nothing; tracked, a 100-subscriber Query left 300 live Items behind, and the
    cyclic collector's full passes over them grew past 100 ms (the whole process stops for them).
    Only the services served here; a ``mock_aws`` reset tracks again (it assigns a new list)."""
    import importlib

    from moto.core.model_instances import model_data

    for service in SERVED_MOTO_SERVICES:
        importlib.import_module(f"moto.{service}.models")
        for model in model_data[service].values():
            model.instances_tracked = _Untracked()  # type: ignore[attr-defined]


class DataServer:
    """moto's WSGI app with the additions above, on a keep-alive server in a thread of this process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        os.environ["MOTO_ACCOUNT_ID"] = ACCOUNT_ID
        for name in ("werkzeug", "moto"):
            logging.getLogger(name).setLevel(logging.WARNING)
        from moto.server import DomainDispatcherApplication, create_backend_app

        install_fast_item_serializer()
        stop_instance_tracking()
        self.locks = TableLocks()
        app = data_app(DomainDispatcherApplication(create_backend_app), self.locks)
        self._server = KeepAliveServer(host, port, app)
        bound_host, bound_port = self._server.server_address[:2]
        bound_host = bound_host.decode() if isinstance(bound_host, bytes) else str(bound_host)
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{bound_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()


STATE_LOCK_WAIT_S = 30.0


def lock_state(snapshot: Path | None, wait: float = STATE_LOCK_WAIT_S) -> io.TextIOWrapper | None:
    """Hold ``<snapshot>.lock`` for the life of this process. A runtime started on the same state
    dir just after the previous one was killed then waits here while the previous data process
    (which outlives its runtime until it sees its stdin close) writes its final snapshot, rather
    than restoring an older one; two live runtimes on one state dir are refused."""
    if snapshot is None:
        return None
    path = snapshot.with_name(snapshot.name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - held (and its lock with it) until the process exits
    deadline = time.monotonic() + wait
    waited = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                raise SystemExit(f"{path}: another local runtime still uses this state dir") from None
            if not waited:
                log.warning("waiting for the previous data process to save its snapshot (%s)", path)
                waited = True
            time.sleep(0.05)
            continue
        if waited:
            log.info("state dir free: the previous snapshot is complete")
        return handle


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m local_runtime.data_store", description=__doc__.splitlines()[0]
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--notify-port", type=int, default=0, help="UDP port woken on every stream record")
    p.add_argument("--ttl-sweep-interval", type=float, default=5.0)
    p.add_argument("--snapshot", type=Path, help="file the tables are saved to (none: not saved)")
    p.add_argument("--snapshot-interval", type=float, default=10.0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s.%(msecs)03d %(message)s", datefmt="%H:%M:%S")
    for key, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}.items():
        os.environ.setdefault(key, value)
    state_lock = lock_state(args.snapshot)  # before READY: the runtime restores after READY
    server = DataServer(args.host, args.port)
    if args.notify_port:
        notify = udp_notifier(args.host, args.notify_port)
        install_stream_hook(lambda: notify(STREAM_WAKE))
        install_queue_hook(lambda name: notify(QUEUE_WAKE_PREFIX + name.encode()))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def watch_parent() -> None:  # the runtime holds our stdin: its end is ours
        with contextlib.suppress(OSError):  # os.read: no buffered-reader lock held at exit
            while os.read(0, 4096):
                pass
        stop.set()

    threading.Thread(target=watch_parent, name="parent", daemon=True).start()
    snapshots = _Snapshots(server.locks, args.snapshot, args.snapshot_interval)
    log.info("%d start-up objects left out of garbage collection", freeze_startup_objects())
    sys.stdout.write("READY " + json.dumps({"url": server.url, "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    next_sweep = time.monotonic() + args.ttl_sweep_interval
    while not stop.wait(max(0.0, min(next_sweep, snapshots.next_wakeup()) - time.monotonic())):
        now = time.monotonic()
        if now >= next_sweep:
            next_sweep = now + args.ttl_sweep_interval
            for name, n in sweep_all(server.locks).items():
                log.info("ttl: deleted %d expired item(s) from %s", n, name)
        snapshots.tick()
    snapshots.final()
    log.info("index Query answers: %d served again, %d computed", QUERY_CACHE.hits, QUERY_CACHE.misses)
    server.stop()
    if state_lock is not None:
        state_lock.close()  # the next runtime on this state dir may restore now
    return 0


if __name__ == "__main__":
    sys.exit(main())
