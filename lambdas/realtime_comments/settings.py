"""The settings contract between the constructs and the functions: every environment variable's
name and default, written once.

Both sides import this module (it needs only the standard library, so the CDK side imports it
without the functions' dependencies):

- a construct builds a function's environment with ``ConnectSettings(...).to_env()``;
- that function's handler parses it once per container with ``ConnectSettings.from_env()``, which
  refuses a missing or malformed variable with a ``SettingsError`` naming it, on the first
  (cold-start) invocation rather than at the first AWS call.

Nothing below a handler reads the environment: the handler builds its dependencies from its
settings (``realtime_comments.dependencies``) and passes them down as arguments.

Adding a setting, for example a per-user connection limit of ``ws_connect``:

1. name it in ``EnvVar`` and, when it has one, give its default a module constant here::

       MAX_CONNECTIONS_PER_USER = "MAX_CONNECTIONS_PER_USER"      # in EnvVar
       DEFAULT_MAX_CONNECTIONS_PER_USER = 10

2. add a field to the settings class of each function that reads it::

       max_connections_per_user: int = setting(
           EnvVar.MAX_CONNECTIONS_PER_USER, default=DEFAULT_MAX_CONNECTIONS_PER_USER, minimum=1
       )

3. in the construct, give the value (a prop whose default is the same constant) to the class
   where it builds that function's environment;
4. in the handler, read it from the parsed settings and pass it down.

``tests/infra/test_infra_app.py`` checks that each function's environment in the template is
exactly the variables of its settings class, and ``tests/handlers/test_settings_and_envelope.py``
that each class refuses a missing or malformed value.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar


class EnvVar:
    """The environment variables the constructs set and the functions read."""

    CONNECTIONS_TABLE_NAME = "CONNECTIONS_TABLE_NAME"
    COMMENTS_TABLE_NAME = "COMMENTS_TABLE_NAME"
    IDEMPOTENCY_TABLE_NAME = "IDEMPOTENCY_TABLE_NAME"
    NOTIFICATIONS_TABLE_NAME = "NOTIFICATIONS_TABLE_NAME"
    NOTIFICATION_TTL_SECONDS = "NOTIFICATION_TTL_SECONDS"
    WEBSOCKET_CALLBACK_URL = "WEBSOCKET_CALLBACK_URL"
    CONNECTION_TTL_SECONDS = "CONNECTION_TTL_SECONDS"
    COMMENTS_PAGE_SIZE = "COMMENTS_PAGE_SIZE"
    JWT_ISSUER = "JWT_ISSUER"
    JWT_AUDIENCE = "JWT_AUDIENCE"
    JWKS_URL = "JWKS_URL"
    ALLOWED_ORIGINS = "ALLOWED_ORIGINS"
    FANOUT_QUEUE_URL = "FANOUT_QUEUE_URL"
    FANOUT_INLINE_LIMIT = "FANOUT_INLINE_LIMIT"
    FANOUT_BATCH_SIZE = "FANOUT_BATCH_SIZE"
    SEND_CONCURRENCY = "SEND_CONCURRENCY"
    MAX_SUBSCRIPTIONS_PER_CONNECTION = "MAX_SUBSCRIPTIONS_PER_CONNECTION"
    MAX_CONNECTIONS_PER_USER = "MAX_CONNECTIONS_PER_USER"
    COMMENT_WRITE_RATE = "COMMENT_WRITE_RATE"
    COMMENT_WRITE_BURST = "COMMENT_WRITE_BURST"
    ACTION_RATE = "ACTION_RATE"
    ACTION_BURST = "ACTION_BURST"
    BROADCAST_PRINCIPALS = "BROADCAST_PRINCIPALS"
    BROADCAST_MESSAGE_TYPES = "BROADCAST_MESSAGE_TYPES"
    # Set by Lambda itself (and by the local runtime), never by a construct.
    AWS_REGION = "AWS_REGION"


DEFAULT_CONNECTION_TTL_SECONDS = 24 * 3600
DEFAULT_COMMENTS_PAGE_SIZE = 50
DEFAULT_FANOUT_INLINE_LIMIT = 2000
DEFAULT_FANOUT_BATCH_SIZE = 1000
# 128 threads x 10 ms per @connections call ~= 12,800 sends/s, above API Gateway's default account rate
# (10,000/s), so one invocation is limited by the service rather than by its own pool.
DEFAULT_SEND_CONCURRENCY = 128
DEFAULT_NOTIFICATION_TTL_SECONDS = 30 * 86400
DEFAULT_REGION = "us-east-1"

# Abuse limits (docs/security.md, "Limits"): the defaults of every stage.
DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION = 50
DEFAULT_MAX_CONNECTIONS_PER_USER = 10
DEFAULT_COMMENT_WRITE_RATE = 5
DEFAULT_COMMENT_WRITE_BURST = 20
DEFAULT_ACTION_RATE = 10
DEFAULT_ACTION_BURST = 20


class SettingsError(ValueError):
    """A function's environment lacks a variable or holds a malformed one."""


