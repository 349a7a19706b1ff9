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
