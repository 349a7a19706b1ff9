#!/usr/bin/env python3
"""CDK app: one env-agnostic stack per stage (RealtimeComments-dev / -staging / -prod).

    npx cdk synth                              # every stage, offline, no credentials
    CDK_OUTDIR=cdk.out python app.py           # the same without the CLI
    npx cdk deploy RealtimeComments-<stage>    # deploy one stage (make deploy STAGE=<stage>)

JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION must list the Node major ("20") to silence jsii's
end-of-life banner; app.py adds it when missing. Per-stage overrides come from the
``realtime-comments`` context key in cdk.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# jsii silences its end-of-life banner only for the Node majors listed (comma-separated).
_SILENCE = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"
if "20" not in os.environ.get(_SILENCE, "").split(","):
    os.environ[_SILENCE] = ",".join(v for v in (os.environ.get(_SILENCE, ""), "20") if v)

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from stacks.realtime_comments_stack import RealtimeCommentsStack  # noqa: E402
from stacks.stage_config import CONTEXT_KEY, STAGES, get_stage_config  # noqa: E402

CDK_JSON = Path(__file__).resolve().parent / "cdk.json"


def cdk_json_context() -> dict:
    """The ``context`` of cdk.json (feature flags and per-stage settings). The CLI passes it itself;
    ``python app.py`` and the tests load it here so every way of synthesizing gives one template."""
    return dict(json.loads(CDK_JSON.read_text()).get("context", {}))


def build_app(app: cdk.App | None = None) -> tuple[cdk.App, dict[str, RealtimeCommentsStack]]:
    """Create the app and its stacks (one per stage) with the cdk-nag AwsSolutions pack registered."""
    # Context given by the CLI (CDK_CONTEXT_JSON) overrides these defaults.
    app = app or cdk.App(context=cdk_json_context())
    context = app.node.try_get_context(CONTEXT_KEY) or {}
    stacks: dict[str, RealtimeCommentsStack] = {}
    for name in STAGES:
        config = get_stage_config(name, context)
        stacks[name] = RealtimeCommentsStack(app, config.stack_name, config=config)
    # cdk-nag v3 is a policy-validation plugin: synthesis fails on any unacknowledged finding.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app, stacks


if __name__ == "__main__":
    application, _ = build_app()
    application.synth()
