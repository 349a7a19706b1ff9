"""Each environment is a cdk.Stage (issue 9): environments from StageConfig or the CLI, only the
selected stages built, cdk-nag enforced inside stages, and every logical id kept from before."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import CfnElement, Names
from infra_helpers import STAGE_NAMES, cdk_context

from app import build_app, stage_environment
from stacks.logical_ids import unique_id
from stacks.stage_config import get_stage_config, selected_stages


def test_unique_id_is_cdks_own(synthesized):
    """The hand-written makeUniqueId against CDK's: the unique id of every construct of a stage and
    the allocated logical id of every resource."""
    stack = synthesized.stacks["dev"]
    prefix = stack.node.path + "/"
    constructs = [c for c in stack.node.find_all() if c.node.path.startswith(prefix)]
    assert len(constructs) > 200
    for construct in constructs:
        path = construct.node.path
        assert unique_id(path.split("/")) == Names.node_unique_id(construct.node), path
        if isinstance(construct, CfnElement):
            assert unique_id(path[len(prefix) :].split("/")) == stack.get_logical_id(construct), path


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_ids_that_embed_a_construct_path_keep_their_pre_stage_value(synthesized, stage):
    moved = cdk.Stage.of(synthesized.stacks[stage]).moved_logical_ids
    resources = synthesized.template_json(stage)["Resources"]
    kinds = sorted(resources[old]["Type"] for old in moved.values())
    assert kinds == ["AWS::Lambda::EventSourceMapping"] * 3 + ["AWS::Lambda::Permission"]
    for new, old in moved.items():
        assert new not in resources
        assert f"RealtimeComments{stage}" in old and f"{stage}RealtimeComments" in new


def test_stage_environment_comes_from_config_else_from_the_cli():
    config = get_stage_config("prod")
    agnostic = stage_environment(config, {})
    assert (agnostic.account, agnostic.region) == (None, None)
    cli = stage_environment(
        config, {"CDK_DEFAULT_ACCOUNT": "111111111111", "CDK_DEFAULT_REGION": "eu-west-1"}
    )
    assert (cli.account, cli.region) == ("111111111111", "eu-west-1")
    # Without credentials the CLI still reports a region; alone it must not pin the stack.
    assert stage_environment(config, {"CDK_DEFAULT_REGION": "us-east-1"}).region is None
    pinned = get_stage_config("prod", {"prod": {"account": "222222222222", "region": "ap-south-1"}})
    env = stage_environment(
        pinned, {"CDK_DEFAULT_ACCOUNT": "111111111111", "CDK_DEFAULT_REGION": "eu-west-1"}
    )
    assert (env.account, env.region) == ("222222222222", "ap-south-1")


@pytest.mark.parametrize("bad", [{"account": "12345"}, {"region": "Europe"}])
def test_bad_account_or_region_is_refused(bad):
    with pytest.raises(ValueError, match="account|region"):
        get_stage_config("dev", {"dev": bad})


def test_stages_context_selects_stages():
    assert selected_stages(None) == STAGE_NAMES
    assert selected_stages("prod,dev") == ("dev", "prod")
    assert selected_stages(["staging"]) == ("staging",)
    with pytest.raises(ValueError, match="unknown stage"):
        selected_stages("dev,qa")


def test_only_the_selected_stage_is_built_in_its_account_and_region(tmp_path):
    context = cdk_context()
    context["stages"] = "dev"
    context["realtime-comments"] = {
        **context.get("realtime-comments", {}),
        "dev": {"account": "123456789012", "region": "eu-west-1"},
    }
    app, stacks = build_app(cdk.App(outdir=str(tmp_path / "cdk.out"), context=context))
    assert list(stacks) == ["dev"]
    stack = stacks["dev"]
    assert isinstance(cdk.Stage.of(stack), cdk.Stage) and cdk.Stage.of(stack).stage_name == "dev"
    assert (stack.account, stack.region, stack.stack_name) == (
        "123456789012",
        "eu-west-1",
        "RealtimeComments-dev",
    )
    assert stack.node.path == "dev/RealtimeComments"


def test_cdk_nag_is_enforced_inside_a_stage(tmp_path):
    """The AwsSolutions plugin registered on the app checks the stacks of its stages too."""
    from cdk_nag import AwsSolutionsChecks
    from realtime_comments_cdk import ConnectionsStore, TableOptions

    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=cdk_context())
    stack = cdk.Stack(cdk.Stage(app, "qa"), "Stack")
    ConnectionsStore(stack, "Connections", table_options=TableOptions(point_in_time_recovery=False))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="DDB3|Validation"):
        app.synth()
