"""Lambda function emulation: a pool of warm worker subprocesses per function.

Each worker is its own process with only its function's environment, so one function's
variables (and module globals, boto3 clients, caches) never leak into another's - the same
isolation Lambda's execution environments give. Workers stay warm between calls; up to
``max_workers`` run one function concurrently. A timeout kills the worker (like Lambda's
sandbox reset) and the next call starts a fresh one.

Workers are supervised: one that exits without being asked to (killed, crashed, out of memory)
is logged with its pid and what it was doing, and replaced. Mid-invocation, the call fails with
``Runtime.ExitError`` as in Lambda, so its caller's rules apply: an event source mapping retries
the stream batch or leaves the SQS message for redelivery, API Gateway answers 500. Idle, it
leaves the pool before a call can be handed to it. Either way a fresh worker is started in the
background when the pool falls below its warm count (``describe()`` and ``GET /__local/functions``
report pids, in-flight invocations and these counts).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import FunctionSpec

log = logging.getLogger("local_runtime.functions")
SATURATION_LOG_INTERVAL = 10.0
# A call that finds every worker busy sets a cold start going only once it has waited this long
# (at once if the pool has no worker at all): a shorter wait is a worker returning its previous
# result. A cold start takes 0.3-0.5 s of CPU; set going by such a near miss in a 5,000
# deliveries/s step, it held up every other process of a 2-core machine for as long (the step's
# worst comment).
GROW_AFTER_WAIT_S = 0.1
WORKER_SCRIPT = str(Path(__file__).with_name("worker.py"))
RESERVED = {
    "_HANDLER",
    "LAMBDA_TASK_ROOT",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
}


@dataclass
class InvokeResult:
    ok: bool
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None
    duration_ms: float = 0.0

    @property
    def error_text(self) -> str:
        return f"{self.error_type}: {self.error_message}"


class WorkerDied(Exception):
    pass


def exit_text(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


class Worker:
    def __init__(self, pool: FunctionPool, index: int):
        self.pool = pool
        self.index = index
        self.proc: asyncio.subprocess.Process | None = None
        self._stderr_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self.init_error: dict[str, Any] | None = None
        self.init_ms = 0.0
        self.stopping = False  # the pool asked it to go: its exit is not a fault
        self.exit_reported = False
        self.request_id: str | None = None  # the invocation in flight, if any
        self.busy_since = 0.0
        self.invocations = 0
        self.ready = False  # init done: before that, a failed start is the pool's _spawn's to handle

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def describe(self) -> dict[str, Any]:
        busy = self.request_id is not None
        return {
            "index": self.index,
            "pid": self.pid,
            "busy": busy,
            "requestId": self.request_id,
            "busyMs": round((time.monotonic() - self.busy_since) * 1000) if busy else 0,
            "invocations": self.invocations,
        }

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-u",
            WORKER_SCRIPT,
            env=self.pool.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=64 * 1024 * 1024,
            cwd=self.pool.env.get("LAMBDA_TASK_ROOT") or None,
            start_new_session=True,  # a terminal's Ctrl-C goes to the runtime, not to its workers
        )
        self._stderr_task = asyncio.create_task(self._forward_stderr())
        self._watch_task = asyncio.create_task(self._watch())
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=120)  # type: ignore[union-attr]
        if not line:
            raise WorkerDied(f"{self.pool.spec.name}: worker exited during init")
        msg = json.loads(line)
        self.ready = True
        self.init_ms = msg.get("initMs", 0.0)
        self.init_error = msg.get("initError")
        if self.init_error:
            log.error(
                "%s: init failed: %s: %s",
                self.pool.short,
                self.init_error["errorType"],
                self.init_error["errorMessage"],
            )

    async def _watch(self) -> None:
        """Tell the pool when this process exits on its own (SIGKILL, a crash)."""
        assert self.proc
        returncode = await self.proc.wait()
        if not self.stopping:
            self.pool._worker_exited(self, returncode)

    async def reap(self, timeout: float = 2.0) -> None:
        """After EOF on its pipe: wait for the exit and report it (its watcher may not have yet)."""
        if self.proc is None:
            return
        with contextlib.suppress(TimeoutError):
            returncode = await asyncio.wait_for(asyncio.shield(self.proc.wait()), timeout)
            if not self.stopping:
                self.pool._worker_exited(self, returncode)

    async def _forward_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        fn_log = logging.getLogger(f"fn.{self.pool.short}")
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                fn_log.info("%s", text[:2000])

    async def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        await self.proc.stdin.drain()
        line = await self.proc.stdout.readline()
        if not line:
            raise WorkerDied("Runtime exited without providing a reason")
        return json.loads(line)

    async def kill(self) -> None:
        self.stopping = True
        if self.proc and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), timeout=5)
        if self._stderr_task:
            try:
                await asyncio.wait_for(self._stderr_task, timeout=1)
            except (TimeoutError, asyncio.CancelledError):
                self._stderr_task.cancel()

    async def stop(self) -> None:
        self.stopping = True
        if self.proc and self.proc.returncode is None and self.proc.stdin:
            try:
                self.proc.stdin.close()
                await asyncio.wait_for(self.proc.wait(), timeout=0.3)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                pass
        await self.kill()


class FunctionPool:
    """Up to ``max_workers`` warm workers of one function.

    A call takes an idle worker, or waits in line. A call that waits longer than
    GROW_AFTER_WAIT_S also sets a cold start going in the background (one at a time per function,
    so the pool grows with the load) and is served by whichever comes first, a busy worker coming
    free or the new one: a call
    that came while the only worker was returning its previous result had waited out a whole
    cold start (0.4-0.7 s on a quiet 2-core machine, 4 s on a busy one). A worker coming free
    goes straight to the longest waiting call: with a thousand ``$disconnect``s queued, waking
    every waiter on every release cost the runtime a sixth of its time, and waking one at random
    let calls overtake each other.
    """

    def __init__(self, spec: FunctionSpec, env: dict[str, str], max_workers: int = 4):
        self.spec = spec
        self.env = env
        self.short = spec.logical_id[:28]
        self.max_workers = max(1, max_workers)
        self._idle: list[Worker] = []
        self._all: set[Worker] = set()
        self._count = 0
        self._seq = 0
        self._starting = 0
        self._closed = False
        # Calls waiting for a worker, oldest first, with when each began to wait (monotonic); each
        # future gets a Worker, or None: "look again".
        self._waiters: collections.deque[tuple[asyncio.Future[Worker | None], float]] = collections.deque()
        self._grow_timer: asyncio.TimerHandle | None = None  # the wait after which the pool grows
        self._waits = 0  # calls that waited since the last saturation line
        self._most_waiting = 0
        self._saturation_logged = -SATURATION_LOG_INTERVAL
        self.warm_target = 0  # workers kept started ahead of calls (warm()); refilled after a fault
        self.exited = 0  # workers that exited without being asked to
        self.replaced = 0  # workers started to replace them
        self._refill_task: asyncio.Task[None] | None = None
        self._growing: asyncio.Task[None] | None = None  # the cold start started for waiting calls

    @property
    def worker_count(self) -> int:
        """Workers running or starting."""
        return self._count

    async def _spawn(self) -> Worker:
        self._seq += 1
        w = Worker(self, self._seq)
        self._all.add(w)
        try:
            await w.start()
        except BaseException:
            self._all.discard(w)
            await asyncio.shield(w.kill())
            raise
        return w

    async def warm(self, workers: int = 1) -> None:
        """Have ``workers`` idle workers ahead of the first calls (Lambda's init phase done early;
        more than one is what provisioned concurrency gives), started one after another."""
        self.warm_target = max(self.warm_target, min(workers, self.max_workers))
        for _ in range(workers):
            if self._count >= min(workers, self.max_workers) or self._starting:
                return
            self._count += 1
            self._starting += 1
            w = await self._spawn_reserved()
            self._hand_over(w)

    async def _spawn_reserved(self) -> Worker:
        """Start a worker for a slot already counted in ``_count`` and ``_starting``; give the slot
        back if it fails to start."""
        try:
            w = await self._spawn()
        except BaseException:
            self._count -= 1
            self._starting -= 1
            if self._waiters:
                self._grow()  # the next waiting call's own attempt
            raise
        self._starting -= 1
        return w

    def _grow(self) -> None:
        """Start one cold start in the background, unless one is under way or the pool is full;
        its worker goes to the longest waiting call (or stays idle if none waits any more). A full
        pool with calls still waiting is saturated: say so, as for a call that waits on a full pool
        (those that began waiting while it was still growing would otherwise never be logged)."""
        if self._closed or self._starting:
            return
        if self._count >= self.max_workers:
            if self._waiters:
                self._note_saturation()
            return
        self._count += 1
        self._starting += 1
        self._growing = asyncio.get_running_loop().create_task(self._start_for_waiters())

    def _grow_for_waiters(self) -> None:
        """Grow once the oldest waiting call has waited GROW_AFTER_WAIT_S (at once if no worker
        runs or starts); until then a busy worker coming free is expected to serve it."""
        if self._count == 0:
            self._grow()
            return
        if self._grow_timer is not None:
            return
        since = next((t for waiter, t in self._waiters if not waiter.done()), None)
        if since is None:
            return
        delay = since + GROW_AFTER_WAIT_S - time.monotonic()
        if delay <= 0:
            self._grow()
        else:
            self._grow_timer = asyncio.get_running_loop().call_later(delay, self._grow_timer_fired)

    def _grow_timer_fired(self) -> None:
        self._grow_timer = None
        self._grow_for_waiters()

    async def _start_for_waiters(self) -> None:
        try:
            w = await self._spawn_reserved()
        except Exception as exc:  # noqa: BLE001 - the call it was for gets the error
            self._fail_oldest(exc)  # as if that call had started the worker itself
            return
        self._hand_over(w)

    def _fail_oldest(self, exc: Exception) -> None:
        while self._waiters:
            waiter, _since = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(exc)
                return

    def _wake_one(self, worker: Worker | None = None) -> bool:
        """Give ``worker`` (or a "look again") to the oldest waiting call; False if none waits."""
        while self._waiters:
            waiter, _since = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return True
        return False

    def _hand_over(self, w: Worker) -> None:
        if not self._wake_one(w):
            self._idle.append(w)
        elif self._waiters:
            self._grow_for_waiters()  # a backlog: the pool grows, one cold start at a time

    async def _acquire(self) -> Worker:
        waited = False
        while True:
            if self._closed:
                raise WorkerDied("runtime is shutting down")
            if self._idle:
                w = self._idle.pop()
                if w.alive:
                    return w
                await self._discard(w)  # died since it came free; its watcher may not have run yet
                continue
            worker = await self._wait_for_worker(first=not waited)
            waited = True
            if worker is not None:
                return worker

    async def _wait_for_worker(self, first: bool) -> Worker | None:
        """Wait in line for a worker; when the pool is at its bound, say so in the log, at most
        every 10 s. ``first``: this call's first wait (each call counts once, however often it
        looks again)."""
        waiter: asyncio.Future[Worker | None] = asyncio.get_running_loop().create_future()
        self._waiters.append((waiter, time.monotonic()))
        self._waits += first
        self._most_waiting = max(self._most_waiting, len(self._waiters))
        self._grow_for_waiters()
        if self._count >= self.max_workers:
            self._note_saturation()
        try:
            return await waiter
        except asyncio.CancelledError:
            handed = waiter.done() and not waiter.cancelled() and waiter.exception() is None
            if handed:  # handed a worker (or a "look again") just before the cancel
                given = waiter.result()
                if given is not None:
                    self._hand_over(given)
                else:
                    self._wake_one()
            raise

    def _note_saturation(self) -> None:
        now = time.monotonic()
        if now - self._saturation_logged >= SATURATION_LOG_INTERVAL:
            log.warning(
                "%s: all %d workers busy: %d call(s) waited for one since the last such line, "
                "at most %d at once (raise --workers-per-function for more)",
                self.short,
                self.max_workers,
                self._waits,
                self._most_waiting,
            )
            self._saturation_logged, self._waits, self._most_waiting = now, 0, 0

    def _release(self, w: Worker) -> None:
        self._hand_over(w)

    async def _discard(self, w: Worker) -> None:
        self._forget(w)
        await w.kill()

    def _forget(self, w: Worker) -> None:
        """Take ``w`` out of the pool (once, whoever notices first: its watcher or its caller)."""
        if w not in self._all:
            return
        self._all.discard(w)
        with contextlib.suppress(ValueError):
            self._idle.remove(w)
        self._count -= 1
        if self._waiters:
            self._grow()  # the replacement, for the waiting calls

    def _worker_exited(self, w: Worker, returncode: int) -> None:
        """A worker's process exited without the pool asking (its watcher calls this)."""
        if w not in self._all or w.exit_reported or not w.ready:
            return  # (an exit during init: _spawn gives the slot back, once)
        w.exit_reported = True
        self.exited += 1
        if w.request_id is not None:
            log.warning(
                "%s: worker %d (pid %s) %s during invocation %s (%.0f ms in); the call fails with "
                "Runtime.ExitError and its caller's retry rules apply; replacing the worker",
                self.short,
                w.index,
                w.pid,
                exit_text(returncode),
                w.request_id,
                (time.monotonic() - w.busy_since) * 1000,
            )
            # Its caller sees EOF on the pipe and discards it; the replacement starts from there.
        else:
            log.warning(
                "%s: worker %d (pid %s) %s while idle; replacing it",
                self.short,
                w.index,
                w.pid,
                exit_text(returncode),
            )
            self._forget(w)
            self._refill()

    def _refill(self) -> None:
        """Back up to the warm count, in the background (Lambda starts a fresh environment)."""
        if self._closed or self._count >= self.warm_target:
            return
        if self._refill_task is None or self._refill_task.done():
            self._refill_task = asyncio.get_running_loop().create_task(self._refill_now())

    async def _refill_now(self) -> None:
        while not self._closed and self._count < self.warm_target and not self._starting:
            self._count += 1
            self._starting += 1
            started = time.perf_counter()
            try:
                w = await self._spawn_reserved()
            except Exception as exc:  # noqa: BLE001 - the next call tries again
                log.error("%s: could not start a replacement worker: %s", self.short, exc)
                return
            self.replaced += 1
            log.info(
                "%s: worker %d (pid %s) started as a replacement (%.0f ms)",
                self.short,
                w.index,
                w.pid,
                (time.perf_counter() - started) * 1000,
            )
            self._hand_over(w)

    def describe(self) -> dict[str, Any]:
        """Workers (pid, in-flight invocation) and fault counts, for GET /__local/functions."""
        return {
            "name": self.spec.name,
            "maxWorkers": self.max_workers,
            "warmTarget": self.warm_target,
            "workers": [w.describe() for w in sorted(self._all, key=lambda w: w.index)],
            "exited": self.exited,
            "replaced": self.replaced,
        }

    async def invoke(self, event: Any, timeout: float | None = None) -> InvokeResult:
        started = time.perf_counter()
        limit = self.spec.timeout if timeout is None else min(timeout, self.spec.timeout)
        request_id = str(uuid.uuid4())
        try:
            w = await self._acquire()
        except Exception as exc:  # noqa: BLE001
            return InvokeResult(False, error_type="Runtime.Unavailable", error_message=str(exc))
        broken = False
        w.request_id, w.busy_since = request_id, time.monotonic()
        w.invocations += 1
        try:
            req = {
                "id": request_id,
                "requestId": request_id,
                "event": event,
                "deadlineMs": time.time() * 1000 + limit * 1000,
                "traceId": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
            }
            try:
                # A deadline on this task, not wait_for's extra task per invocation.
                async with asyncio.timeout(limit):
                    resp = await w.invoke(req)
            except TimeoutError:
                broken = True
                log.error("%s: Task timed out after %.2f seconds", self.short, limit)
                return InvokeResult(
                    False,
                    error_type="Sandbox.Timedout",
                    error_message=f"Task timed out after {limit:.2f} seconds",
                    duration_ms=(time.perf_counter() - started) * 1000,
                )
            except (WorkerDied, BrokenPipeError, ConnectionResetError) as exc:
                broken = True
                await w.reap()  # report the exit with this invocation's id before it is cleared
                return InvokeResult(
                    False,
                    error_type="Runtime.ExitError",
                    error_message=str(exc),
                    duration_ms=(time.perf_counter() - started) * 1000,
                )
            dur = (time.perf_counter() - started) * 1000
            if resp.get("ok"):
                return InvokeResult(True, result=resp.get("result"), duration_ms=dur)
            stack = "".join(resp.get("stackTrace") or []).rstrip()
            log.error("%s: %s: %s\n%s", self.short, resp.get("errorType"), resp.get("errorMessage"), stack)
            return InvokeResult(
                False,
                error_type=resp.get("errorType"),
                error_message=resp.get("errorMessage"),
                duration_ms=dur,
            )
        finally:
            w.request_id = None
            if broken:
                await self._discard(w)
                self._refill()
            else:
                self._release(w)

    async def close(self) -> None:
        self._closed = True
        if self._grow_timer is not None:
            self._grow_timer.cancel()
        for task in (self._refill_task, self._growing):
            if task is not None:
                task.cancel()
        while self._wake_one():
            pass
        await asyncio.gather(*(w.stop() for w in list(self._all)), return_exceptions=True)


