"""The whole local runtime restarted while comments are being written, with real clients.

The runtime is stopped in the middle of a stream of POSTs and started again on the same ports
from the same state dir (no ``--fresh``), two ways: SIGTERM (every socket closed with 1001, each
``$disconnect`` run, the snapshot written) and SIGKILL (sockets reset, no ``$disconnect``; the data
process sees its stdin close and writes the final snapshot, and the new runtime's data process
waits for it on the state dir's lock). Clients behave as the frontend does: they reconnect, and
subscribe again with ``since`` = the highest ``seq`` they hold; the writer retries a POST that got
no answer with the same ``Idempotency-Key``. Every comment that was committed (answered 201)
reaches every client, each once after dedupe by id, and the REST list after the restart holds
exactly those.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from local_runtime.process import RuntimeProcess
from tests.e2e.client import local_info, token

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(300)]

CLIENTS = 3
COMMENTS = 30
RESTART_AFTER = 12  # committed comments before the restart begins
WRITERS = 2  # users taking turns, to stay well inside the per-user write limit (5/s)
WRITE_GAP_S = 0.15


class ReconnectingClient:
    """A subscriber that reconnects and catches up with ``since``, as the frontend's store does."""

    def __init__(self, session: aiohttp.ClientSession, ws_url: str, tok: str, post_id: str) -> None:
        self.session, self.url, self.post_id = session, f"{ws_url}?token={tok}", post_id
        self.ids: list[str] = []  # every comment id received, live or listed, duplicates kept
        self.max_seq = 0
        self.connections = 0
        self.since_sent: list[int | None] = []
        self.has_more = False
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    def _take(self, comment: dict[str, Any]) -> None:
        self.ids.append(comment["id"])
        self.max_seq = max(self.max_seq, int(comment["seq"]))

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                timeout = aiohttp.ClientWSTimeout(ws_close=5)
                async with self.session.ws_connect(self.url, timeout=timeout) as ws:
                    self.connections += 1
                    since = self.max_seq or None
                    frame: dict[str, Any] = {"action": "subscribe", "postId": self.post_id}
                    if since is not None:
                        frame["since"] = since
                    self.since_sent.append(since)
                    await ws.send_str(json.dumps(frame))
                    async for msg in ws:
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            continue
                        data = json.loads(msg.data)
                        body = data.get("data") or {}
                        kind = data.get("type")
                        if kind == "comment.created" and body["comment"]["postId"] == self.post_id:
                            self._take(body["comment"])
                        elif kind == "comments.list" and body.get("postId") == self.post_id:
                            self.has_more = self.has_more or bool(body.get("hasMore"))
                            for comment in body["comments"]:
                                self._take(comment)
                        if self._stop.is_set():
                            return
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass
            # Reconnect as the frontend does, soon (the runtime is coming back on the same port).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=0.2)

    async def close(self) -> None:
        self._stop.set()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def _post_until_committed(
    session: aiohttp.ClientSession, api: str, tok: str, post_id: str, content: str, deadline: float
) -> tuple[dict[str, Any], int]:
    """POST with one Idempotency-Key until a 201 (the runtime may be down or shutting down);
    the comment and how many attempts it took."""
    key = str(uuid.uuid4())
    attempts = 0
    while True:
        attempts += 1
        try:
            async with session.post(
                f"{api}/api/v1/posts/{post_id}/comments",
                json={"content": content},
                headers={"Authorization": f"Bearer {tok}", "Idempotency-Key": key},
                timeout=aiohttp.ClientTimeout(total=15),
            ) as response:
                if response.status == 201:
                    return await response.json(), attempts
                # 5xx while stopping, 409 while an interrupted attempt's record is in progress,
                # 429 if the retries outran the write limit: all worth another try.
                assert response.status in (409, 429, 500, 502, 503), (response.status, await response.text())
        except (aiohttp.ClientError, OSError, TimeoutError):
            pass
        assert time.monotonic() < deadline, f"{content!r} not committed in time"
        await asyncio.sleep(0.2)


def _ports(urls: dict[str, str]) -> list[str]:
    ws, api = urlsplit(urls["websocketUrl"]).port, urlsplit(urls["apiUrl"]).port
    return ["--ws-port", str(ws), "--api-port", str(api)]


