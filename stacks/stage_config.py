"""Typed per-stage configuration.

Every stage (``dev``, ``staging``, ``prod``) is defined here in code. A stage can be tuned from
``cdk.json`` context without code changes::

    "context": {
      "realtime-comments": {
        "prod": {"allowedOrigins": ["https://comments.example.com"], "alarmEmail": "ops@example.com"}
      }
    }

Context keys are the camelCase names of the ``StageConfig`` fields (``allowedOrigins``,
``logRetentionDays``, ``websocketThrottle``: ``{"rateLimit": .., "burstLimit": ..}``, ...).
Unknown keys raise ``ValueError`` so typos do not pass silently.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from realtime_comments.settings import (
    DEFAULT_ACTION_BURST,
    DEFAULT_ACTION_RATE,
    DEFAULT_COMMENT_WRITE_BURST,
    DEFAULT_COMMENT_WRITE_RATE,
    DEFAULT_COMMENTS_PAGE_SIZE,
    DEFAULT_CONNECTION_TTL_SECONDS,
    DEFAULT_MAX_CONNECTIONS_PER_USER,
    DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION,
    FanoutOptions,
)

STAGES: tuple[str, ...] = ("dev", "staging", "prod")
CONTEXT_KEY = "realtime-comments"
# Which stages the app builds (``-c stages=dev`` or ``dev,prod``; default all): `make dev`
# synthesizes only dev.
STAGES_CONTEXT_KEY = "stages"
# Whether the app registers the cdk-nag AwsSolutions validation (``-c nag=false``; default on):
# only `make dev`'s local synth turns it off, to start faster.
NAG_CONTEXT_KEY = "nag"

LOCAL_ORIGINS: tuple[str, ...] = ("http://localhost:3000", "http://127.0.0.1:3000")
# The principal the local runtime reports for SigV4 requests (account 000000000000, which no real
# account has, so in the cloud it admits nobody).
LOCAL_RUNTIME_PRINCIPAL = "arn:aws:iam::000000000000:user/local"


@dataclass(frozen=True)
class Throttle:
    """API Gateway stage throttling: steady-state requests per second and burst size."""

    rate_limit: float
    burst_limit: int


@dataclass(frozen=True)
class AlarmThresholds:
    """Thresholds of the Monitoring construct's alarms."""

    broadcaster_errors: int = 1  # Lambda Errors per 5 minutes (stream broadcaster and fan-out worker)
    iterator_age_ms: int = 60_000  # stream IteratorAge maximum
    http_5xx: int = 5  # HTTP API 5xx per 5 minutes
    dlq_messages: int = 0  # alarm when ApproximateNumberOfMessagesVisible is greater than this


# MiB per function (handler module), chosen by `python -m benchmarks.cost`: for each function the
# fastest size that costs at most 10 % more per invocation than the cheapest (benchmarks/README.md,
# "Memory sizes", has the curves). The fan-out functions are CPU-bound: their cost is flat up to one
# full vCPU (1769 MB), so they take it and finish 13x sooner than at 128 MB for the same bill.
MEASURED_MEMORY_SIZES: dict[str, int] = {
    "authorizer": 1024,
    "ws_connect": 256,
    "ws_disconnect": 256,
    "ws_actions": 256,
    "comments_api": 256,
    "stream_broadcaster": 1769,
    "fanout_worker": 1769,
    "broadcast_endpoint": 1769,
}


