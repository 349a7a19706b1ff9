"""Start/stop the local runtime as a subprocess (used by the e2e fixtures and local_runtime.measure)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


class RuntimeProcess:
    def __init__(
        self,
        state_dir: Path,
        cdk_out: Path,
        *,
        synth: bool = False,
        fresh: bool = True,
        frontend: bool = False,
        extra: list[str] | None = None,
        log_path: Path | None = None,
    ):
        self.state_dir = state_dir
        self.cdk_out = cdk_out
        self.synth = synth
        self.fresh = fresh
        self.frontend = frontend
        self.extra = extra or []
        self.log_path = log_path or (state_dir / "runtime.log")
        self.proc: subprocess.Popen[str] | None = None
        self.urls: dict[str, str] = {}
        self.startup_seconds = 0.0

    def start(self, timeout: float = 120) -> dict[str, str]:
        args = [
            sys.executable,
            "-m",
            "local_runtime",
            "--ws-port",
            "0",
            "--api-port",
            "0",
            "--state-dir",
            str(self.state_dir),
            "--cdk-out",
            str(self.cdk_out),
            "--quiet-functions",
        ]
        if not self.synth:
            args.append("--no-synth")
        if self.fresh:
            args.append("--fresh")
        args += ["--frontend-port", "0"] if self.frontend else ["--no-frontend"]
        args += self.extra
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "a")  # noqa: SIM115 - lives as long as the process
        started = time.perf_counter()
        self.proc = subprocess.Popen(  # noqa: S603
            args,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,  # noqa: S603
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.proc and self.proc.stdout
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise TimeoutError(f"runtime not READY in {timeout}s; see {self.log_path}")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"runtime exited before READY; see {self.log_path}:\n{self.tail()}")
            if line.startswith("READY "):
                self.urls = json.loads(line[6:])
                self.startup_seconds = time.perf_counter() - started
                return self.urls

    def tail(self, n: int = 60) -> str:
        try:
            return "".join(self.log_path.read_text().splitlines(True)[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 30) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def __enter__(self) -> RuntimeProcess:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def synthesize(out_dir: Path, stages: Sequence[str] = ()) -> float:
    """Synthesize the app (``stages`` only, when given) into ``out_dir`` (the runtime's own synth
    step); seconds taken."""
    from .runtime import synthesize as synthesize_app

    return synthesize_app(Path(out_dir), stages)