async def _scenario(state: Path, cdk_out: Path, how: str) -> dict[str, Any]:
    first = RuntimeProcess(state, cdk_out, fresh=True, extra=["--wait-warm"])
    await asyncio.to_thread(first.start, 180)
    urls = first.urls
    api = urls["apiUrl"].rstrip("/")
    second: RuntimeProcess | None = None
    post_id = f"restart-{uuid.uuid4().hex[:8]}"
    timings: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession() as session:
            writers = [await token(session, urls, f"restart-writer-{i}") for i in range(WRITERS)]
            readers = [await token(session, urls, f"restart-reader-{i}") for i in range(CLIENTS)]
            clients = [ReconnectingClient(session, urls["websocketUrl"], tok, post_id) for tok in readers]
            deadline = time.monotonic() + 30
            while not all(c.connections for c in clients):
                assert time.monotonic() < deadline, "clients did not connect"
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # let the first subscribe land before the first comment
            committed: list[dict[str, Any]] = []
            retried = 0
            restart_begun = asyncio.Event()

            async def restart() -> RuntimeProcess:
                await restart_begun.wait()
                started = time.monotonic()
                if how == "kill":
                    assert first.proc is not None
                    first.proc.kill()
                    await asyncio.to_thread(first.proc.wait, 30)
                await asyncio.to_thread(first.stop)
                timings["stop"] = time.monotonic() - started
                runtime = RuntimeProcess(state, cdk_out, fresh=False, extra=["--wait-warm", *_ports(urls)])
                await asyncio.to_thread(runtime.start, 180)
                timings["down"] = time.monotonic() - started
                return runtime

            restarting = asyncio.create_task(restart())
            write_deadline = time.monotonic() + 240
            for i in range(COMMENTS):
                comment, attempts = await _post_until_committed(
                    session, api, writers[i % WRITERS], post_id, f"comment {i}", write_deadline
                )
                committed.append(comment)
                retried += attempts > 1
                if len(committed) == RESTART_AFTER:
                    restart_begun.set()
                await asyncio.sleep(WRITE_GAP_S)
            second = await restarting
            ids = {c["id"] for c in committed}
            # Wait on the backlog: every client holds every committed id (the deadline grows with it).
            wait_deadline = time.monotonic() + 30 + 0.5 * len(ids)
            while not all(ids <= set(c.ids) for c in clients):
                if time.monotonic() > wait_deadline:
                    break
                await asyncio.sleep(0.05)
            # The connection count the runtime reports: the reconnected clients, and no orphan item
            # of a connection whose $disconnect the shutdown cut short (restored by the snapshot).
            count_deadline = time.monotonic() + 15
            while True:
                async with session.get(f"{api}/api/v1/websocket/connections") as response:
                    count = (await response.json())["count"]
                if count == CLIENTS or time.monotonic() > count_deadline:
                    break
                await asyncio.sleep(0.1)
            received = [list(c.ids) for c in clients]
            connections = [c.connections for c in clients]
            since_sent = [list(c.since_sent) for c in clients]
            has_more = [c.has_more for c in clients]
            for client in clients:
                await client.close()
            async with session.get(f"{api}/api/v1/posts/{post_id}/comments") as response:
                listed = [c["id"] for c in (await response.json())["comments"]]
            info = await local_info(session, urls)
    finally:
        await asyncio.to_thread(first.stop)
        if second is not None:
            await asyncio.to_thread(second.stop)
    log = (state / "runtime.log").read_text()
    return {
        "committed": [c["id"] for c in committed],
        "seqs": [c["seq"] for c in committed],
        "received": received,
        "connections": connections,
        "since_sent": since_sent,
        "has_more": has_more,
        "listed": listed,
        "count": count,
        "retried": retried,
        "timings": timings,
        "info": info,
        "log": log,
    }


@pytest.fixture(scope="module", params=["terminate", "kill"])
def restart_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from local_runtime.process import synthesize

    root = Path(__file__).resolve().parents[2]
    if not (root / "local_runtime" / "__main__.py").exists():
        pytest.skip("not run: local_runtime is not present")
    given = os.environ.get("E2E_CDK_OUT")
    work = tmp_path_factory.mktemp("restart-runtime")
    cdk_out = Path(given).resolve() if given else work / "cdk.out"
    if not given:
        synthesize(cdk_out)
    run = asyncio.run(_scenario(work / "state", cdk_out, request.param))
    run["how"] = request.param
    return run


def test_the_snapshot_is_restored_on_restart(restart_run: dict[str, Any]) -> None:
    restored = [line for line in restart_run["log"].splitlines() if "item(s) restored" in line]
    assert len(restored) == 2, restored  # the fresh start, then the restart
    assert "0 item(s) restored (--fresh)" in restored[0]
    assert " 0 item(s) restored" not in restored[1], restored[1]
    # Committed before the restart, listed after it: the snapshot carried them over.
    assert restart_run["listed"] == restart_run["committed"]
    assert restart_run["seqs"] == list(range(1, len(restart_run["seqs"]) + 1))


def test_shutdown_runs_every_disconnect_before_the_snapshot(restart_run: dict[str, Any]) -> None:
    if restart_run["how"] == "kill":
        pytest.skip("a killed runtime runs no $disconnect: its items stay until a 410 or their TTL")
    failed = [line for line in restart_run["log"].splitlines() if "$disconnect" in line and "error" in line]
    assert failed == []
    assert restart_run["count"] == CLIENTS


def test_clients_reconnect_with_since_and_get_every_committed_comment(restart_run: dict[str, Any]) -> None:
    committed = set(restart_run["committed"])
    assert len(committed) == COMMENTS
    assert restart_run["retried"] >= 1, "the writer met the restart (a POST answered late or not at all)"
    for received, connections, since in zip(
        restart_run["received"], restart_run["connections"], restart_run["since_sent"], strict=True
    ):
        assert connections >= 2, "every client saw the restart and reconnected"
        assert since[0] is None and any(s for s in since[1:]), since  # the catch-up asked `since`
        assert set(received) == committed, sorted(committed - set(received))
    assert not any(restart_run["has_more"]), "the catch-up fit in one list"
