"""Helpers shared by the infrastructure tests (importable as ``infra_helpers``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGE_NAMES = ("dev", "staging", "prod")


def cdk_context() -> dict:
    """cdk.json's context: the feature flags and per-stage settings the CLI would pass."""
    return dict(json.loads((REPO_ROOT / "cdk.json").read_text())["context"])


_HASH = re.compile(r"[0-9a-f]{64}")


def normalize_template(template: dict) -> dict:
    """Template without churn: asset hashes (and so asset S3 keys) replaced, CDK's analytics
    resource dropped. Editing handler code or bumping the layer's requirements changes nothing."""
    text = _HASH.sub("<ASSET_HASH>", json.dumps(template, sort_keys=True))
    out = json.loads(text)
    out.get("Resources", {}).pop("CDKMetadata", None)
    out.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    if out.get("Conditions") == {}:
        out.pop("Conditions")
    return out


def resources_of(template: dict, type_: str) -> dict:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def manage_connections_resources(template) -> dict[str, list[str]]:
    """Role logical id -> the ManageConnections resources its policy grants (rendered)."""
    found: dict[str, list[str]] = {}
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Action"] != "execute-api:ManageConnections":
                continue
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            for role in policy["Properties"]["Roles"]:
                found.setdefault(role["Ref"], []).extend(json.dumps(r) for r in resources)
    return found


def websocket_api(stack, connections, comments, stage_name: str = "test"):
    """A WebSocketApi over the given tables, for constructs that take one."""
    from realtime_comments_cdk import WebSocketApi, WebSocketApiOptions

    return WebSocketApi(
        stack,
        "WebSocket",
        connections_table=connections,
        comments_table=comments,
        jwt_issuer="https://issuer.example.com",
        jwt_audience="client-123",
        jwks_url="https://issuer.example.com/.well-known/jwks.json",
        allowed_origins=("https://app.example.com",),
        options=WebSocketApiOptions(stage_name=stage_name),
    )
