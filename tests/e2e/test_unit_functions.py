"""Unit tests of one function pool and its worker processes (no runtime, no sockets): the Lambda
context a handler gets, its output reaching the runtime's log, errors with their stack trace, the
timeout that replaces the worker, and how the pool serves calls while it grows."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from local_runtime.functions import GROW_AFTER_WAIT_S, FunctionPool, build_env
from local_runtime.model import FunctionSpec

CODE = """
import time
def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("raise"):
        raise ValueError("bad " + event["raise"])
    print("handled", event.get("n"))
    return {
        "requestId": context.aws_request_id,
        "name": context.function_name,
        "version": context.function_version,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "group": context.log_group_name,
        "stream": context.log_stream_name,
        "left": context.get_remaining_time_in_millis(),
    }
"""


# Every worker after the first takes 10 s to start (its init phase): a call served by a new worker
# is one that waited for a cold start.
SLOW_COLD_STARTS = """
import os, time
MARK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "first-worker-started")
if os.path.exists(MARK):
    time.sleep(10)
open(MARK, "a").close()
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid()}
"""

CANNOT_START = "import os\nos._exit(3)\n"


def _pool(tmp_path: Path, code: str = CODE, max_workers: int = 1) -> FunctionPool:
    (tmp_path / "index.py").write_text(code)
    spec = FunctionSpec(
        logical_id="Probe",
        name="RealtimeComments-dev-Probe",
        handler="index.handler",
        runtime="python3.14",
        code_dir=tmp_path,
        inline_code=None,
        timeout=2,
        memory=256,
        environment={},
        layers=[],
    )
    return FunctionPool(spec, build_env(spec, tmp_path, "http://127.0.0.1:9"), max_workers=max_workers)


def _run(scenario: Any) -> Any:
    return asyncio.run(asyncio.wait_for(scenario, 60))


def test_each_invocation_gets_its_own_request_id_and_the_functions_context(tmp_path: Path) -> None:
    pool = _pool(tmp_path)

    async def scenario() -> list[Any]:
        try:
            return [await pool.invoke({"n": i}) for i in range(3)]
        finally:
            await pool.close()

    results = _run(scenario())
    assert all(r.ok for r in results)
    first = results[0].result
    assert first["name"] == "RealtimeComments-dev-Probe" and first["version"] == "$LATEST"
    assert first["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:RealtimeComments-dev-Probe"
    assert first["memory"] == 256 and first["group"] == "/aws/lambda/RealtimeComments-dev-Probe"
    assert first["stream"].startswith("local/[$LATEST]")
    assert 0 < first["left"] <= 2000
    assert len({r.result["requestId"] for r in results}) == 3  # one worker, three invocations


def test_output_and_errors_reach_the_log_and_a_timeout_replaces_the_worker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pool = _pool(tmp_path)
    caplog.set_level(logging.INFO)

    async def scenario() -> tuple[Any, ...]:
        try:
            ok = await pool.invoke({"n": 41})
            failed = await pool.invoke({"raise": "input"})
            pid = next(iter(pool._all)).pid
            timed_out = await pool.invoke({"sleep": 5}, timeout=0.5)
            again = await pool.invoke({"n": 42})
            await asyncio.sleep(0)  # the stderr forwarder's last line
            return ok, failed, timed_out, again, pid, next(iter(pool._all)).pid
        finally:
            await pool.close()

    ok, failed, timed_out, again, pid_before, pid_after = _run(scenario())
    assert ok.ok and again.ok
    assert not failed.ok and (failed.error_type, failed.error_message) == ("ValueError", "bad input")
    assert timed_out.error_type == "Sandbox.Timedout" and "0.50 seconds" in timed_out.error_message
    assert pid_after != pid_before  # the timed-out worker was killed, a fresh one served
    log = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert "fn.Probe handled 41" in log
    # The handler's own frames, as Lambda prints them, not the worker's.
    assert 'Probe: ValueError: bad input\nTraceback (most recent call last):\n  File "' in log
    assert 'index.py", line 7, in handler' in log and "worker.py" not in log
    assert "Probe: Task timed out after 0.50 seconds" in log


def test_a_call_that_finds_every_worker_busy_takes_the_first_to_come_free(tmp_path: Path) -> None:
    pool = _pool(tmp_path, SLOW_COLD_STARTS, max_workers=2)

    async def scenario() -> tuple[Any, Any, int]:
        try:
            await pool.warm(1)
            busy = asyncio.create_task(pool.invoke({"sleep": 0.5}))
            while not any(w.request_id for w in pool._all):
                await asyncio.sleep(0.01)
            waiting = await pool.invoke({})
            return await busy, waiting, pool.worker_count
        finally:
            await pool.close()

    busy, waiting, workers = _run(scenario())
    assert busy.ok and waiting.ok
    # Served by the busy worker once it came free, not by the cold start it set going...
    assert waiting.result["pid"] == busy.result["pid"]
    assert workers == 2  # ...which still goes on: the pool grows under load


def test_a_call_that_waits_only_briefly_sets_no_cold_start_going(tmp_path: Path) -> None:
    pool = _pool(tmp_path, SLOW_COLD_STARTS, max_workers=2)

    async def scenario() -> tuple[Any, Any, int]:
        try:
            await pool.warm(1)
            busy = asyncio.create_task(pool.invoke({"sleep": GROW_AFTER_WAIT_S / 4}))
            while not any(w.request_id for w in pool._all):
                await asyncio.sleep(0.001)
            waiting = await pool.invoke({})
            await asyncio.sleep(GROW_AFTER_WAIT_S * 2)  # past the wait after which it would grow
            return await busy, waiting, pool.worker_count
        finally:
            await pool.close()

    busy, waiting, workers = _run(scenario())
    assert busy.ok and waiting.ok and waiting.result["pid"] == busy.result["pid"]
    assert workers == 1


def test_a_worker_that_cannot_start_fails_the_calls_waiting_for_it(tmp_path: Path) -> None:
    pool = _pool(tmp_path, CANNOT_START, max_workers=2)

    async def scenario() -> list[Any]:
        try:
            return list(await asyncio.gather(*(pool.invoke({"n": i}) for i in range(3))))
        finally:
            await pool.close()

    results = _run(scenario())
    assert [r.error_type for r in results] == ["Runtime.Unavailable"] * 3
    assert all("worker exited during init" in r.error_message for r in results)
    assert pool.worker_count == 0
