#!/usr/bin/env python3
"""CDK app: one ``cdk.Stage`` per environment (dev, staging, prod), each holding the stack
``RealtimeComments-<stage>`` (CLI name ``<stage>/RealtimeComments``).

    npx cdk synth                              # every stage, offline, no credentials
    npx cdk synth -c stages=dev                # only the listed stages (comma-separated)
    CDK_OUTDIR=cdk.out python app.py           # the same without the CLI
    npx cdk deploy 'dev/*'                     # deploy one stage (make deploy STAGE=<stage>)

Each stage deploys to its ``StageConfig`` account and region; where those are unset, to the CLI's
(CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION, when the CLI has credentials), else the stack is
environment-agnostic. JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION must list the Node major ("20")
to silence jsii's end-of-life banner; app.py adds it when missing. Per-stage overrides come from
the ``realtime-comments`` context key in cdk.json. ``-c nag=false`` skips the cdk-nag policy
validation (``make dev``'s local-only synth does, to start faster; every other synth, the tests and
CI keep it).
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
from stacks.realtime_comments_stage import RealtimeCommentsStage  # noqa: E402
from stacks.stage_config import (  # noqa: E402
    CONTEXT_KEY,
    NAG_CONTEXT_KEY,
    STAGES_CONTEXT_KEY,
    StageConfig,
    get_stage_config,
    nag_enabled,
    selected_stages,
)

CDK_JSON = Path(__file__).resolve().parent / "cdk.json"


def cdk_json_context() -> dict:
    """The ``context`` of cdk.json (feature flags and per-stage settings). The CLI passes it itself;
    ``python app.py`` and the tests load it here so every way of synthesizing gives one template."""
    return dict(json.loads(CDK_JSON.read_text()).get("context", {}))


def stage_environment(config: StageConfig, environ: dict[str, str] | None = None) -> cdk.Environment:
    """The config's account and region, each missing one taken from the CLI. The CLI's region is
    used only with its account: without credentials it still reports a default region, and an
    offline synth must stay environment-agnostic (the same template as ``python app.py``)."""
    environ = dict(os.environ if environ is None else environ)
    cli_account = environ.get("CDK_DEFAULT_ACCOUNT") or None
    cli_region = (environ.get("CDK_DEFAULT_REGION") or None) if cli_account else None
    return cdk.Environment(account=config.account or cli_account, region=config.region or cli_region)


def build_app(app: cdk.App | None = None) -> tuple[cdk.App, dict[str, RealtimeCommentsStack]]:
    """Create the app and its stages (all, or those of the ``stages`` context key) with the cdk-nag
    AwsSolutions pack registered (unless the ``nag`` context is false); returns the app and each
    stage's stack."""
    # Context given by the CLI (CDK_CONTEXT_JSON) overrides these defaults.
    app = app or cdk.App(context=cdk_json_context())
    context = app.node.try_get_context(CONTEXT_KEY) or {}
    stacks: dict[str, RealtimeCommentsStack] = {}
    for name in selected_stages(app.node.try_get_context(STAGES_CONTEXT_KEY)):
        config = get_stage_config(name, context)
        stage = RealtimeCommentsStage(app, name, config=config, env=stage_environment(config))
        stacks[name] = stage.stack
    # cdk-nag v3 is a policy-validation plugin: synthesis fails on any unacknowledged finding.
    if nag_enabled(app.node.try_get_context(NAG_CONTEXT_KEY)):
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app, stacks


if __name__ == "__main__":
    application, _ = build_app()
    application.synth()