@dataclass(frozen=True)
class AbuseLimits:
    """Per-user and per-connection limits (docs/security.md, "Limits"); the same in every stage
    unless a stage overrides them (context key ``limits``)."""

    subscriptions_per_connection: int = DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION
    connections_per_user: int = DEFAULT_MAX_CONNECTIONS_PER_USER
    comment_writes_per_second: int = DEFAULT_COMMENT_WRITE_RATE  # POST, PATCH and DELETE together, per user
    comment_write_burst: int = DEFAULT_COMMENT_WRITE_BURST
    action_frames_per_second: int = DEFAULT_ACTION_RATE  # per connection, actions and $default together
    action_frame_burst: int = DEFAULT_ACTION_BURST

    def __post_init__(self) -> None:
        for name, value in dataclasses.asdict(self).items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"limits.{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class ReservedConcurrency:
    """Reserved (and capped) concurrency of the functions that can fan out (context key
    ``reservedConcurrency``). None reserves nothing, which accounts with a low concurrency quota
    need: Lambda keeps at least 100 executions of an account unreserved."""

    fanout_worker: int | None = None
    stream_broadcaster: int | None = None
    broadcast_endpoint: int | None = None


@dataclass(frozen=True)
class SiteHosting:
    """The page's host in the stage (context key ``site``: ``{"enabled": true, "domainNames":
    [..], "certificateArn": "..", "webAclId": ".."}``): the StaticSite construct, a private S3
    bucket behind CloudFront with the page's security headers and ``runtime-config.json`` from the
    stack's outputs. On in staging and prod, where users load the page; off in dev, which the
    local runtime serves (with the same headers) and where a distribution would only add minutes
    to each deployment. The site's origin must be one of the stage's ``allowed_origins``."""

    enabled: bool = False
    # Alternate domain names, with an ACM certificate in us-east-1 (both or neither).
    domain_names: tuple[str, ...] = ()
    certificate_arn: str | None = None
    web_acl_id: str | None = None  # a WAF web ACL (CLOUDFRONT scope) to attach

    def __post_init__(self) -> None:
        if bool(self.domain_names) != (self.certificate_arn is not None):
            raise ValueError("site.domainNames and site.certificateArn go together")


# The static export to upload with the page (``-c siteAssets=frontend/out``; `make deploy` builds
# and passes it). Without it a deployment writes only runtime-config.json and keeps the files
# uploaded before, so synthesis never depends on a frontend build.
SITE_ASSETS_CONTEXT_KEY = "siteAssets"


