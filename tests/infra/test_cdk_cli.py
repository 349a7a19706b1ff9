"""`npx cdk synth` through the CLI pinned in package.json, offline and without credentials: the
app as the CLI runs it (cdk.json's `app`, its context, cdk.context.json) gives the same templates
as `python app.py`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from infra_helpers import STAGE_NAMES, normalize_template

from local_runtime.template import stack_artifact

REPO = Path(__file__).resolve().parents[2]
CDK = REPO / "node_modules" / ".bin" / "cdk"


def _without_cli_metadata(template: dict) -> dict:
    """The normalized template without the construct paths the CLI asks the app to record."""
    out = normalize_template(template)
    for resource in out.get("Resources", {}).values():
        metadata = resource.get("Metadata", {})
        for key in [k for k in metadata if k == "aws:cdk:path" or k.startswith("aws:asset:")]:
            metadata.pop(key)
        if not metadata:
            resource.pop("Metadata", None)
    return out


@pytest.mark.slow
@pytest.mark.skipif(not CDK.exists(), reason="the pinned CDK CLI is installed by `make setup` (npm ci)")
def test_cdk_synth_through_the_pinned_cli_offline(tmp_path: Path, synthesized) -> None:
    venv_bin = REPO / ".venv" / "bin"
    env = {
        # No credentials and no AWS config: the synth must not need an account.
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_VERSION_CHECK": "true",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }
    outdir = tmp_path / "cdk.out"
    done = subprocess.run(
        [str(CDK), "synth", "--quiet", "--no-notices", "--no-version-reporting", "--output", str(outdir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    for stage in STAGE_NAMES:
        template = json.loads(stack_artifact(outdir, f"RealtimeComments-{stage}").template.read_text())
        expected = synthesized.template_json(stage)
        assert _without_cli_metadata(template) == _without_cli_metadata(expected), stage
    report = json.loads((outdir / "validation-report.json").read_text())
    assert all(r["conclusion"] == "success" for r in report["pluginReports"])

    # Each environment is a cdk.Stage: the CLI (and CDK Pipelines) address it as <stage>/RealtimeComments,
    # and its CloudFormation stack keeps the name it had before stages.
    def cdk_ls(*selectors: str) -> dict[str, str]:
        listed = subprocess.run(
            [str(CDK), "ls", "--long", "--json", "--no-notices", "--app", str(outdir), *selectors],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert listed.returncode == 0, listed.stderr[-2000:]
        return {s["id"].split(" ")[0]: s["name"] for s in json.loads(listed.stdout)}

    assert cdk_ls() == {f"{stage}/RealtimeComments": f"RealtimeComments-{stage}" for stage in STAGE_NAMES}
    # What `make deploy STAGE=prod` selects.
    assert cdk_ls("prod/*") == {"prod/RealtimeComments": "RealtimeComments-prod"}
    shutil.rmtree(outdir, ignore_errors=True)
