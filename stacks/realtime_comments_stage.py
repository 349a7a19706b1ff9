"""One environment of Realtime Comments as a ``cdk.Stage``: the unit a CDK Pipelines user adds to
a pipeline (``pipeline.add_stage(RealtimeCommentsStage(self, "prod", config=...))``).

The stage holds one stack, ``RealtimeComments``, whose CloudFormation name stays
``RealtimeComments-<stage>`` (``StageConfig.stack_name``) and whose logical ids are those it had as a
top-level stack (``logical_ids``), so existing deployments update in place. The CLI names it
``<stage>/RealtimeComments``.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from .logical_ids import keep_pre_stage_logical_ids
from .realtime_comments_stack import RealtimeCommentsStack
from .stage_config import StageConfig

STACK_ID = "RealtimeComments"


class RealtimeCommentsStage(cdk.Stage):
    """``env`` defaults to the config's account and region; where those are unset the stack is
    environment-agnostic (deployable to whatever account and region the CLI uses)."""

    def __init__(self, scope: Construct, id: str, *, config: StageConfig, **kwargs) -> None:
        kwargs.setdefault("env", cdk.Environment(account=config.account, region=config.region))
        super().__init__(scope, id, **kwargs)
        self.config = config
        self.stack = RealtimeCommentsStack(self, STACK_ID, config=config, stack_name=config.stack_name)
        # Before stages the stack was the app's child `config.stack_name`: keep the ids it had.
        self.moved_logical_ids = keep_pre_stage_logical_ids(self.stack, config.stack_name)
