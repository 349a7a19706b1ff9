"""The benchmark code keeps working: ``python -m benchmarks --quick`` delivers exactly once.

It asserts deliveries (every recipient counted exactly once by the sink), never timings: speed
figures live in the benchmark table, not in tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_benchmark_delivers_exactly_once(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    proc = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "fanout,sqs_fanout", "--output", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    rows = results["rows"]
    measured = [
        r
        for r in rows
        if r["check"] and r["check"] != "extrapolated" and not r["check"].startswith("not run")
    ]
    assert measured, rows
    for row in measured:
        assert "exactly once" in row["check"], row
    runs = results["fanout"]["runs"] + results["sqs_fanout"]["runs"]
    assert runs
    for run in runs:
        assert run["check"]["ok"] == 1, run
        assert run["check"]["missing"] == 0 and run["check"]["duplicated"] == 0, run
    # The table was printed.
    assert "exactly once" in proc.stdout


def _run_module(
    args: list[str], tmp_path: Path, timeout: float, *, without_java: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    # No DynamoDB Local here: CI must not depend on a JVM download (the cache folder is empty).
    env["DYNAMODB_LOCAL_DIR"] = str(tmp_path / "no-dynamodb-local")
    if without_java:
        env["PATH"] = os.path.dirname(sys.executable)  # the venv's bin: no java, no npm
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_dynamodb_local_harness_runs_the_real_operations_against_moto(tmp_path: Path) -> None:
    """The DynamoDB back-end harness, moto alone: the template's tables, every operation run
    through the handlers (a 4xx, a Query missing ids or an empty GetRecords would fail it)."""
    out = tmp_path / "ddbl.json"
    proc = _run_module(
        ["benchmarks.dynamodb_local", "--quick", "--backends", "moto", "--output", str(out)], tmp_path, 240
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    moto = json.loads(out.read_text())["moto"]
    ops = {op["op"]: op for op in moto["ops"]}
    assert {
        "connect (ws_connect)",
        "subscribe (ws_actions)",
        "comment create (comments_api POST)",
        "stream GetRecords (1 new record)",
        "$disconnect (ws_disconnect)",
        "subscribers Query, 1,000 (GSI byPost)",
    } <= set(ops)
    for op in ops.values():
        assert op["count"] >= 1 and op["p50_ms"] > 0 and op["server_cpu_ms_per_op"] >= 0, op
    assert moto["startup_s"] > 0 and moto["rss_mb_end"] > 0
    assert "moto (data process) p50" in proc.stdout


@pytest.mark.slow
def test_cost_falls_back_to_moto_units_and_says_so(tmp_path: Path) -> None:
    """Where DynamoDB Local cannot run (no java on PATH), ``--store auto`` still prints the cost
    table, its units labelled as moto's fixed ones with the reason."""
    out = tmp_path / "cost.json"
    proc = _run_module(
        ["benchmarks.cost", "--store", "auto", "--repeats", "1", "--output", str(out)],
        tmp_path,
        240,
        without_java=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    raw = json.loads(out.read_text())
    assert raw["dynamodb_units"].startswith("moto's fixed units"), raw["dynamodb_units"]
    assert "java not found" in raw["dynamodb_units"]
    assert "moto's fixed units" in proc.stdout
    assert raw["operations"]["connect"]["write_units"] > 0
    assert "notification" not in raw["operations"]  # its table exists only with the template's tables


@pytest.mark.slow
def test_quick_presence_benchmark_answers_every_action_and_settles_everywhere(tmp_path: Path) -> None:
    """`--quick --only presence` (200 steady clients, 20 subscribes/s for 2 s through the local
    runtime, then the metered calls): every subscribe and unsubscribe is answered, every steady
    client ends with the final count, and the metered work has no count by Query or Scan."""
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    proc = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "presence", "--output", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())["presence"]
    churn, work = result["churn"], result["work"]
    assert churn["start_count"] == churn["subscribers"] == churn["final_viewers"] == 200
    assert churn["subscribes_sent"] == churn["subscribes_answered"] == churn["unsubscribes_answered"] == 40
    assert churn["errors"] == []
    assert churn["clients_with_final"] == churn["subscribers"]
    assert churn["presence_messages"] >= 1
    assert work["final_viewers"] == 200  # the metered churners all left again
    assert set(work["per_subscribe"]["calls"]) == {"PutItem", "UpdateItem", "Query"}  # Query: comments.list
    assert set(work["per_unsubscribe"]["calls"]) == {"DeleteItem", "UpdateItem"}
    assert work["per_flush"]["calls"] == {"Query": 1, "UpdateItem": 1}
