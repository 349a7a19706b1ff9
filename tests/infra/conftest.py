"""Fixtures of the infrastructure tests: the whole app is synthesized once per session."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# jsii silences its Node end-of-life banner only for the majors listed.
_SILENCE = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"
if "20" not in os.environ.get(_SILENCE, "").split(","):
    os.environ[_SILENCE] = ",".join(v for v in (os.environ.get(_SILENCE, ""), "20") if v)

import aws_cdk as cdk  # noqa: E402
import pytest  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402
from infra_helpers import cdk_context  # noqa: E402


@dataclass
class SynthesizedApp:
    app: cdk.App
    stacks: dict  # stage name -> RealtimeCommentsStack
    templates: dict  # stage name -> Template
    outdir: Path

    _json: dict | None = None

    def template_json(self, stage: str) -> dict:
        """The stage's template as a dict (converted once; treat as read-only)."""
        if self._json is None:
            self._json = {}
        if stage not in self._json:
            self._json[stage] = self.templates[stage].to_json()
        return self._json[stage]

    def template_file(self, stage: str) -> Path:
        """The stage's synthesized template file (in its nested assembly, cdk.out/assembly-<stage>/)."""
        stack = self.stacks[stage]
        return Path(cdk.Stage.of(stack).outdir) / stack.template_file


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    from app import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stacks = build_app(cdk.App(outdir=str(outdir), context=cdk_context()))
    app.synth()  # raises when cdk-nag reports an unacknowledged finding
    templates = {name: Template.from_stack(stack) for name, stack in stacks.items()}
    return SynthesizedApp(app=app, stacks=stacks, templates=templates, outdir=outdir)


@pytest.fixture
def bare_stack(tmp_path: Path):
    """A fresh App (with cdk.json's feature flags) and an empty env-agnostic Stack."""

    def make(stack_id: str = "Test") -> cdk.Stack:
        app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=cdk_context())
        return cdk.Stack(app, stack_id)

    return make
