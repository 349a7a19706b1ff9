"""cdk-nag (v3) acknowledgments of the app's own stage choices.

Each construct acknowledges the findings its design causes on its own resources, with the reason
(``realtime_comments_cdk._nag.REASONS``). What is left here is what a stage chooses against a
construct's safe default: point-in-time recovery off for the dev tables. cdk-nag v3 runs as a CDK
policy-validation plugin: an unacknowledged finding fails ``cdk synth``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_dynamodb as dynamodb

if TYPE_CHECKING:
    from .realtime_comments_stack import RealtimeCommentsStack

PACK = "AwsSolutions"

NAG_REASONS: dict[str, str] = {
    "DDB3[stage]": (
        "Point-in-time recovery is off in this non-production stage (StageConfig.point_in_time_recovery); "
        "its data is disposable. PITR is on in staging and prod."
    ),
}


def apply_nag_suppressions(stack: RealtimeCommentsStack) -> None:
    if stack.config.point_in_time_recovery:
        return
    for table in (stack.connections.table, stack.comments.table, stack.notifications.table):
        if isinstance(table, dynamodb.Table):
            Validations.of(table).acknowledge(
                Acknowledgment(id=f"{PACK}::{PACK}-DDB3", reason=NAG_REASONS["DDB3[stage]"])
            )
