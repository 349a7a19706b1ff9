"""Which event loop the runtime process picks (local_runtime/event_loop.py)."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from local_runtime import event_loop


def test_auto_means_uvloop_when_it_is_installed() -> None:
    assert importlib.util.find_spec("uvloop") is not None  # requirements-dev.txt installs it
    assert event_loop.resolve("auto") == "uvloop"
    assert event_loop.resolve("uvloop") == "uvloop"
    assert event_loop.resolve("asyncio") == "asyncio"


def test_without_uvloop_auto_falls_back_and_uvloop_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real_find_spec(name, *a)
    )
    assert event_loop.resolve("auto") == "asyncio"
    with pytest.raises(ValueError, match="uvloop is not installed"):
        event_loop.resolve("uvloop")


def test_unknown_loop_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown event loop 'trio'"):
        event_loop.resolve("trio")


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_run_returns_the_coroutines_result_on_either_loop(loop: str) -> None:
    async def main() -> int:
        running = type(asyncio.get_running_loop()).__module__
        assert running.startswith("uvloop") == (loop == "uvloop"), running
        return 7

    assert event_loop.run(main(), loop) == 7
