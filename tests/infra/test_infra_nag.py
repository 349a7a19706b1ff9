"""Each construct owns its cdk-nag findings: any subset, composed as another team would, with its
defaults, synthesizes under AwsSolutionsChecks with no unacknowledged finding, and every
acknowledgment is a construct's own, with its reason."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks
from infra_helpers import cdk_context
from realtime_comments_cdk import (
    Broadcaster,
    CommentsApi,
    CommentsStore,
    ConnectionsStore,
    Identity,
    NotificationsStore,
    OidcIssuer,
    StaticSite,
    TableOptions,
    WebSocketApi,
)
from realtime_comments_cdk._nag import REASONS

ISSUER = OidcIssuer(issuer_url="https://login.example.com/", audience="team-client")


def _websocket(stack: cdk.Stack, connections, comments) -> WebSocketApi:
    identity = Identity(stack, "Identity", oidc_issuer=ISSUER)
    return WebSocketApi(
        stack,
        "WebSocket",
        connections_table=connections.table,
        comments_table=comments.table,
        jwt_issuer=identity.issuer,
        jwt_audience=identity.audience,
        jwks_url=identity.jwks_url,
        allowed_origins=("https://app.example.com",),
    )


def _stores_only(stack: cdk.Stack) -> None:
    ConnectionsStore(stack, "Connections")
    CommentsStore(stack, "Comments")
    NotificationsStore(stack, "Notifications")


def _websocket_alone(stack: cdk.Stack) -> None:
    _websocket(stack, ConnectionsStore(stack, "Connections"), CommentsStore(stack, "Comments"))


def _websocket_and_broadcaster(stack: cdk.Stack) -> None:
    connections, comments = ConnectionsStore(stack, "Connections"), CommentsStore(stack, "Comments")
    websocket = _websocket(stack, connections, comments)
    Broadcaster(
        stack,
        "Broadcaster",
        comments_table=comments.table,
        connections_table=connections.table,
        websocket=websocket,
        notifications=NotificationsStore(stack, "Notifications"),
    )


def _everything_with_cognito(stack: cdk.Stack) -> None:
    connections, comments = ConnectionsStore(stack, "Connections"), CommentsStore(stack, "Comments")
    identity = Identity(stack, "Identity")
    websocket = WebSocketApi(
        stack,
        "WebSocket",
        connections_table=connections.table,
        comments_table=comments.table,
        jwt_issuer=identity.issuer,
        jwt_audience=identity.audience,
        jwks_url=identity.jwks_url,
        allowed_origins=("https://app.example.com",),
    )
    broadcaster = Broadcaster(
        stack,
        "Broadcaster",
        comments_table=comments.table,
        connections_table=connections.table,
        websocket=websocket,
    )
    CommentsApi(
        stack,
        "Api",
        comments_table=comments.table,
        connections_table=connections.table,
        jwt_issuer=identity.issuer,
        jwt_audience=identity.audience,
        websocket=websocket,
        allowed_origins=("https://app.example.com",),
        broadcast_principals=("arn:aws:iam::123456789012:role/orders-service",),
        broadcaster=broadcaster,
        notifications=NotificationsStore(stack, "Notifications"),
    )


def _static_site(stack: cdk.Stack) -> None:
    # The upload of runtime-config.json brings CDK's BucketDeployment handler and its grants.
    StaticSite(
        stack,
        "Site",
        connect_origins=("https://api.example.com", "wss://ws.example.com"),
        runtime_config={"apiUrl": f"https://{cdk.Aws.ACCOUNT_ID}.api.example.com/"},
    )


def _synth_report(tmp_path, compose) -> dict:
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=cdk_context())
    stack = cdk.Stack(app, "TeamStack")
    compose(stack)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on any unacknowledged finding
    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    packs = {r["pluginName"]: r for r in report["pluginReports"]}
    # The pack reports only when it found something (even if all of it is acknowledged).
    return packs.get("AwsSolutions", {"conclusion": "success", "violations": [], "suppressedViolations": []})


@pytest.mark.parametrize(
    "compose",
    [_stores_only, _websocket_alone, _websocket_and_broadcaster, _everything_with_cognito, _static_site],
)
def test_a_subset_of_constructs_passes_aws_solutions_checks(tmp_path, compose):
    pack = _synth_report(tmp_path, compose)
    assert pack["conclusion"] == "success" and pack["violations"] == []
    for finding in pack["suppressedViolations"]:
        assert finding["reason"] in REASONS.values(), finding["acknowledgedId"]


def test_a_deployer_choice_against_the_default_is_not_acknowledged_for_them(tmp_path):
    def compose(stack: cdk.Stack) -> None:
        ConnectionsStore(stack, "Connections", table_options=TableOptions(point_in_time_recovery=False))

    with pytest.raises(RuntimeError, match="Validation"):
        _synth_report(tmp_path, compose)
