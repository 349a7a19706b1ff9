"""Function configuration, read from the environment once per container (docs/design.md lists the names)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

# 128 threads x 10 ms per @connections call ~= 12,800 sends/s, above API Gateway's default account rate
# (10,000/s), so one invocation is limited by the service rather than by its own pool.
DEFAULT_SEND_CONCURRENCY = 128
DEFAULT_NOTIFICATION_TTL_SECONDS = 30 * 86400

# Abuse limits (docs/security.md, "Limits"): the defaults of every stage.
DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION = 50
DEFAULT_MAX_CONNECTIONS_PER_USER = 10
DEFAULT_COMMENT_WRITE_RATE = 5
DEFAULT_COMMENT_WRITE_BURST = 20
DEFAULT_ACTION_RATE = 10
DEFAULT_ACTION_BURST = 20


def _int_env(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ValueError(f"environment variable {name} must be >= {minimum}, got {value}")
    return value


def _csv_env(name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in os.environ.get(name, "").split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    connections_table_name: str = ""
    comments_table_name: str = ""
    idempotency_table_name: str = ""
    notifications_table_name: str = ""
    notification_ttl_seconds: int = DEFAULT_NOTIFICATION_TTL_SECONDS
    websocket_callback_url: str = ""
    connection_ttl_seconds: int = 86400
    comments_page_size: int = 50
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwks_url: str = ""
    allowed_origins: tuple[str, ...] = ()
    fanout_queue_url: str = ""
    fanout_inline_limit: int = 2000
    fanout_batch_size: int = 1000
    send_concurrency: int = DEFAULT_SEND_CONCURRENCY
    region: str = "us-east-1"
    max_subscriptions_per_connection: int = DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION
    max_connections_per_user: int = DEFAULT_MAX_CONNECTIONS_PER_USER
    comment_write_rate: int = DEFAULT_COMMENT_WRITE_RATE
    comment_write_burst: int = DEFAULT_COMMENT_WRITE_BURST
    action_rate: int = DEFAULT_ACTION_RATE
    action_burst: int = DEFAULT_ACTION_BURST
    # The broadcast endpoint: who may call it (IAM role or user ARNs) and what they may send.
    broadcast_principals: tuple[str, ...] = ()
    broadcast_message_types: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> Settings:
        """The settings of this container; parsed on first use and cached (see `clear_cache`)."""
        return _settings_from_env()

    @staticmethod
    def clear_cache() -> None:
        """Forget the cached settings (tests change the environment between cases)."""
        _settings_from_env.cache_clear()

    @classmethod
    def parse_env(cls) -> Settings:
        """Parse the environment now, without the cache."""
        return cls(
            connections_table_name=os.environ.get("CONNECTIONS_TABLE_NAME", ""),
            comments_table_name=os.environ.get("COMMENTS_TABLE_NAME", ""),
            idempotency_table_name=os.environ.get("IDEMPOTENCY_TABLE_NAME", ""),
            notifications_table_name=os.environ.get("NOTIFICATIONS_TABLE_NAME", ""),
            notification_ttl_seconds=_int_env(
                "NOTIFICATION_TTL_SECONDS", DEFAULT_NOTIFICATION_TTL_SECONDS, minimum=1
            ),
            websocket_callback_url=os.environ.get("WEBSOCKET_CALLBACK_URL", "").rstrip("/"),
            connection_ttl_seconds=_int_env("CONNECTION_TTL_SECONDS", 86400, minimum=1),
            comments_page_size=_int_env("COMMENTS_PAGE_SIZE", 50, minimum=1),
            jwt_issuer=os.environ.get("JWT_ISSUER", ""),
            jwt_audience=os.environ.get("JWT_AUDIENCE", ""),
            jwks_url=os.environ.get("JWKS_URL", ""),
            allowed_origins=_csv_env("ALLOWED_ORIGINS"),
            fanout_queue_url=os.environ.get("FANOUT_QUEUE_URL", "").strip(),
            fanout_inline_limit=_int_env("FANOUT_INLINE_LIMIT", 2000, minimum=0),
            fanout_batch_size=_int_env("FANOUT_BATCH_SIZE", 1000, minimum=1),
            send_concurrency=_int_env("SEND_CONCURRENCY", DEFAULT_SEND_CONCURRENCY, minimum=1),
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            max_subscriptions_per_connection=_int_env(
                "MAX_SUBSCRIPTIONS_PER_CONNECTION", DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION, minimum=1
            ),
            max_connections_per_user=_int_env(
                "MAX_CONNECTIONS_PER_USER", DEFAULT_MAX_CONNECTIONS_PER_USER, minimum=1
            ),
            comment_write_rate=_int_env("COMMENT_WRITE_RATE", DEFAULT_COMMENT_WRITE_RATE, minimum=1),
            comment_write_burst=_int_env("COMMENT_WRITE_BURST", DEFAULT_COMMENT_WRITE_BURST, minimum=1),
            action_rate=_int_env("ACTION_RATE", DEFAULT_ACTION_RATE, minimum=1),
            action_burst=_int_env("ACTION_BURST", DEFAULT_ACTION_BURST, minimum=1),
            broadcast_principals=_csv_env("BROADCAST_PRINCIPALS"),
            broadcast_message_types=_csv_env("BROADCAST_MESSAGE_TYPES"),
        )


@functools.cache
def _settings_from_env() -> Settings:
    return Settings.parse_env()