@dataclass(frozen=True)
class StageConfig:
    """Everything that differs between stages. Constructs never read this: the stack maps it
    onto construct props."""

    name: str
    removal_policy: RemovalPolicy
    deletion_protection: bool
    point_in_time_recovery: bool
    log_retention: logs.RetentionDays
    websocket_throttle: Throttle
    http_throttle: Throttle
    allowed_origins: tuple[str, ...]
    connection_ttl_seconds: int = DEFAULT_CONNECTION_TTL_SECONDS
    comments_page_size: int = DEFAULT_COMMENTS_PAGE_SIZE
    # How long a reply notification lives (the notifications table's TTL).
    notification_ttl_days: int = 30
    alarm_thresholds: AlarmThresholds = field(default_factory=AlarmThresholds)
    fanout: FanoutOptions = field(default_factory=FanoutOptions)
    limits: AbuseLimits = field(default_factory=AbuseLimits)
    # IAM role or user ARNs allowed to call the broadcast endpoint (context: broadcastPrincipals).
    # Empty: nobody may broadcast until the deployer lists their services' roles.
    broadcast_principals: tuple[str, ...] = ()
    reserved_concurrency: ReservedConcurrency = field(default_factory=ReservedConcurrency)
    site: SiteHosting = field(default_factory=SiteHosting)
    log_level: str = "INFO"
    lambda_memory_mb: int = 256  # functions not in lambda_memory_sizes
    lambda_memory_sizes: Mapping[str, int] = field(default_factory=lambda: dict(MEASURED_MEMORY_SIZES))
    # "arm64" (Graviton: 20 % less per GB-second) or "x86_64", for every function of the stage.
    lambda_architecture: str = "arm64"
    # Lambda SnapStart for every function (published versions behind a `live` alias). Off by
    # default: it adds a cache charge per GB-second of each published version and a restore
    # charge per GB (see benchmarks/README.md, "SnapStart").
    snap_start: bool = False
    alarm_email: str | None = None
    # Cognito hosted sign-in for the browser app: a globally unique domain prefix, so no default.
    # Its callback URLs are the allowed origins (each with a trailing slash).
    cognito_domain_prefix: str | None = None
    # Create the SNS topic that alarm actions publish to.
    alarm_topic: bool = False
    # Set the account-level API Gateway CloudWatch Logs role (needed once per account and
    # region for WebSocket access logging).
    apigateway_account_logging_role: bool = True
    # The stage's AWS account (12 digits) and region. None: the CLI's account and region at
    # deploy time (app.py passes CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION when the CLI knows both),
    # else an environment-agnostic stack.
    account: str | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        if self.name not in STAGES:
            raise ValueError(f"unknown stage {self.name!r}; expected one of {STAGES}")
        if self.connection_ttl_seconds <= 0:
            raise ValueError("connection_ttl_seconds must be positive")
        if self.notification_ttl_days <= 0:
            raise ValueError("notification_ttl_days must be positive")
        if not 1 <= self.comments_page_size <= 200:
            raise ValueError("comments_page_size must be between 1 and 200")
        if self.lambda_architecture not in ("arm64", "x86_64"):
            raise ValueError(f"lambda_architecture must be arm64 or x86_64, got {self.lambda_architecture!r}")
        for function, size in self.lambda_memory_sizes.items():
            if not 128 <= size <= 10_240:
                raise ValueError(f"lambda_memory_sizes[{function!r}] must be 128..10240 MiB, got {size}")
        if self.account is not None and not re.fullmatch(r"\d{12}", self.account):
            raise ValueError(f"account must be 12 digits, got {self.account!r}")
        if self.region is not None and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", self.region):
            raise ValueError(f"region must look like eu-west-1, got {self.region!r}")
        if not self.allowed_origins:
            raise ValueError("allowed_origins must not be empty (use ('*',) to allow any)")
        for origin in self.allowed_origins:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"invalid origin {origin!r}: expected scheme://host[:port]")

    @property
    def stack_name(self) -> str:
        return f"RealtimeComments-{self.name}"

    @property
    def is_prod(self) -> bool:
        return self.name == "prod"


_BASE: dict[str, StageConfig] = {
    "dev": StageConfig(
        name="dev",
        removal_policy=RemovalPolicy.DESTROY,
        deletion_protection=False,
        point_in_time_recovery=False,
        log_retention=logs.RetentionDays.ONE_WEEK,
        websocket_throttle=Throttle(rate_limit=50, burst_limit=100),
        http_throttle=Throttle(rate_limit=50, burst_limit=100),
        allowed_origins=LOCAL_ORIGINS,
        broadcast_principals=(LOCAL_RUNTIME_PRINCIPAL,),
        log_level="DEBUG",
    ),
    "staging": StageConfig(
        name="staging",
        removal_policy=RemovalPolicy.DESTROY,
        deletion_protection=False,
        point_in_time_recovery=True,
        log_retention=logs.RetentionDays.ONE_MONTH,
        websocket_throttle=Throttle(rate_limit=500, burst_limit=1000),
        http_throttle=Throttle(rate_limit=500, burst_limit=1000),
        allowed_origins=("https://staging.comments.example.com",),
        reserved_concurrency=ReservedConcurrency(
            fanout_worker=10, stream_broadcaster=2, broadcast_endpoint=2
        ),
        alarm_topic=True,
        site=SiteHosting(enabled=True),
    ),
    "prod": StageConfig(
        name="prod",
        removal_policy=RemovalPolicy.RETAIN,
        deletion_protection=True,
        point_in_time_recovery=True,
        log_retention=logs.RetentionDays.SIX_MONTHS,
        websocket_throttle=Throttle(rate_limit=2000, burst_limit=5000),
        http_throttle=Throttle(rate_limit=2000, burst_limit=5000),
        allowed_origins=("https://comments.example.com",),
        reserved_concurrency=ReservedConcurrency(
            fanout_worker=50, stream_broadcaster=10, broadcast_endpoint=5
        ),
        alarm_thresholds=AlarmThresholds(broadcaster_errors=1, iterator_age_ms=30_000, http_5xx=5),
        alarm_topic=True,
        site=SiteHosting(enabled=True),
    ),
}

