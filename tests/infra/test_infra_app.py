"""The whole app (every stage), synthesized once per session (see conftest.synthesized)."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Annotations, Match
from infra_helpers import STAGE_NAMES, normalize_template, resources_of
from realtime_comments.settings import (
    ActionsSettings,
    AuthorizerSettings,
    BroadcastEndpointSettings,
    BroadcastSettings,
    CommentsApiSettings,
    ConnectSettings,
    DefaultRouteSettings,
    DisconnectSettings,
    FanoutWorkerSettings,
    NotificationsApiSettings,
    NotifierSettings,
)
from syrupy.extensions.json import JSONSnapshotExtension

from stacks.nag_suppressions import NAG_REASONS
from stacks.realtime_comments_stack import STATEFUL_LOGICAL_IDS
from stacks.stage_config import MEASURED_MEMORY_SIZES, NAG_CONTEXT_KEY

ALL_FUNCTION_HANDLERS = {
    "handlers.authorizer.handler",
    "handlers.ws_connect.handler",
    "handlers.ws_disconnect.handler",
    "handlers.ws_actions.handler",
    "handlers.ws_default.handler",
    "handlers.comments_api.handler",
    "handlers.broadcast_endpoint.handler",
    "handlers.stream_broadcaster.handler",
    "handlers.fanout_worker.handler",
    "handlers.notifier.handler",
    "handlers.notifications_api.handler",
}

# Each function's environment is exactly its settings class's variables (the settings contract,
# realtime_comments.settings), besides POWERTOOLS_*.
EXPECTED_ENV = {
    "handlers.authorizer.handler": AuthorizerSettings.variables(),
    "handlers.ws_connect.handler": ConnectSettings.variables(),
    "handlers.ws_disconnect.handler": DisconnectSettings.variables(),
    "handlers.ws_actions.handler": ActionsSettings.variables(),
    "handlers.ws_default.handler": DefaultRouteSettings.variables(),
    "handlers.comments_api.handler": CommentsApiSettings.variables(),
    "handlers.broadcast_endpoint.handler": BroadcastEndpointSettings.variables(),
    "handlers.stream_broadcaster.handler": BroadcastSettings.variables(),
    "handlers.fanout_worker.handler": FanoutWorkerSettings.variables(),
    "handlers.notifier.handler": NotifierSettings.variables(),
    "handlers.notifications_api.handler": NotificationsApiSettings.variables(),
}
POWERTOOLS_ENV = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}

# cfn-lint findings that are acknowledged, with the reason. Everything else fails the test.
CFN_LINT_IGNORED = {
    "W3005": (
        "CDK adds an explicit DependsOn from each Lambda function to its execution role and the "
        "role's default policy, so the policy exists before the function can be invoked; the "
        "GetAtt on the role already implies half of it. Redundant, harmless."
    ),
}

STATEFUL_TYPES = {
    "ConnectionsTable": "AWS::DynamoDB::Table",
    "CommentsTable": "AWS::DynamoDB::Table",
    "IdempotencyTable": "AWS::DynamoDB::Table",
    "NotificationsTable": "AWS::DynamoDB::Table",
    "UserPool": "AWS::Cognito::UserPool",
}


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_stack_names_and_outputs(synthesized, stage):
    stack = synthesized.stacks[stage]
    assert stack.stack_name == f"RealtimeComments-{stage}"
    outputs = synthesized.template_json(stage)["Outputs"]
    assert set(outputs) == {
        "WebSocketUrl",
        "WebSocketCallbackUrl",
        "HttpApiUrl",
        "UserPoolId",
        "UserPoolClientId",
        "BroadcastEndpointUrl",
        # The page's host, in the stages that have one (StageConfig.site; staging and prod).
        *(("SiteUrl", "SiteBucketName", "SiteDistributionId") if stage != "dev" else ()),
    }
    ws_url = json.dumps(outputs["WebSocketUrl"]["Value"])
    callback = json.dumps(outputs["WebSocketCallbackUrl"]["Value"])
    assert "wss://" in ws_url and f"/{stage}" in ws_url
    assert "https://" in callback and f"/{stage}" in callback and "execute-api" in callback
    assert "api/v1/broadcast" in json.dumps(outputs["BroadcastEndpointUrl"]["Value"])


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_stateful_logical_ids(synthesized, stage):
    resources = synthesized.template_json(stage)["Resources"]
    assert set(STATEFUL_LOGICAL_IDS.values()) == set(STATEFUL_TYPES)
    for logical_id, type_ in STATEFUL_TYPES.items():
        assert resources[logical_id]["Type"] == type_, logical_id
    # Exactly these stateful resources, nothing else stateful hides behind a generated id.
    assert set(resources_of(synthesized.template_json(stage), "AWS::DynamoDB::Table")) == {
        "ConnectionsTable",
        "CommentsTable",
        "IdempotencyTable",
        "NotificationsTable",
    }


def test_prod_protects_stateful_resources(synthesized):
    t = synthesized.templates["prod"]
    for logical_id in ("ConnectionsTable", "CommentsTable", "NotificationsTable"):
        resource = t.to_json()["Resources"][logical_id]
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["UpdateReplacePolicy"] == "Retain"
        assert resource["Properties"]["DeletionProtectionEnabled"] is True
        assert resource["Properties"]["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }
    pool = t.to_json()["Resources"]["UserPool"]
    assert pool["DeletionPolicy"] == "Retain"
    assert pool["Properties"]["DeletionProtection"] == "ACTIVE"
    t.has_resource(
        "AWS::Logs::LogGroup", {"DeletionPolicy": "Retain", "Properties": {"RetentionInDays": 180}}
    )
    t.resource_count_is("AWS::SNS::Topic", 1)


def test_dev_is_disposable(synthesized):
    t = synthesized.templates["dev"]
    resources = t.to_json()["Resources"]
    for logical_id in (
        "ConnectionsTable",
        "CommentsTable",
        "IdempotencyTable",
        "NotificationsTable",
        "UserPool",
    ):
        assert resources[logical_id]["DeletionPolicy"] == "Delete", logical_id
    for logical_id in ("ConnectionsTable", "CommentsTable"):
        assert resources[logical_id]["Properties"]["DeletionProtectionEnabled"] is False
    t.resource_count_is("AWS::SNS::Topic", 0)
    assert all(
        v["DeletionPolicy"] == "Delete" for v in resources_of(t.to_json(), "AWS::Logs::LogGroup").values()
    )


def test_staging_has_pitr(synthesized):
    resources = synthesized.template_json("staging")["Resources"]
    for logical_id in ("ConnectionsTable", "CommentsTable"):
        assert resources[logical_id]["Properties"]["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_functions_match_design(synthesized, stage):
    functions = resources_of(synthesized.template_json(stage), "AWS::Lambda::Function")
    # CDK's own upload function of the StaticSite (staging and prod) is not one of the project's.
    uploads = [lid for lid in functions if lid.startswith("CustomCDKBucketDeployment")]
    assert len(uploads) == (0 if stage == "dev" else 1)
    by_handler = {
        f["Properties"]["Handler"]: f["Properties"] for lid, f in functions.items() if lid not in uploads
    }
    assert set(by_handler) == ALL_FUNCTION_HANDLERS
    for handler, props in by_handler.items():
        assert props["Runtime"] == "python3.14"
        assert props["Architectures"] == ["arm64"]  # Graviton: StageConfig.lambda_architecture
        powertools = [layer for layer in props["Layers"] if "Fn::Sub" in layer]
        assert [layer["Fn::Sub"].rsplit(":", 2)[-2:] for layer in powertools] == [
            ["AWSLambdaPowertoolsPythonV3-python314-arm64", "27"]
        ]
        assert props["TracingConfig"] == {"Mode": "Active"}
        module = handler.split(".")[1]
        assert props["MemorySize"] == MEASURED_MEMORY_SIZES.get(module, 256), handler
        env = set(props["Environment"]["Variables"])
        assert env == EXPECTED_ENV[handler] | POWERTOOLS_ENV, handler
        assert props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "realtime-comments"
        assert props["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == "RealtimeComments"


def test_stage_values_reach_functions(synthesized):
    dev = {
        f["Properties"]["Handler"]: f["Properties"]["Environment"]["Variables"]
        for f in resources_of(synthesized.template_json("dev"), "AWS::Lambda::Function").values()
    }
    assert (
        dev["handlers.authorizer.handler"]["ALLOWED_ORIGINS"] == "http://localhost:3000,http://127.0.0.1:3000"
    )
    assert dev["handlers.ws_connect.handler"]["CONNECTION_TTL_SECONDS"] == "86400"
    assert dev["handlers.ws_actions.handler"]["COMMENTS_PAGE_SIZE"] == "50"
    # The abuse limits' defaults (docs/security.md) apply to dev, and so to the local runtime.
    assert dev["handlers.ws_actions.handler"]["MAX_SUBSCRIPTIONS_PER_CONNECTION"] == "50"
    assert dev["handlers.ws_connect.handler"]["MAX_CONNECTIONS_PER_USER"] == "10"
    assert dev["handlers.comments_api.handler"]["COMMENT_WRITE_RATE"] == "5"
    assert dev["handlers.comments_api.handler"]["COMMENT_WRITE_BURST"] == "20"
    for frames in ("handlers.ws_actions.handler", "handlers.ws_default.handler"):
        assert (dev[frames]["ACTION_RATE"], dev[frames]["ACTION_BURST"]) == ("10", "20")
    assert dev["handlers.stream_broadcaster.handler"]["FANOUT_INLINE_LIMIT"] == "2000"
    assert dev["handlers.authorizer.handler"]["JWT_ISSUER"] == {"Fn::GetAtt": ["UserPool", "ProviderURL"]}
    assert dev["handlers.ws_actions.handler"]["CONNECTIONS_TABLE_NAME"] == {"Ref": "ConnectionsTable"}
    assert dev["handlers.comments_api.handler"]["IDEMPOTENCY_TABLE_NAME"] == {"Ref": "IdempotencyTable"}
    assert dev["handlers.notifier.handler"]["NOTIFICATIONS_TABLE_NAME"] == {"Ref": "NotificationsTable"}
    assert dev["handlers.notifier.handler"]["NOTIFICATION_TTL_SECONDS"] == str(30 * 86400)
    assert dev["handlers.notifications_api.handler"]["NOTIFICATIONS_TABLE_NAME"] == {
        "Ref": "NotificationsTable"
    }


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_tags(synthesized, stage):
    synthesized.templates[stage].has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "Tags": Match.array_with(
                [{"Key": "Project", "Value": "RealtimeComments"}, {"Key": "Stage", "Value": stage}]
            )
        },
    )


def test_dependencies_layer_is_shared_and_stable(synthesized):
    keys = set()
    for stage in STAGE_NAMES:
        layers = resources_of(synthesized.template_json(stage), "AWS::Lambda::LayerVersion")
        # Not the AWS CLI layer of StaticSite's upload function (staging and prod).
        layers = {lid: layer for lid, layer in layers.items() if "AwsCliLayer" not in lid}
        assert list(layers) == [next(iter(layers))] and next(iter(layers)).startswith("DependenciesLayer")
        keys.add(json.dumps(next(iter(layers.values()))["Properties"]["Content"]["S3Key"]))
    assert len(keys) == 1  # same custom hash in every stage: requirements + platform only


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_snapshot(synthesized, stage, snapshot):
    assert normalize_template(synthesized.template_json(stage)) == snapshot(
        extension_class=JSONSnapshotExtension
    )


# ------------------------------------------------------------------------------------- cdk-nag
def test_cdk_nag_report_has_no_unacknowledged_finding(synthesized):
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    packs = {r["pluginName"]: r for r in report["pluginReports"]}
    assert packs["AwsSolutions"]["conclusion"] == "success"
    assert packs["AwsSolutions"]["violations"] == []
    from realtime_comments_cdk._nag import REASONS

    reasons = set(NAG_REASONS.values()) | set(REASONS.values())
    suppressed = packs["AwsSolutions"]["suppressedViolations"]
    assert suppressed, "expected the acknowledged findings in the report"
    for finding in suppressed:
        assert finding["acknowledgedId"].startswith("AwsSolutions::AwsSolutions-")
        assert finding["reason"] in reasons, finding["acknowledgedId"]
    for other in packs.values():
        assert other["violations"] == [], other["pluginName"]


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_cdk_nag_no_annotations(synthesized, stage):
    annotations = Annotations.from_stack(synthesized.stacks[stage])
    assert annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*")) == []
    assert annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*")) == []


def test_cdk_nag_is_enforced(bare_stack):
    """The plugin is live: an unacknowledged finding fails synthesis."""
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks
    from realtime_comments_cdk import ConnectionsStore, TableOptions

    stack = bare_stack()
    # PITR turned off and nothing acknowledged: AwsSolutions-DDB3.
    ConnectionsStore(stack, "Connections", table_options=TableOptions(point_in_time_recovery=False))
    app = stack.node.root
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="DDB3|Validation"):
        app.synth()


# ------------------------------------------------------------------------------------- cfn-lint
@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_cfn_lint(synthesized, stage):
    from cfnlint.api import ManualArgs, lint_file

    template = synthesized.template_file(stage)
    matches = lint_file(template, ManualArgs(regions=["us-east-1", "eu-west-1"]))
    unexpected = [f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.id not in CFN_LINT_IGNORED]
    assert unexpected == []
    assert not [m for m in matches if m.rule.id.startswith("E")]


_DDB_OPERATIONS = {
    "put_item": "PutItem",
    "get_item": "GetItem",
    "delete_item": "DeleteItem",
    "update_item": "UpdateItem",
    "query": "Query",
    "scan": "Scan",
    "batch_write_item": "BatchWriteItem",
    "batch_get_item": "BatchGetItem",
    "transact_write_items": "TransactWriteItems",
    "transact_get_items": "TransactGetItems",
}


def test_granted_dynamodb_actions_cover_the_handler_code(synthesized):
    """Least privilege must not starve the handlers: every DynamoDB operation that the code in
    lambdas/realtime_comments calls is granted to some function (per-function precision is in
    stacks/realtime_constructs/_access.py)."""
    import re

    from infra_helpers import REPO_ROOT

    source = "\n".join(p.read_text() for p in (REPO_ROOT / "lambdas" / "realtime_comments").rglob("*.py"))
    called = {
        _DDB_OPERATIONS[op]
        for op in re.findall(r"\.(\w+)\(", source) + re.findall(r"_paginate\(\s*\"(\w+)\"", source)
        if op in _DDB_OPERATIONS
    }
    called |= {"GetItem", "PutItem", "UpdateItem", "DeleteItem"}  # Powertools idempotency layer
    granted = set()
    for policy in resources_of(synthesized.template_json("dev"), "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            granted |= {a.split(":", 1)[1] for a in actions if a.startswith("dynamodb:")}
    assert called <= granted, called - granted
    # No function may Scan: the health route reads the counter shards (BatchGetItem) and
    # broadcast_to_all queries byShard and the legacy registry shards; nothing else is broader than needed.
    assert "Scan" not in called and "Scan" not in granted
    item_operations = set(_DDB_OPERATIONS.values())  # leaving out the stream's DescribeStream etc.
    assert (granted & item_operations) - called == set(), (granted & item_operations) - called


def test_snap_start_stage_invokes_published_aliases(tmp_path):
    """With StageConfig.snap_start every function has SnapStart on published versions, and every
    API Gateway integration, authorizer and event source mapping invokes its `live` alias (SnapStart
    never applies to $LATEST); cdk-nag still passes (app.synth raises otherwise)."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template
    from infra_helpers import cdk_context

    from app import build_app

    context = cdk_context()
    context.setdefault("realtime-comments", {})
    context["realtime-comments"] = {**context["realtime-comments"], "dev": {"snapStart": True}}
    context["stages"] = "dev"
    app, stacks = build_app(cdk.App(outdir=str(tmp_path / "cdk.out"), context=context))
    app.synth()
    template = Template.from_stack(stacks["dev"]).to_json()
    functions = resources_of(template, "AWS::Lambda::Function")
    aliases = resources_of(template, "AWS::Lambda::Alias")
    assert functions and len(aliases) == len(functions)
    for props in (f["Properties"] for f in functions.values()):
        assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    alias_ids = set(aliases)
    text = json.dumps

    def invokes_alias(value: object) -> bool:
        rendered = text(value)
        return ":live" in rendered or any(a in rendered for a in alias_ids)

    mappings = resources_of(template, "AWS::Lambda::EventSourceMapping").values()
    assert mappings and all(invokes_alias(m["Properties"]["FunctionName"]) for m in mappings)
    integrations = resources_of(template, "AWS::ApiGatewayV2::Integration").values()
    assert integrations and all(invokes_alias(i["Properties"]["IntegrationUri"]) for i in integrations)
    authorizers = [
        a
        for a in resources_of(template, "AWS::ApiGatewayV2::Authorizer").values()
        if a["Properties"]["AuthorizerType"] == "REQUEST"
    ]
    assert authorizers and all(invokes_alias(a["Properties"]["AuthorizerUri"]) for a in authorizers)


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_every_function_is_reserved_or_says_why_not(synthesized, stage):
    """checkov CKV_AWS_115: a concurrency reservation, or the reason on the function itself."""
    template = synthesized.template_json(stage)
    for logical_id, function in resources_of(template, "AWS::Lambda::Function").items():
        reserved = function["Properties"].get("ReservedConcurrentExecutions")
        skips = function.get("Metadata", {}).get("checkov", {}).get("skip", [])
        if reserved is None:
            assert [s["id"] for s in skips] == ["CKV_AWS_115"] and len(skips[0]["comment"]) > 40, logical_id
        else:
            assert skips == [] and reserved >= 1, logical_id


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_fan_out_functions_are_reserved_and_the_queue_poller_stays_below(synthesized, stage):
    from stacks.stage_config import get_stage_config

    reserved = get_stage_config(stage).reserved_concurrency
    template = synthesized.template_json(stage)
    by_handler = {
        f["Properties"]["Handler"]: (logical_id, f["Properties"])
        for logical_id, f in resources_of(template, "AWS::Lambda::Function").items()
    }
    fanout_id, fanout = by_handler["handlers.fanout_worker.handler"]
    assert fanout["ReservedConcurrentExecutions"] == reserved.fanout_worker
    assert by_handler["handlers.stream_broadcaster.handler"][1]["ReservedConcurrentExecutions"] == (
        reserved.stream_broadcaster
    )
    assert by_handler["handlers.broadcast_endpoint.handler"][1]["ReservedConcurrentExecutions"] == (
        reserved.broadcast_endpoint
    )
    (mapping,) = [
        m["Properties"]
        for m in resources_of(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": fanout_id}
    ]
    assert 2 <= mapping["ScalingConfig"]["MaximumConcurrency"] <= reserved.fanout_worker


@pytest.mark.parametrize("value", [False, "false"])
def test_nag_false_skips_only_the_validation(synthesized, tmp_path, value):
    """`make dev`'s local synth (`"nag": false`, or `-c nag=false`) runs no AwsSolutions pack but
    writes the same dev template; every other synth validates (the report of `synthesized`)."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template
    from infra_helpers import cdk_context

    from app import build_app

    def packs(outdir):
        report = outdir / "validation-report.json"
        plugins = json.loads(report.read_text())["pluginReports"] if report.exists() else []
        return {r["pluginName"] for r in plugins}

    assert "AwsSolutions" in packs(synthesized.outdir)
    outdir = tmp_path / "cdk.out"
    context = {**cdk_context(), "stages": "dev", NAG_CONTEXT_KEY: value}
    app, stacks = build_app(cdk.App(outdir=str(outdir), context=context))
    app.synth()
    assert "AwsSolutions" not in packs(outdir)
    assert Template.from_stack(stacks["dev"]).to_json() == synthesized.template_json("dev")
