"""Every handler test runs with fresh tables, the fake @connections sink and the local issuer wired
into the environment exactly as docs/design.md names it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from handler_helpers import ALLOWED_ORIGIN

from tests.conftest import handler_environment


@pytest.fixture(autouse=True)
def handler_env(
    monkeypatch: pytest.MonkeyPatch, aws_env: str, tables: Any, connections_sink: Any, jwt_issuer: Any
) -> Iterator[dict[str, str]]:
    from realtime_comments import dependencies

    env = handler_environment(
        tables, connections_sink.url, jwt_issuer, allowed_origins=f"{ALLOWED_ORIGIN},http://localhost:3000"
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    dependencies.reset()
    yield env
    dependencies.reset()


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Change environment variables for one test: configure(COMMENTS_PAGE_SIZE="3")."""
    from realtime_comments import dependencies

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        dependencies.reset()

    return apply