_RETENTION_BY_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _coerce(base: StageConfig, key: str, value: Any) -> Any:
    if key == "removal_policy":
        return RemovalPolicy[str(value).upper()]
    if key == "log_retention":
        days = int(value["days"] if isinstance(value, Mapping) else value)
        try:
            return _RETENTION_BY_DAYS[days]
        except KeyError as exc:
            raise ValueError(f"logRetentionDays {days} is not a CloudWatch Logs retention") from exc
    if key in ("websocket_throttle", "http_throttle"):
        return Throttle(**{_snake(k): v for k, v in dict(value).items()})
    if key == "alarm_thresholds":
        return dataclasses.replace(
            base.alarm_thresholds,
            **{_snake(k).replace("http5xx", "http_5xx"): v for k, v in dict(value).items()},
        )
    if key == "lambda_memory_sizes":
        return {**dict(base.lambda_memory_sizes), **{str(k): int(v) for k, v in dict(value).items()}}
    if key == "fanout":
        return dataclasses.replace(base.fanout, **{_snake(k): v for k, v in dict(value).items()})
    if key == "reserved_concurrency":
        return dataclasses.replace(
            base.reserved_concurrency, **{_snake(k): v for k, v in dict(value).items()}
        )
    if key == "site":
        changes = {_snake(k): v for k, v in dict(value).items()}
        if "domain_names" in changes:
            changes["domain_names"] = tuple(changes["domain_names"])
        return dataclasses.replace(base.site, **changes)
    if key == "limits":
        return dataclasses.replace(base.limits, **{_snake(k): v for k, v in dict(value).items()})
    if key in ("allowed_origins", "broadcast_principals"):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        return tuple(value)
    return value


def get_stage_config(name: str, context: Mapping[str, Any] | None = None) -> StageConfig:
    """Return the stage's configuration with the overrides from ``context[name]`` applied.

    ``context`` is the value of the ``realtime-comments`` context key (a mapping of stage name to
    camelCase overrides). ``logRetentionDays`` is accepted for ``log_retention``.
    """
    if name not in _BASE:
        raise ValueError(f"unknown stage {name!r}; expected one of {STAGES}")
    base = _BASE[name]
    overrides = dict((context or {}).get(name) or {})
    fields = {f.name for f in dataclasses.fields(StageConfig)} - {"name"}
    changes: dict[str, Any] = {}
    for raw_key, value in overrides.items():
        key = _snake(raw_key)
        if key == "log_retention_days":
            key = "log_retention"
        if key not in fields:
            raise ValueError(f"unknown setting {raw_key!r} in context {CONTEXT_KEY}.{name}")
        changes[key] = _coerce(base, key, value)
    return dataclasses.replace(base, **changes) if changes else base


def selected_stages(value: str | list[str] | None) -> tuple[str, ...]:
    """The stages named by the ``stages`` context value, in STAGES order; all when unset."""
    if value is None or value == "":
        return STAGES
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v) for v in value]
    unknown = sorted(set(names) - set(STAGES))
    if unknown or not names:
        raise ValueError(
            f"unknown stage(s) {unknown} in context {STAGES_CONTEXT_KEY!r}; expected some of {STAGES}"
        )
    return tuple(name for name in STAGES if name in names)


def all_stage_configs(context: Mapping[str, Any] | None = None) -> dict[str, StageConfig]:
    return {name: get_stage_config(name, context) for name in STAGES}


def nag_enabled(value: bool | str | None) -> bool:
    """The ``nag`` context value: on when unset; ``true``/``false`` as JSON (CDK_CONTEXT_JSON) or as
    the CLI's ``-c nag=false`` string."""
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"context {NAG_CONTEXT_KEY!r} is {value!r}; expected true or false")