def setting(name: str, *, default: Any = dataclasses.MISSING, minimum: int | None = None) -> Any:
    """A settings field read from the environment variable ``name`` (required without a default)."""
    metadata = {"env": name, "minimum": minimum}
    if default is dataclasses.MISSING:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, kw_only=True)
class FanoutOptions:
    """Broadcast fan-out tuning, the one type for it: ``StageConfig``, the constructs' props and
    the functions' settings all hold this.

    :param inline_limit: audiences up to this size are sent by the broadcasting function itself;
        larger ones go to the fan-out queue in batches (when there is a queue). Default 2000.
    :param batch_size: connection ids per fan-out queue message. Default 1000.
    :param send_concurrency: concurrent @connections sends per invocation. Default 128.
    """

    inline_limit: int = setting(EnvVar.FANOUT_INLINE_LIMIT, default=DEFAULT_FANOUT_INLINE_LIMIT, minimum=0)
    batch_size: int = setting(EnvVar.FANOUT_BATCH_SIZE, default=DEFAULT_FANOUT_BATCH_SIZE, minimum=1)
    send_concurrency: int = setting(EnvVar.SEND_CONCURRENCY, default=DEFAULT_SEND_CONCURRENCY, minimum=1)

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            _check_minimum(item, getattr(self, item.name))


S = TypeVar("S", bound="FunctionSettings")


@dataclass(frozen=True, kw_only=True)
class FunctionSettings:
    """Base of each function's settings: ``to_env()`` for the construct, ``from_env()`` for the
    function. ``region`` comes from Lambda's own ``AWS_REGION`` and is never written by a construct."""

    function: ClassVar[str] = "function"
    # Whether to_env() writes the fan-out path fields itself (else Broadcaster.attach_fanout does).
    writes_fanout_path: ClassVar[bool] = False
    region: str = field(default=DEFAULT_REGION, metadata={"env": EnvVar.AWS_REGION, "runtime": True})

    def to_env(self) -> dict[str, str]:
        """The environment variables a construct sets (values may be CDK tokens)."""
        env: dict[str, str] = {}
        for item in dataclasses.fields(self):
            attached_elsewhere = item.metadata.get("attached") and not self.writes_fanout_path
            if item.metadata.get("runtime") or attached_elsewhere:
                continue
            value = getattr(self, item.name)
            if isinstance(value, FanoutOptions):
                for option in dataclasses.fields(value):
                    env[option.metadata["env"]] = str(getattr(value, option.name))
            elif isinstance(value, tuple):
                env[item.metadata["env"]] = ",".join(value)
            else:
                env[item.metadata["env"]] = str(value)
        return env

    @classmethod
    def variables(cls) -> frozenset[str]:
        """The names ``to_env`` writes."""
        names: set[str] = set()
        hints = typing.get_type_hints(cls)
        for item in dataclasses.fields(cls):
            if item.metadata.get("runtime"):
                continue
            if hints[item.name] is FanoutOptions:
                names.update(f.metadata["env"] for f in dataclasses.fields(FanoutOptions))
            else:
                names.add(item.metadata["env"])
        return frozenset(names)

    @classmethod
    def from_env(cls: type[S], environ: Mapping[str, str] | None = None) -> S:
        """Parse and validate this function's settings; ``SettingsError`` lists every problem."""
        environ = os.environ if environ is None else environ
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        problems: list[str] = []
        for item in dataclasses.fields(cls):
            if hints[item.name] is FanoutOptions:
                values[item.name] = FanoutOptions(**_parse_fields(FanoutOptions, environ, problems))
            else:
                parsed = _parse_field(item, hints[item.name], environ, problems)
                if parsed is not dataclasses.MISSING:
                    values[item.name] = parsed
        if cls is not FunctionSettings and not values.get("region"):
            values["region"] = environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        if problems:
            raise SettingsError(f"{cls.function}: " + "; ".join(problems))
        return cls(**values)


