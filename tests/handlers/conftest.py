"""Every handler test runs with fresh tables, the fake @connections sink and the local issuer wired
into the environment exactly as docs/design.md names it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from handler_helpers import ALLOWED_ORIGIN


@pytest.fixture(autouse=True)
def handler_env(
    monkeypatch: pytest.MonkeyPatch, aws_env: str, tables: Any, connections_sink: Any, jwt_issuer: Any
) -> Iterator[dict[str, str]]:
    from realtime_comments.settings import Settings

    env = {
        "CONNECTIONS_TABLE_NAME": tables.connections,
        "COMMENTS_TABLE_NAME": tables.comments,
        "IDEMPOTENCY_TABLE_NAME": tables.idempotency,
        "WEBSOCKET_CALLBACK_URL": connections_sink.url,
        "CONNECTION_TTL_SECONDS": "86400",
        "COMMENTS_PAGE_SIZE": "50",
        "JWT_ISSUER": jwt_issuer.issuer,
        "JWT_AUDIENCE": jwt_issuer.audience,
        "JWKS_URL": jwt_issuer.jwks_url,
        "ALLOWED_ORIGINS": f"{ALLOWED_ORIGIN},http://localhost:3000",
        "FANOUT_QUEUE_URL": "",
        "FANOUT_INLINE_LIMIT": "2000",
        "FANOUT_BATCH_SIZE": "1000",
        "SEND_CONCURRENCY": "16",
        "POWERTOOLS_SERVICE_NAME": "realtime-comments",
        "POWERTOOLS_METRICS_NAMESPACE": "RealtimeComments",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    Settings.clear_cache()
    yield env
    Settings.clear_cache()


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Change environment variables for one test: configure(COMMENTS_PAGE_SIZE="3")."""
    from realtime_comments.settings import Settings

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        Settings.clear_cache()

    return apply
