"""This checkout's wheel, built the way `pip install <repo>` builds it.

`pip wheel` writes build/ and *.egg-info into the checkout itself, so two builds at once (two
pytest-xdist workers) can ship each other's half-written files. A file lock beside that build
directory lets one build run at a time.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build_wheel(out_dir: Path) -> Path:
    """Build the wheel into ``out_dir`` and return its path; fail with pip's output if it cannot."""
    lock_path = REPO / "build" / ".wheel-build.lock"
    lock_path.parent.mkdir(exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
            + ["-w", str(out_dir), str(REPO)],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    assert done.returncode == 0, f"pip wheel failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    (wheel,) = out_dir.glob("realtime_comments-*.whl")
    return wheel
