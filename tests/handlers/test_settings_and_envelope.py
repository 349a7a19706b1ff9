"""Settings parsing, the envelope, and the fan-out message splitting."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from realtime_comments.delivery.fanout import _bodies, _requests
from realtime_comments.envelope import build_message, utc_timestamp
from realtime_comments.settings import (
    DEFAULT_CONNECTION_TTL_SECONDS,
    DEFAULT_SEND_CONCURRENCY,
    ActionsSettings,
    AuthorizerSettings,
    BroadcastSettings,
    CommentsApiSettings,
    ConnectSettings,
    DisconnectSettings,
    FanoutOptions,
    FanoutWorkerSettings,
    NotificationsApiSettings,
    NotifierSettings,
    ReplySettings,
    SettingsError,
)

ALL_SETTINGS = (
    AuthorizerSettings,
    ConnectSettings,
    DisconnectSettings,
    ReplySettings,
    ActionsSettings,
    CommentsApiSettings,
    BroadcastSettings,
    FanoutWorkerSettings,
    NotificationsApiSettings,
    NotifierSettings,
)


def test_settings_come_from_the_environment_once_per_container(configure):
    from handlers import authorizer

    configure(ALLOWED_ORIGINS=" https://a.example , http://localhost:3000,")
    first = authorizer.settings()
    assert first.allowed_origins == ("https://a.example", "http://localhost:3000")
    assert first.region == "us-east-1"
    assert authorizer.settings() is first  # parsed once for the container
    with pytest.raises(AttributeError):
        first.jwt_issuer = "x"  # type: ignore[misc]


def test_fanout_settings_and_defaults_are_one_type():
    parsed = BroadcastSettings.from_env(
        {"CONNECTIONS_TABLE_NAME": "c", "WEBSOCKET_CALLBACK_URL": "http://x/"}
    )
    assert parsed.fanout == FanoutOptions()
    assert (parsed.fanout.inline_limit, parsed.fanout.batch_size, parsed.fanout.send_concurrency) == (
        2000,
        1000,
        DEFAULT_SEND_CONCURRENCY,
    )
    assert parsed.websocket_callback_url == "http://x" and parsed.fanout_queue_url == ""
    tuned = BroadcastSettings.from_env(
        {"CONNECTIONS_TABLE_NAME": "c", "WEBSOCKET_CALLBACK_URL": "u", "SEND_CONCURRENCY": "7"}
    )
    assert tuned.fanout == FanoutOptions(send_concurrency=7)
    assert (
        ConnectSettings.from_env({"CONNECTIONS_TABLE_NAME": "c"}).connection_ttl_seconds
        == DEFAULT_CONNECTION_TTL_SECONDS
        == 86400
    )


@pytest.mark.parametrize("settings_class", ALL_SETTINGS, ids=lambda cls: cls.function)
def test_each_function_refuses_a_missing_variable_by_name(settings_class):
    complete = {name: "1" for name in settings_class.variables()}
    assert settings_class.from_env(complete) is not None
    required = sorted(
        field.metadata["env"]
        for field in dataclasses.fields(settings_class)
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    )
    assert required, "every function needs at least one variable"
    for name in required:
        with pytest.raises(SettingsError, match=rf"{settings_class.function}: .*{name} is required"):
            settings_class.from_env({k: v for k, v in complete.items() if k != name})


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("SEND_CONCURRENCY", "many", "must be an integer"),
        ("SEND_CONCURRENCY", "0", "must be >= 1"),
        ("FANOUT_BATCH_SIZE", "0", "must be >= 1"),
        ("FANOUT_INLINE_LIMIT", "-1", "must be >= 0"),
    ],
)
def test_malformed_values_fail_loudly(name, value, problem):
    environ = {"CONNECTIONS_TABLE_NAME": "c", "WEBSOCKET_CALLBACK_URL": "u", name: value}
    with pytest.raises(SettingsError, match=f"broadcaster: environment variable {name} {problem}"):
        BroadcastSettings.from_env(environ)


def test_a_handler_with_a_missing_variable_fails_at_its_first_invocation(configure, monkeypatch):
    from events import ws_event
    from handlers import ws_actions

    monkeypatch.delenv("COMMENTS_TABLE_NAME")
    configure(COMMENTS_PAGE_SIZE="zero")
    with pytest.raises(SettingsError) as raised:
        ws_actions.handler(ws_event("ping", "c1=", body={"action": "ping"}), None)
    message = str(raised.value)
    assert "ws_actions" in message and "COMMENTS_TABLE_NAME is required" in message
    assert "COMMENTS_PAGE_SIZE must be an integer" in message


def test_to_env_writes_what_from_env_reads():
    options = FanoutOptions(inline_limit=5, batch_size=2, send_concurrency=3)
    settings = BroadcastSettings(
        connections_table_name="t", websocket_callback_url="https://x", fanout_queue_url="q", fanout=options
    )
    env = settings.to_env()
    assert set(env) == BroadcastSettings.variables()
    assert "AWS_REGION" not in env
    assert BroadcastSettings.from_env(env) == settings
    with pytest.raises(SettingsError, match="batch_size"):
        FanoutOptions(batch_size=0)


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
        "before = aws_clients.connections_transport('http://127.0.0.1:9/x', 'us-east-1')\n"
        "assert aws_clients.connections_transport('http://127.0.0.1:9/x', 'us-east-1') is before\n"
        "s.hooks[0]()\n"
        "assert aws_clients.connections_transport('http://127.0.0.1:9/x', 'us-east-1') is not before\n"
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
