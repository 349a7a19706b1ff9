"""A fan-out worker SIGKILLed mid-invocation, through the local runtime, on the SQS path.

The runtime runs with ``FANOUT_INLINE_LIMIT=1`` (a local override of the template's variable), so
the stream broadcaster enqueues every audience of more than one subscriber on the fan-out queue
and the fan-out worker delivers it. Its worker is killed while one of its @connections POSTs is
held: the invocation fails with Runtime.ExitError, the SQS mapping deletes nothing, and the message
comes back after the queue's visibility timeout (shortened for the test, as the runtime's idle
timeouts are: 360 s in the template) to a fresh worker. Every committed comment reaches every
client, and nothing goes to the fan-out dead-letter queue (maxReceiveCount 3).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.client import data_client

from .worker_kill import AFTER, BEFORE, kill_scenario

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(240)]

VISIBILITY_TIMEOUT_S = 2


def _queue(info: dict[str, Any], dead_letter: bool) -> str:
    urls = [
        url
        for lid, url in info["queues"].items()
        if lid.startswith("BroadcasterFanout") and ("DeadLetter" in lid) == dead_letter
    ]
    assert len(urls) == 1, info["queues"]
    return urls[0]


def _shorten_visibility(info: dict[str, Any]) -> None:
    data_client(info, "sqs").set_queue_attributes(
        QueueUrl=_queue(info, dead_letter=False),
        Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT_S)},
    )


@pytest.fixture(scope="module")
def fanout_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    import os

    from local_runtime.process import RuntimeProcess, synthesize

    given = os.environ.get("E2E_CDK_OUT")
    work = tmp_path_factory.mktemp("fanout-kill-runtime")
    cdk_out = Path(given).resolve() if given else work / "cdk.out"
    if not given:
        synthesize(cdk_out)
    runtime = RuntimeProcess(
        work / "state", cdk_out, fresh=True, extra=["--wait-warm", "--env", "FANOUT_INLINE_LIMIT=1"]
    )
    runtime.start(timeout=180)
    try:
        yield runtime.urls
    finally:
        runtime.stop()


@pytest.fixture(scope="module")
def fanout_kill_run(fanout_urls: dict[str, str]) -> dict[str, Any]:
    run = asyncio.run(kill_scenario(fanout_urls, "sqs", prepare=_shorten_visibility))
    sqs = data_client(run["info"], "sqs")
    run["dead_letters"] = sqs.receive_message(
        QueueUrl=_queue(run["info"], dead_letter=True), MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages", [])
    return run


def test_killed_fanout_worker_is_replaced_and_its_message_redelivered(
    fanout_kill_run: dict[str, Any],
) -> None:
    pool = fanout_kill_run["pool_after"]
    assert pool["exited"] == 1, pool
    pids = [w["pid"] for w in pool["workers"]]
    assert pids and fanout_kill_run["victim"]["pid"] not in pids, pool
    before, after = fanout_kill_run["stats_before"], fanout_kill_run["stats_after"]
    assert after["errors"] == before["errors"] + 1, (before, after)  # the killed invocation
    # Every fan-out message was delivered in the end (the redelivered one included), none dead.
    assert after["records"] >= before["records"] + 1 + AFTER, (before, after)
    assert fanout_kill_run["dead_letters"] == []


def test_no_comment_is_lost_when_the_fanout_worker_dies(fanout_kill_run: dict[str, Any]) -> None:
    committed = fanout_kill_run["committed"]
    assert len(set(committed)) == BEFORE + 1 + AFTER
    for ids in fanout_kill_run["received"]:
        assert set(ids) == set(committed), ids
        duplicates = {i for i in ids if ids.count(i) > 1}
        assert duplicates <= {fanout_kill_run["interrupted"]}, duplicates
    assert fanout_kill_run["listed"] == committed
