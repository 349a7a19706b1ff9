"""Settings parsing, the envelope, and the fan-out message splitting."""

from __future__ import annotations

import json
import re

import pytest
from realtime_comments.delivery.fanout import _bodies, _requests
from realtime_comments.envelope import build_message, utc_timestamp
from realtime_comments.settings import DEFAULT_SEND_CONCURRENCY, Settings


def test_settings_come_from_the_environment_once(configure):
    configure(ALLOWED_ORIGINS=" https://a.example , http://localhost:3000,", SEND_CONCURRENCY="7")
    first = Settings.from_env()
    assert first.allowed_origins == ("https://a.example", "http://localhost:3000")
    assert first.send_concurrency == 7 and first.region == "us-east-1"
    assert Settings.from_env() is first  # cached for the container
    with pytest.raises(AttributeError):
        first.send_concurrency = 1  # type: ignore[misc]


def test_settings_defaults(monkeypatch):
    for name in ("SEND_CONCURRENCY", "FANOUT_INLINE_LIMIT", "COMMENTS_PAGE_SIZE", "CONNECTION_TTL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.parse_env()
    assert settings.send_concurrency == DEFAULT_SEND_CONCURRENCY == 128
    assert (settings.fanout_inline_limit, settings.comments_page_size, settings.connection_ttl_seconds) == (
        2000,
        50,
        86400,
    )


@pytest.mark.parametrize(("name", "value"), [("SEND_CONCURRENCY", "many"), ("COMMENTS_PAGE_SIZE", "0")])
def test_bad_settings_fail_loudly(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        Settings.parse_env()


def test_envelope_shape_and_timestamp():
    message = build_message("test", {"message": "hi"})
    assert set(message) == {"type", "data", "timestamp"}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", utc_timestamp())


def test_fanout_bodies_respect_batch_size_and_sqs_limits():
    ids = [f"connection-{i:06d}" for i in range(2500)]
    bodies = _bodies('{"type":"test"}', ids, 1000)
    assert [len(json.loads(body)["connectionIds"]) for body in bodies] == [1000, 1000, 500]
    big_message = json.dumps({"type": "test", "data": {"message": "x" * 120_000}})
    big = _bodies(big_message, ids, 1000)
    assert all(len(body.encode()) <= 256 * 1024 for body in big)
    assert sum(len(json.loads(body)["connectionIds"]) for body in big) == 2500
    for group in _requests(big):
        assert len(group) <= 10 and sum(len(body.encode()) for body in group) <= 256 * 1024


def test_snapstart_restore_hook_is_registered_and_drops_cached_clients(tmp_path):
    """In Lambda, snapshot_restore_py exists and aws_clients registers its restore hook; the hook
    forgets every client and the @connections transport (sockets and credentials of the init)."""
    import subprocess
    import sys
    from pathlib import Path

    fake = tmp_path / "snapshot_restore_py.py"
    fake.write_text("hooks = []\ndef register_after_restore(fn, *a, **k):\n    hooks.append(fn)\n")
    lambdas = Path(__file__).resolve().parents[2] / "lambdas"
    code = (
        "import snapshot_restore_py as s\n"
        "from realtime_comments import aws_clients\n"
        "assert s.hooks == [aws_clients.after_snapshot_restore], s.hooks\n"
        "before = aws_clients.connections_transport(endpoint_url='http://127.0.0.1:9/x')\n"
        "assert aws_clients.connections_transport(endpoint_url='http://127.0.0.1:9/x') is before\n"
        "s.hooks[0]()\n"
        "assert aws_clients.connections_transport(endpoint_url='http://127.0.0.1:9/x') is not before\n"
        "print('ok')\n"
    )
    env = {
        "PYTHONPATH": f"{tmp_path}:{lambdas}",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