def _parse_fields(cls: type, environ: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        parsed = _parse_field(item, hints[item.name], environ, problems)
        if parsed is not dataclasses.MISSING:
            values[item.name] = parsed
    return values


def _parse_field(item: dataclasses.Field, kind: Any, environ: Mapping[str, str], problems: list[str]) -> Any:
    name = item.metadata["env"]
    raw = environ.get(name, "").strip()
    required = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
    if not raw:
        if required:
            problems.append(f"environment variable {name} is required")
        return dataclasses.MISSING
    if kind is int:
        try:
            value: Any = int(raw)
        except ValueError:
            problems.append(f"environment variable {name} must be an integer, got {raw!r}")
            return dataclasses.MISSING
        minimum = item.metadata.get("minimum")
        if minimum is not None and value < minimum:
            problems.append(f"environment variable {name} must be >= {minimum}, got {value}")
            return dataclasses.MISSING
        return value
    if kind == tuple[str, ...]:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if name == EnvVar.WEBSOCKET_CALLBACK_URL:
        return raw.rstrip("/")
    return raw


def _check_minimum(item: dataclasses.Field, value: Any) -> None:
    minimum = item.metadata.get("minimum")
    if minimum is not None and isinstance(value, int) and value < minimum:
        raise SettingsError(f"{item.name} ({item.metadata['env']}) must be >= {minimum}, got {value}")


# --- one class per function: exactly the variables that function reads -------------------------


@dataclass(frozen=True, kw_only=True)
class AuthorizerSettings(FunctionSettings):
    function: ClassVar[str] = "authorizer"
    jwt_issuer: str = setting(EnvVar.JWT_ISSUER)
    jwt_audience: str = setting(EnvVar.JWT_AUDIENCE)
    jwks_url: str = setting(EnvVar.JWKS_URL)
    allowed_origins: tuple[str, ...] = setting(EnvVar.ALLOWED_ORIGINS)


@dataclass(frozen=True, kw_only=True)
class ConnectSettings(FunctionSettings):
    function: ClassVar[str] = "ws_connect"
    connections_table_name: str = setting(EnvVar.CONNECTIONS_TABLE_NAME)
    connection_ttl_seconds: int = setting(
        EnvVar.CONNECTION_TTL_SECONDS, default=DEFAULT_CONNECTION_TTL_SECONDS, minimum=1
    )
    max_connections_per_user: int = setting(
        EnvVar.MAX_CONNECTIONS_PER_USER, default=DEFAULT_MAX_CONNECTIONS_PER_USER, minimum=1
    )


def _fanout_queue_url() -> Any:
    return field(default="", metadata={"env": EnvVar.FANOUT_QUEUE_URL, "minimum": None, "attached": True})


def _fanout_options() -> Any:
    return field(default_factory=FanoutOptions, metadata={"attached": True})


def fanout_path_env(queue_url: str, options: FanoutOptions) -> dict[str, str]:
    """The fan-out path's variables (queue and tuning), which ``Broadcaster.attach_fanout`` gives
    to every function that changes subscriptions or sends (presence flushes, typing, 410 cleanup)."""
    env = {EnvVar.FANOUT_QUEUE_URL: queue_url}
    for option in dataclasses.fields(FanoutOptions):
        env[option.metadata["env"]] = str(getattr(options, option.name))
    return env


@dataclass(frozen=True, kw_only=True)
class DisconnectSettings(FunctionSettings):
    function: ClassVar[str] = "ws_disconnect"
    connections_table_name: str = setting(EnvVar.CONNECTIONS_TABLE_NAME)
    fanout_queue_url: str = _fanout_queue_url()  # presence flush requests
    fanout: FanoutOptions = _fanout_options()


@dataclass(frozen=True, kw_only=True)
class ReplySettings(FunctionSettings):
    """What a function needs to answer its caller over @connections (and forget a gone one)."""

    function: ClassVar[str] = "replies"
    connections_table_name: str = setting(EnvVar.CONNECTIONS_TABLE_NAME)
    websocket_callback_url: str = setting(EnvVar.WEBSOCKET_CALLBACK_URL)
    fanout_queue_url: str = _fanout_queue_url()
    fanout: FanoutOptions = _fanout_options()


@dataclass(frozen=True, kw_only=True)
class DefaultRouteSettings(ReplySettings):
    """``$default``: replies, within the per-connection frame rate it shares with the actions."""

    function: ClassVar[str] = "ws_default"
    action_rate: int = setting(EnvVar.ACTION_RATE, default=DEFAULT_ACTION_RATE, minimum=1)
    action_burst: int = setting(EnvVar.ACTION_BURST, default=DEFAULT_ACTION_BURST, minimum=1)


@dataclass(frozen=True, kw_only=True)
class ActionsSettings(DefaultRouteSettings):
    function: ClassVar[str] = "ws_actions"
    comments_table_name: str = setting(EnvVar.COMMENTS_TABLE_NAME)
    comments_page_size: int = setting(
        EnvVar.COMMENTS_PAGE_SIZE, default=DEFAULT_COMMENTS_PAGE_SIZE, minimum=1
    )
    max_subscriptions_per_connection: int = setting(
        EnvVar.MAX_SUBSCRIPTIONS_PER_CONNECTION, default=DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION, minimum=1
    )


@dataclass(frozen=True, kw_only=True)
class CommentsApiSettings(FunctionSettings):
    function: ClassVar[str] = "comments_api"
    comments_table_name: str = setting(EnvVar.COMMENTS_TABLE_NAME)
    connections_table_name: str = setting(EnvVar.CONNECTIONS_TABLE_NAME)
    idempotency_table_name: str = setting(EnvVar.IDEMPOTENCY_TABLE_NAME)
    comments_page_size: int = setting(
        EnvVar.COMMENTS_PAGE_SIZE, default=DEFAULT_COMMENTS_PAGE_SIZE, minimum=1
    )
    comment_write_rate: int = setting(
        EnvVar.COMMENT_WRITE_RATE, default=DEFAULT_COMMENT_WRITE_RATE, minimum=1
    )
    comment_write_burst: int = setting(
        EnvVar.COMMENT_WRITE_BURST, default=DEFAULT_COMMENT_WRITE_BURST, minimum=1
    )


@dataclass(frozen=True, kw_only=True)
class BroadcastSettings(ReplySettings):
    """The stream broadcaster and the broadcast endpoint: publish to a post's subscribers."""

    function: ClassVar[str] = "broadcaster"
    writes_fanout_path: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class BroadcastEndpointSettings(BroadcastSettings):
    """The broadcast endpoint: who may call it (IAM role or user ARNs) and what they may send.
    Empty (the default) admits nobody and no type: the endpoint fails closed."""

    function: ClassVar[str] = "broadcast_endpoint"
    broadcast_principals: tuple[str, ...] = setting(EnvVar.BROADCAST_PRINCIPALS, default=())
    broadcast_message_types: tuple[str, ...] = setting(EnvVar.BROADCAST_MESSAGE_TYPES, default=())


@dataclass(frozen=True, kw_only=True)
class FanoutWorkerSettings(ReplySettings):
    function: ClassVar[str] = "fanout_worker"


@dataclass(frozen=True, kw_only=True)
class NotifierSettings(FanoutWorkerSettings):
    """The notifier: stores reply notifications and pushes them to the user's connections."""

    function: ClassVar[str] = "notifier"
    notifications_table_name: str = setting(EnvVar.NOTIFICATIONS_TABLE_NAME)
    notification_ttl_seconds: int = setting(
        EnvVar.NOTIFICATION_TTL_SECONDS, default=DEFAULT_NOTIFICATION_TTL_SECONDS, minimum=1
    )


@dataclass(frozen=True, kw_only=True)
class NotificationsApiSettings(FunctionSettings):
    function: ClassVar[str] = "notifications_api"
    notifications_table_name: str = setting(EnvVar.NOTIFICATIONS_TABLE_NAME)