def build_env(
    spec: FunctionSpec, code_dir: Path, moto_url: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The complete environment of a function's worker (nothing inherited but PATH/locale)."""
    env: dict[str, str] = {}
    for key in ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "SYSTEMROOT"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(
        {
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": str(code_dir),
            "_HANDLER": spec.handler,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{uuid.uuid4().hex}",
            "LOCAL_FUNCTION_ARN": spec.arn,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_ENDPOINT_URL_DYNAMODB": moto_url,
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": moto_url,
            "AWS_ENDPOINT_URL_DYNAMODBSTREAMS": moto_url,
            "AWS_ENDPOINT_URL_SQS": moto_url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    for k, v in spec.environment.items():
        if k not in RESERVED:
            env[k] = v
    if extra:
        env.update(extra)
    return env


class Functions:
    """All function pools of the app, by logical id."""

    def __init__(self) -> None:
        self.pools: dict[str, FunctionPool] = {}

    def add(self, pool: FunctionPool) -> None:
        self.pools[pool.spec.logical_id] = pool

    async def warm_all(self, workers: int = 1) -> None:
        results = await asyncio.gather(
            *(p.warm(workers) for p in self.pools.values()), return_exceptions=True
        )
        for pool, res in zip(self.pools.values(), results, strict=True):
            if isinstance(res, BaseException):
                log.error("%s: could not start a worker: %s", pool.short, res)

    async def invoke(self, logical_id: str, event: Any, timeout: float | None = None) -> InvokeResult:
        pool = self.pools.get(logical_id)
        if pool is None:
            return InvokeResult(
                False,
                error_type="ResourceNotFoundException",
                error_message=f"function {logical_id} is not running locally",
            )
        return await pool.invoke(event, timeout)

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in self.pools.values()), return_exceptions=True)
