"""cdk-nag (v3) acknowledgments for ``RealtimeCommentsStack``.

Every acknowledgment names one finding id, is attached to the narrowest construct that raises it,
and gives the specific reason. ``NAG_REASONS`` is the single list of what is acknowledged and why
(the README and the closing report quote it). cdk-nag v3 runs as a CDK policy-validation plugin:
an unacknowledged finding fails ``cdk synth``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, cast

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import IConstruct
from realtime_comments_cdk.lambda_defaults import ServiceFunction

if TYPE_CHECKING:
    from .realtime_comments_stack import RealtimeCommentsStack

PACK = "AwsSolutions"

NAG_REASONS: dict[str, str] = {
    "IAM5[xray]": (
        "Resource::* comes from active X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords), "
        "which has no resource-level permissions; on the stream broadcaster it also covers "
        "dynamodb:ListStreams, which the DynamoDB event source needs and which takes no resource."
    ),
    "IAM5[index]": (
        "<table>/index/* is the table's own indexes, added by grant_*_data: the broadcasters query the "
        "byPost GSI for a post's subscribers and PATCH/DELETE query the byCommentId LSI."
    ),
    "IAM5[connections]": (
        "execute-api:ManageConnections on <api>/<stage>/POST/@connections/*: connection ids are only "
        "known at run time; the grant is scoped to this API, this stage and the POST method (send), "
        "the only @connections call the functions make."
    ),
    "IAM4[apigw-logs]": (
        "AmazonAPIGatewayPushToCloudWatchLogs is the AWS-maintained policy made for the account-level "
        "API Gateway CloudWatch role that WebSocket access logging requires."
    ),
    "APIG4[ws]": (
        "API Gateway WebSocket APIs authorize only on $connect (Lambda REQUEST authorizer: JWT + Origin); "
        "$disconnect, $default and the action routes run on that already authorized connection."
    ),
    "APIG4[public-read]": (
        "Public read by design (contract: reads are public): GET comments and the connection-count "
        "health route expose no private data; writes use the JWT authorizer and broadcasts use IAM."
    ),
    "COG2": (
        "MFA is OPTIONAL (TOTP) so that readers can sign up for commenting without friction; "
        "teams that need it pass UserPoolOptions(mfa=Mfa.REQUIRED)."
    ),
    "COG8": (
        "The Plus feature plan (threat protection) is billed per monthly active user; the comment "
        "service keeps Essentials and relies on strong password policy, short-lived tokens and "
        "throttled APIs."
    ),
    "DDB3[stage]": (
        "Point-in-time recovery is off in this non-production stage (StageConfig.point_in_time_recovery); "
        "its data is disposable. PITR is on in staging and prod."
    ),
    "DDB3[idempotency]": (
        "The Powertools idempotency table holds only records that expire within hours (TTL expiration); "
        "restoring them has no value."
    ),
    "SQS3": (
        "This queue is itself the dead-letter queue (on-failure destination) of the comments stream's "
        "event source mapping; a DLQ of a DLQ would only move the problem."
    ),
}


def _ack(scope: IConstruct, finding: str, reason_key: str) -> None:
    Validations.of(scope).acknowledge(
        Acknowledgment(id=f"{PACK}::{PACK}-{finding}", reason=NAG_REASONS[reason_key])
    )


def _logical_id(stack: Stack, construct: IConstruct) -> str:
    cfn = cast(CfnElement, construct.node.default_child)
    return str(stack.resolve(cfn.logical_id))


def _policy_resources(stack: Stack, policy: IConstruct) -> list[str]:
    """Each resource of the policy's statements, resolved and rendered as JSON."""
    document = stack.resolve(cast(iam.CfnPolicy, policy.node.default_child).policy_document)
    out: list[str] = []
    for statement in document["Statement"]:
        resources = statement.get("Resource", [])
        for resource in resources if isinstance(resources, list) else [resources]:
            out.append(json.dumps(resource))
    return out


def apply_nag_suppressions(stack: RealtimeCommentsStack) -> None:
    config = stack.config

    # Lambda execution roles: X-Ray (and ListStreams), table indexes, @connections.
    connections_arn = f"<{_logical_id(stack, stack.connections.table)}.Arn>/index/*"
    comments_arn = f"<{_logical_id(stack, stack.comments.table)}.Arn>/index/*"
    ws_api = _logical_id(stack, stack.websocket.api)
    ws_stage = stack.websocket.options.stage_name
    connections_resource = (
        "arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:"
        f"<{ws_api}>/{ws_stage}/POST/@connections/*"
    )
    connections_id = _logical_id(stack, stack.connections.table)
    comments_id = _logical_id(stack, stack.comments.table)
    for fn in (c for c in stack.node.find_all() if isinstance(c, ServiceFunction)):
        policy = fn.role.node.try_find_child("DefaultPolicy")
        if policy is None:
            continue
        for resource in _policy_resources(stack, policy):
            if resource == '"*"':
                _ack(policy, "IAM5[Resource::*]", "IAM5[xray]")
            elif "/index/*" in resource and f'["{connections_id}", "Arn"]' in resource:
                _ack(policy, f"IAM5[Resource::{connections_arn}]", "IAM5[index]")
            elif "/index/*" in resource and f'["{comments_id}", "Arn"]' in resource:
                _ack(policy, f"IAM5[Resource::{comments_arn}]", "IAM5[index]")
            elif "/@connections/*" in resource:
                _ack(policy, f"IAM5[Resource::{connections_resource}]", "IAM5[connections]")

    if stack.websocket.account_logging_role is not None:
        _ack(
            stack.websocket.account_logging_role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "IAM4[apigw-logs]",
        )

    # Routes without an authorizer.
    for route_id in (
        "$disconnect-Route",
        "$default-Route",
        "subscribe-Route",
        "unsubscribe-Route",
        "typing-Route",
        "ping-Route",
    ):
        _ack(stack.websocket.api.node.find_child(route_id), "APIG4", "APIG4[ws]")
    for route_id in ("GET--api--v1--posts--{postId}--comments", "GET--api--v1--websocket--connections"):
        _ack(stack.api.http_api.node.find_child(route_id), "APIG4", "APIG4[public-read]")

    # Cognito.
    if stack.identity.user_pool is not None:
        _ack(stack.identity.user_pool, "COG2", "COG2")
        _ack(stack.identity.user_pool, "COG8", "COG8")

    # DynamoDB point-in-time recovery.
    if not config.point_in_time_recovery:
        for table in (stack.connections.table, stack.comments.table, stack.notifications.table):
            if isinstance(table, dynamodb.Table):
                _ack(table, "DDB3", "DDB3[stage]")
    _ack(stack.api.idempotency_table, "DDB3", "DDB3[idempotency]")

    # The stream's on-failure destination is a plain queue to cdk-nag (the fan-out DLQ is
    # recognized as a DLQ through the fan-out queue's redrive policy).
    _ack(stack.broadcaster.stream_dlq, "SQS3", "SQS3")
