import dataclasses

import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from stacks.stage_config import (
    STAGES,
    StageConfig,
    Throttle,
    all_stage_configs,
    get_stage_config,
    nag_enabled,
)


def test_three_stages_defined_in_code():
    assert STAGES == ("dev", "staging", "prod")
    configs = all_stage_configs()
    assert [c.stack_name for c in configs.values()] == [
        "RealtimeComments-dev",
        "RealtimeComments-staging",
        "RealtimeComments-prod",
    ]


def test_dev_is_disposable_and_allows_local_origins():
    dev = get_stage_config("dev")
    assert dev.removal_policy == RemovalPolicy.DESTROY
    assert not dev.deletion_protection
    assert not dev.point_in_time_recovery
    assert "http://localhost:3000" in dev.allowed_origins
    assert "http://127.0.0.1:3000" in dev.allowed_origins
    assert dev.connection_ttl_seconds == 86_400
    assert dev.comments_page_size == 50


def test_prod_protects_state():
    prod = get_stage_config("prod")
    assert prod.removal_policy == RemovalPolicy.RETAIN
    assert prod.deletion_protection
    assert prod.point_in_time_recovery
    assert prod.is_prod
    assert "*" not in prod.allowed_origins


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_stage_config("dev").name = "prod"  # type: ignore[misc]


def test_context_overrides():
    ctx = {
        "staging": {
            "allowedOrigins": "https://a.example.com, https://b.example.com",
            "logRetentionDays": 14,
            "httpThrottle": {"rateLimit": 7, "burstLimit": 9},
            "alarmThresholds": {"http5xx": 3},
            "fanout": {"inlineLimit": 10},
            "connectionTtlSeconds": 3600,
        }
    }
    cfg = get_stage_config("staging", ctx)
    assert cfg.allowed_origins == ("https://a.example.com", "https://b.example.com")
    assert cfg.log_retention == logs.RetentionDays.TWO_WEEKS
    assert cfg.http_throttle == Throttle(rate_limit=7, burst_limit=9)
    assert cfg.alarm_thresholds.http_5xx == 3
    assert cfg.fanout.inline_limit == 10
    assert cfg.connection_ttl_seconds == 3600
    assert get_stage_config("prod", ctx) == get_stage_config("prod")


@pytest.mark.parametrize(
    "override",
    [{"noSuchSetting": 1}, {"allowedOrigins": ["localhost:3000"]}, {"logRetentionDays": 13}],
)
def test_bad_overrides_are_rejected(override):
    with pytest.raises(ValueError):
        get_stage_config("dev", {"dev": override})


def test_unknown_stage_rejected():
    with pytest.raises(ValueError):
        get_stage_config("qa")
    with pytest.raises(ValueError):
        dataclasses.replace(get_stage_config("dev"), name="qa")


def test_validation_of_values():
    dev = get_stage_config("dev")
    with pytest.raises(ValueError):
        dataclasses.replace(dev, connection_ttl_seconds=0)
    with pytest.raises(ValueError):
        dataclasses.replace(dev, allowed_origins=())
    assert isinstance(dev, StageConfig)


def test_cognito_domain_prefix_is_off_by_default_and_set_from_context():
    assert all(get_stage_config(name).cognito_domain_prefix is None for name in STAGES)
    config = get_stage_config("prod", {"prod": {"cognitoDomainPrefix": "comments-example-prod"}})
    assert config.cognito_domain_prefix == "comments-example-prod"


def test_measured_memory_sizes_and_their_override():
    from realtime_comments_cdk.lambda_defaults import FunctionDefaults

    from stacks.stage_config import MEASURED_MEMORY_SIZES

    dev = get_stage_config("dev")
    assert dict(dev.lambda_memory_sizes) == MEASURED_MEMORY_SIZES
    assert dev.lambda_architecture == "arm64"
    tuned = get_stage_config(
        "prod", {"prod": {"lambdaMemorySizes": {"comments_api": 512}, "lambdaArchitecture": "x86_64"}}
    )
    assert tuned.lambda_memory_sizes["comments_api"] == 512
    assert tuned.lambda_memory_sizes["stream_broadcaster"] == MEASURED_MEMORY_SIZES["stream_broadcaster"]
    assert tuned.lambda_architecture == "x86_64"
    defaults = FunctionDefaults(memory_size=300, memory_sizes=tuned.lambda_memory_sizes)
    assert defaults.memory_size_for("handlers.comments_api.handler") == 512
    assert defaults.memory_size_for("handlers.notifier.handler") == 300
    with pytest.raises(ValueError):
        get_stage_config("dev", {"dev": {"lambdaMemorySizes": {"comments_api": 64}}})
    with pytest.raises(ValueError):
        get_stage_config("dev", {"dev": {"lambdaArchitecture": "sparc"}})


@pytest.mark.parametrize(
    ("value", "enabled"),
    [(None, True), (True, True), (False, False), ("true", True), ("false", False), ("False", False)],
)
def test_nag_context_values(value, enabled):
    assert nag_enabled(value) is enabled


@pytest.mark.parametrize("value", ["no", "0", 0, ""])
def test_nag_context_other_than_true_or_false_is_refused(value):
    with pytest.raises(ValueError, match="context 'nag'.*expected true or false"):
        nag_enabled(value)
