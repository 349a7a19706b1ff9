"""cdk-nag (v3) acknowledgments that the constructs make themselves.

A construct acknowledges only the AwsSolutions findings that its own design causes, only on the
resources it builds, and always with the reason below (``REASONS``, quoted by the constructs'
READMEs). Anything a deployer chooses (point-in-time recovery off, say) is acknowledged by the
deployer's app, not here. A consumer stack built from any subset of the constructs synthesizes
with ``AwsSolutionsChecks`` and no unacknowledged finding (``tests/test_consumer_package.py``).

IAM5 findings name the wildcard resource with the resolved logical ids (``<ConnectionsTable.Arn>
/index/*``), which a stack may still override after the construct is built; they are therefore
acknowledged by an aspect at synthesis, when the ids are final.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any, cast

import jsii
from aws_cdk import Acknowledgment, Aspects, IAspect, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct

PACK = "AwsSolutions"

REASONS: dict[str, str] = {
    "IAM5[xray]": (
        "Resource::* comes from active X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords), "
        "which has no resource-level permissions; on a DynamoDB stream consumer it also covers "
        "dynamodb:ListStreams, which the event source needs and which takes no resource."
    ),
    "IAM5[index]": (
        "<table>/index/* is the table's own indexes, added by grant_*_data: the broadcasters query the "
        "byPost and byUser GSIs for a post's subscribers and a user's connections, and PATCH/DELETE "
        "query the byCommentId LSI."
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
    "DDB3[idempotency]": (
        "The Powertools idempotency table holds only records that expire within hours (TTL expiration); "
        "restoring them has no value."
    ),
    "S1[log-bucket]": (
        "This is the StaticSite's access-log bucket (CloudFront standard logs and the site bucket's "
        "S3 server access logs); logging it into itself would loop."
    ),
    "CFR1": (
        "The comment page is public: no country is blocked by default; a deployer who must restrict "
        "regions adds a geo restriction or a WAF rule."
    ),
    "CFR2": (
        "No WAF web ACL by default: the distribution serves only static files, and WAF is billed per "
        "ACL and per request; StaticSiteOptions.web_acl_id attaches the deployer's ACL (docs/security.md)."
    ),
    "CFR4": (
        "Without a custom domain the distribution uses CloudFront's default *.cloudfront.net "
        "certificate, whose minimum protocol cannot be raised; StaticSiteOptions.certificate "
        "(with domain_names) sets TLSv1.2_2021."
    ),
    "IAM4[bucket-deployment]": (
        "CDK's BucketDeployment handler (it copies the site's build and runtime-config.json into the "
        "bucket at deployment) uses AWSLambdaBasicExecutionRole for its own logs."
    ),
    "IAM5[bucket-deployment]": (
        "CDK's BucketDeployment handler (grants made by aws-cdk-lib): it reads its asset objects "
        "(s3:GetObject*, s3:GetBucket*, s3:List* on the bootstrap assets bucket's keys), syncs the "
        "whole site bucket (s3:DeleteObject*, s3:Abort*, s3:List* on <bucket>/*; the keys are only "
        "known at deployment) and invalidates the distribution's cache (cloudfront:CreateInvalidation "
        "and GetInvalidation, which take no resource-level ARN in CDK's grant)."
    ),
    "L1[bucket-deployment]": (
        "CDK's BucketDeployment handler: its runtime is chosen by aws-cdk-lib (it bundles the AWS CLI "
        "layer for that runtime) and moves with aws-cdk-lib upgrades."
    ),
    "SQS3": (
        "This queue is itself the dead-letter queue (on-failure destination) of the comments stream's "
        "event source mappings; a DLQ of a DLQ would only move the problem."
    ),
}


def acknowledge(scope: IConstruct, finding: str, reason_key: str) -> None:
    """Acknowledge ``AwsSolutions-<finding>`` on ``scope`` with ``REASONS[reason_key]``."""
    Validations.of(scope).acknowledge(
        Acknowledgment(id=f"{PACK}::{PACK}-{finding}", reason=REASONS[reason_key])
    )


def flatten(value: Any) -> str:
    """A resolved CloudFormation value written the way cdk-nag names it in a finding id."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<" + ".".join(value["Fn::GetAtt"]) + ">"
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        return re.sub(r"\$\{([^}]+)\}", r"<\1>", value["Fn::Sub"])
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(flatten(part) for part in parts)
    return json.dumps(value)


def _wildcard_reason(resource: str) -> str | None:
    if resource == "*":
        return "IAM5[xray]"
    if resource.endswith("/index/*"):
        return "IAM5[index]"
    if "/POST/@connections/*" in resource:
        return "IAM5[connections]"
    return None


@jsii.implements(IAspect)
class _AtSynthesis:
    """Runs ``action`` once, when synthesis visits ``owner`` (logical ids are final by then)."""

    def __init__(self, owner: Construct, action: Callable[[], None]) -> None:
        self._path = owner.node.path
        self._action = action
        self._done = False

    def visit(self, node: IConstruct) -> None:
        if not self._done and node.node.path == self._path:
            self._done = True
            self._action()


def at_synthesis(owner: Construct, action: Callable[[], None]) -> None:
    """Run ``action`` once when synthesis visits ``owner`` (logical ids are final by then)."""
    Aspects.of(owner).add(_AtSynthesis(owner, action))


GRANT_WILDCARDS = frozenset({"IAM5[index]", "IAM5[connections]"})


def acknowledge_function_wildcards(
    owner: Construct,
    functions: Iterable[lambda_.IFunction | None],
    kinds: frozenset[str] = GRANT_WILDCARDS,
) -> None:
    """IAM5 on the default policies of ``owner``'s own functions, for the wildcard resources of
    the given ``kinds``: ``IAM5[index]`` (a table's ``/index/*``), ``IAM5[connections]``
    (``POST/@connections/*``) from the constructs' grants, ``IAM5[xray]`` (``*``, which
    ``ServiceFunction`` acknowledges for its tracing). Any other wildcard still fails the synth."""
    targets = [fn for fn in functions if fn is not None]

    def action() -> None:
        stack = Stack.of(owner)
        for fn in targets:
            role = fn.role
            policy = role.node.try_find_child("DefaultPolicy") if role is not None else None
            if policy is None:
                continue
            document = stack.resolve(cast(iam.CfnPolicy, policy.node.default_child).policy_document)
            for statement in document["Statement"]:
                resources = statement.get("Resource", [])
                for resource in resources if isinstance(resources, list) else [resources]:
                    rendered = flatten(resource)
                    reason = _wildcard_reason(rendered)
                    if reason in kinds:
                        acknowledge(policy, f"IAM5[Resource::{rendered}]", reason)

    Aspects.of(owner).add(_AtSynthesis(owner, action))
