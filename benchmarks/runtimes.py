"""Start the local runtime under benchmark: the ``current`` one (this checkout's ``local_runtime/``)
or the ``reference`` one (the ``local_runtime/`` package as of a git commit, da53cd7 = the last
commit before the rewrite, materialized with ``git archive`` into a temporary directory); or
``floor``, the no-runtime stand-in ``benchmarks/fake_runtime.py`` (what the harness alone measures).

Both are started the same way, as ``python -m local_runtime --no-synth --cdk-out DIR --fresh
--wait-warm --no-frontend --ws-port 0 --api-port 0 --state-dir DIR --quiet-functions`` (the
documented command line, docs/local-runtime.md), with the same interpreter and the same
synthesized ``cdk.out``, so both serve the same template and the same code asset. ``start`` returns
the ``READY {json}`` URLs.

Every runtime stops by itself: SIGTERM on ``stop()`` (then SIGKILL), at interpreter exit
(``atexit``), when this process dies (``PR_SET_PDEATHSIG``), and after ``max_seconds`` (a watchdog
timer). ``cpu_seconds()`` is the CPU time (user + system) of the runtime process and all its
descendants (its function workers, and moto if it has its own process), from /proc.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT

REFERENCE_COMMIT = "da53cd7"
KINDS = ("current", "reference", "floor")

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """preexec_fn: SIGTERM the child when this process exits (Linux prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


def flat_cdk_out(cdk_out: Path, stage: str, dest: Path) -> Path:
    """``dest`` holding the stage's stack as ``<stack name>.template.json`` with an asset manifest whose
    paths are absolute: the layout of a cloud assembly without stages."""
    from local_runtime.template import find_stack, stack_artifact

    name = find_stack(cdk_out, stage)
    artifact = stack_artifact(cdk_out, name)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(artifact.template, dest / f"{name}.template.json")
    if artifact.assets is not None:
        manifest = json.loads(artifact.assets.read_text())
        for entry in (manifest.get("files") or {}).values():
            source = entry.get("source") or {}
            if source.get("path"):
                source["path"] = str((artifact.assets.parent / source["path"]).resolve())
        (dest / f"{name}.assets.json").write_text(json.dumps(manifest))
    return dest


def materialize_reference(dest: Path, commit: str = REFERENCE_COMMIT, timeout: float = 60) -> Path:
    """``git -C ROOT archive <commit> local_runtime | tar -x -C dest``; returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    git = subprocess.Popen(
        ["git", "-C", ROOT, "archive", commit, "local_runtime"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    tar = subprocess.run(
        ["tar", "-x", "-C", str(dest)], stdin=git.stdout, capture_output=True, timeout=timeout, check=False
    )
    assert git.stdout is not None
    git.stdout.close()
    try:
        _, git_err = git.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        git.kill()
        git.wait(timeout=10)
        raise
    if git.returncode != 0 or tar.returncode != 0:
        raise RuntimeError(
            f"git archive {commit} local_runtime failed: {git_err.decode(errors='replace').strip()} "
            f"{tar.stderr.decode(errors='replace').strip()}"
        )
    if not (dest / "local_runtime" / "__main__.py").exists():
        raise RuntimeError(f"{commit} has no local_runtime/__main__.py")
    return dest


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after ``comm`` (state, ppid, ...), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """``pid`` and every live process below it (from the ppid fields in /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None and len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo and len(found) < 10_000:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its live descendants, plus cutime + cstime (the CPU of children
    that already exited and were reaped, so a worker replaced during a step is still counted)."""
    ticks = 0
    for member in descendants(pid):
        fields = _stat_fields(member)
        if fields is None or len(fields) < 15:
            continue
        ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / _CLK_TCK


class Runtime:
    """One local runtime process (``kind`` = ``current`` or ``reference``) on free loopback ports."""

    def __init__(
        self,
        kind: str,
        cdk_out: Path,
        workdir: Path,
        *,
        reference_commit: str = REFERENCE_COMMIT,
        extra: list[str] | None = None,
        max_seconds: float = 1800.0,
    ):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        self.kind = kind
        self.cdk_out = Path(cdk_out).resolve()
        self.workdir = Path(workdir)
        self.reference_commit = reference_commit
        self.extra = extra or []
        self.max_seconds = max_seconds
        self.proc: subprocess.Popen[str] | None = None
        self.urls: dict[str, str] = {}
        self.startup_seconds = float("nan")
        self.ready_at = float("nan")  # time.perf_counter() when READY was read
        self.log_path = self.workdir / f"runtime-{kind}.log"
        self._code_dir: Path | None = None
        self._watchdog: threading.Timer | None = None

    @property
    def label(self) -> str:
        if self.kind == "reference":
            return f"reference ({self.reference_commit})"
        return "harness floor (no runtime)" if self.kind == "floor" else "current"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _code(self) -> Path:
        if self.kind in ("current", "floor"):
            return Path(ROOT)
        if self._code_dir is None:
            self._code_dir = Path(tempfile.mkdtemp(prefix="bench-reference-runtime-", dir=self.workdir))
            materialize_reference(self._code_dir, self.reference_commit)
        return self._code_dir

    def _cdk_out(self) -> Path:
        """The reference runtime predates stages: it reads ``<cdk_out>/RealtimeComments-dev.template.json``
        and asset paths relative to that folder, so it gets a flat copy of the dev stack's files."""
        if self.kind != "reference":
            return self.cdk_out
        return flat_cdk_out(self.cdk_out, "dev", self.workdir / "cdk.out-flat")

    def start(self, timeout: float = 180.0) -> dict[str, str]:
        code = self._code()
        state = self.workdir / f"state-{self.kind}"
        state.mkdir(parents=True, exist_ok=True)
        args = [
            sys.executable,
            "-m",
            "benchmarks.fake_runtime" if self.kind == "floor" else "local_runtime",
            "--no-synth",
            "--cdk-out",
            str(self._cdk_out()),
            "--fresh",
            "--wait-warm",
            "--no-frontend",
            "--ws-port",
            "0",
            "--api-port",
            "0",
            "--state-dir",
            str(state),
            "--quiet-functions",
            *self.extra,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
        env.update(PYTHONPATH=str(code), PYTHONUNBUFFERED="1")
        log = open(self.log_path, "a")  # noqa: SIM115 - lives as long as the process
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            args,
            cwd=code,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            text=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )
        log.close()
        atexit.register(self.stop)
        self._watchdog = threading.Timer(self.max_seconds, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()
        lines: queue.Queue[str | None] = queue.Queue()
        proc = self.proc

        def pump() -> None:  # keeps draining stdout after READY, so the pipe never fills
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("READY "):
                    lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True, name=f"runtime-{self.kind}-stdout").start()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise TimeoutError(f"{self.label} runtime not READY in {timeout:g}s; see {self.log_path}")
            try:
                line = lines.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
            if line is None:
                self.stop()
                raise RuntimeError(f"{self.label} runtime exited before READY:\n{self.tail(15)}")
            self.ready_at = time.perf_counter()
            self.urls = json.loads(line[len("READY ") :])
            self.startup_seconds = self.ready_at - started
            return self.urls

    def _expire(self) -> None:
        print(f"[runtimes] {self.label} runtime ran {self.max_seconds:g}s: stopping it", file=sys.stderr)
        self.stop()

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.pid) if self.proc is not None else float("nan")

    def tail(self, n: int = 60) -> str:
        try:
            return "".join(self.log_path.read_text(errors="replace").splitlines(True)[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> int | None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._code_dir is not None:
            shutil.rmtree(self._code_dir, ignore_errors=True)
            self._code_dir = None
        return proc.returncode

    def __enter__(self) -> Runtime:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
