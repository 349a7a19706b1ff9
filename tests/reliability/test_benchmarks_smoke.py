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
