"""The state dir's lock (``local_runtime.data_store.lock_state``): a data process started while the
previous one still writes its final snapshot waits for it, and a second live one is refused."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from local_runtime.data_store import lock_state


def test_a_second_data_process_waits_until_the_first_lets_go(tmp_path: Path) -> None:
    snapshot = tmp_path / "state" / "snapshot.json"
    first = lock_state(snapshot)
    assert first is not None
    got: list[float] = []

    def second() -> None:
        handle = lock_state(snapshot, wait=30)
        got.append(time.monotonic())
        assert handle is not None
        handle.close()

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive() and not got, "the second must wait while the first holds the lock"
    released = time.monotonic()
    first.close()
    thread.join(timeout=10)
    assert got and got[0] >= released


def test_a_state_dir_in_use_is_refused_after_the_wait(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.json"
    holder = lock_state(snapshot)
    try:
        with pytest.raises(SystemExit, match="another local runtime still uses this state dir"):
            lock_state(snapshot, wait=0.2)
    finally:
        assert holder is not None
        holder.close()


def test_no_snapshot_no_lock() -> None:
    assert lock_state(None) is None
