from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct, IConstruct
from realtime_comments import site_headers

from .._nag import acknowledge, at_synthesis, flatten

RUNTIME_CONFIG_KEY = "runtime-config.json"
# CloudFront's limit on the Content-Security-Policy value of a response-headers policy.
CSP_MAX_LENGTH = 1783

# checkov (3.3, cloudformation) findings that are wrong for this construct's resources, with the
# reason, written on the resource as Metadata.checkov.skip (.checkov.yaml holds only project-wide
# skips). Only checks that fail without the skip are listed.
_CHECKOV_LOG_BUCKET = {
    "CKV_AWS_18": "This is the access-log bucket itself; logging it into itself would loop.",
    "CKV_AWS_21": "Access logs are written once and expire by lifecycle; nothing overwrites them.",
}
_CHECKOV_NO_WAF = {
    "CKV_AWS_68": "No web ACL by default: WAF is billed per ACL and per request and the page is "
    "static files; the deployer chooses one (StaticSiteOptions.web_acl_id, docs/security.md).",
}
_CHECKOV_DEFAULT_CERTIFICATE = {
    "CKV_AWS_174": "With CloudFront's default *.cloudfront.net certificate the minimum protocol "
    "cannot be set; pass StaticSiteOptions.certificate to get TLSv1.2_2021.",
}
_CHECKOV_DEPLOYMENT_POLICY = {
    "CKV_AWS_111": "CDK's BucketDeployment grant: cloudfront:CreateInvalidation takes no "
    "resource-level ARN in that grant; the S3 writes are limited to the site bucket.",
}
_CHECKOV_DEPLOYMENT_HANDLER = {
    "CKV_AWS_115": "CDK's BucketDeployment handler runs only during a deployment of this stack, "
    "once per change of the site; a reservation would take capacity from the account's pool.",
}


@dataclass(frozen=True)
class StaticSiteOptions:
    """Tuning of ``StaticSite``; every field has a default.

    :param domain_names: alternate domain names (CNAMEs) of the distribution; with a ``certificate``.
    :param certificate: ACM certificate in us-east-1 for ``domain_names``; also raises the
        minimum viewer protocol to TLSv1.2_2021 (the default certificate allows TLSv1).
    :param price_class: CloudFront edge locations; default ``PRICE_CLASS_100``.
    :param web_acl_id: a WAF web ACL (ARN) to attach; default none.
    :param access_logs: CloudFront standard logs and S3 server access logs into a bucket of the
        construct (``log_bucket``), expiring after ``log_retention``; default on.
    :param log_retention: how long access logs are kept; default 90 days.
    :param removal_policy: of both buckets; default ``RETAIN``. The site bucket is versioned and
        keeps replaced files for ``noncurrent_retention``.
    :param noncurrent_retention: how long a replaced or deleted site file is kept; default 30 days.
    :param deployment_memory_mb: memory of CDK's upload function; default 512 MiB.
    """

    domain_names: tuple[str, ...] = ()
    certificate: acm.ICertificate | None = None
    price_class: cloudfront.PriceClass = cloudfront.PriceClass.PRICE_CLASS_100
    web_acl_id: str | None = None
    access_logs: bool = True
    log_retention: Duration = Duration.days(90)
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    noncurrent_retention: Duration = Duration.days(30)
    deployment_memory_mb: int = 512


def _enum_name(header_value: str) -> str:
    return header_value.upper().replace("-", "_")  # "no-referrer" -> NO_REFERRER


def _skip_checkov(resource: IConstruct, reasons: Mapping[str, str]) -> None:
    cfn = resource.node.default_child if not isinstance(resource, CfnResource) else resource
    assert isinstance(cfn, CfnResource)
    existing = (cfn.get_metadata("checkov") or {}).get("skip", [])
    have = {skip["id"] for skip in existing}  # the upload handler is shared by every StaticSite
    added = [{"id": k, "comment": v} for k, v in sorted(reasons.items()) if k not in have]
    cfn.add_metadata("checkov", {"skip": [*existing, *added]})


class StaticSite(Construct):
    """The browser app's host: a private S3 bucket behind CloudFront (origin access control),
    with a response-headers policy that sets the page's security headers
    (``realtime_comments.site_headers``: a CSP whose ``connect-src`` is ``'self'`` plus
    ``connect_origins``, ``frame-ancestors 'none'``, HSTS, ``nosniff``, a referrer policy).

    :param connect_origins: every origin the page calls (``scheme://host[:port]``): the stage's
        HTTP API and WebSocket API, and the Cognito hosted sign-in domain when used. Required.
    :param runtime_config: the object served as ``/runtime-config.json`` (may hold deploy-time
        tokens such as the APIs' URLs); ``None`` uploads none.
    :param site_assets: the static export's folder (``frontend/out``), uploaded at deployment;
        ``None`` uploads only ``runtime-config.json`` and leaves the site's files as they are.
        A given folder must exist (with its ``index.html``).
    :param options: ``StaticSiteOptions``.

    Attributes: ``bucket``, ``log_bucket`` (``None`` without access logs), ``distribution``,
    ``response_headers_policy``, ``deployment`` (``None`` when there is nothing to upload),
    ``content_security_policy`` (the CSP value), ``domain_name`` and ``url`` (``https://`` + the
    first alternate domain name, else the distribution's domain).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        connect_origins: Sequence[str],
        runtime_config: Mapping[str, Any] | None = None,
        site_assets: str | Path | None = None,
        options: StaticSiteOptions | None = None,
    ) -> None:
        super().__init__(scope, id)
        opts = options or StaticSiteOptions()
        if not connect_origins:
            raise ValueError("StaticSite: connect_origins must list the API and WebSocket origins")
        if bool(opts.domain_names) != (opts.certificate is not None):
            raise ValueError("StaticSite: domain_names and certificate go together")
        assets = Path(site_assets) if site_assets is not None else None
        if assets is not None and not (assets / "index.html").is_file():
            raise ValueError(f"StaticSite: site_assets {assets} has no index.html (build the frontend first)")

        self.content_security_policy = site_headers.content_security_policy(connect_origins)
        if len(self.content_security_policy) > CSP_MAX_LENGTH:
            raise ValueError(f"StaticSite: the CSP is longer than CloudFront's {CSP_MAX_LENGTH} characters")

        self.log_bucket: s3.Bucket | None = None
        if opts.access_logs:
            self.log_bucket = s3.Bucket(
                self,
                "LogBucket",
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                encryption=s3.BucketEncryption.S3_MANAGED,
                enforce_ssl=True,
                # CloudFront standard logging writes with an ACL (the awslogsdelivery account).
                object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
                lifecycle_rules=[s3.LifecycleRule(expiration=opts.log_retention)],
                removal_policy=opts.removal_policy,
            )
            acknowledge(self.log_bucket, "S1", "S1[log-bucket]")
            _skip_checkov(self.log_bucket, _CHECKOV_LOG_BUCKET)

        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=opts.noncurrent_retention,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="s3/" if self.log_bucket is not None else None,
            removal_policy=opts.removal_policy,
        )

        self.response_headers_policy = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            comment="Realtime Comments page: CSP, frame-ancestors none, HSTS, nosniff, referrer policy",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=self.content_security_policy, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.seconds(site_headers.HSTS_MAX_AGE_SECONDS),
                    include_subdomains=site_headers.HSTS_INCLUDE_SUBDOMAINS,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption[site_headers.FRAME_OPTIONS], override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy[
                        _enum_name(site_headers.REFERRER_POLICY)
                    ],
                    override=True,
                ),
            ),
        )

        # S3 answers 403 for a missing key (CloudFront may not list the bucket): both become the
        # export's 404 page.
        not_found = [
            cloudfront.ErrorResponse(
                http_status=status,
                response_http_status=404,
                response_page_path="/404.html",
                ttl=Duration.minutes(1),
            )
            for status in (403, 404)
        ]
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Realtime Comments page",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.response_headers_policy,
                compress=True,
            ),
            error_responses=not_found,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            # Only with a certificate: the default *.cloudfront.net one is fixed at TLSv1.
            minimum_protocol_version=(
                cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if opts.certificate is not None else None
            ),
            domain_names=list(opts.domain_names) or None,
            certificate=opts.certificate,
            price_class=opts.price_class,
            web_acl_id=opts.web_acl_id,
            enable_logging=self.log_bucket is not None,
            log_bucket=self.log_bucket,
            log_file_prefix="cloudfront/" if self.log_bucket is not None else None,
        )
        acknowledge(self.distribution, "CFR1", "CFR1")
        distribution_skips: dict[str, str] = {}
        if opts.web_acl_id is None:
            acknowledge(self.distribution, "CFR2", "CFR2")
            distribution_skips.update(_CHECKOV_NO_WAF)
        if opts.certificate is None:
            acknowledge(self.distribution, "CFR4", "CFR4")
            distribution_skips.update(_CHECKOV_DEFAULT_CERTIFICATE)
        if distribution_skips:
            _skip_checkov(self.distribution, distribution_skips)

        self.domain_name = (
            opts.domain_names[0] if opts.domain_names else self.distribution.distribution_domain_name
        )
        self.url = f"https://{self.domain_name}"

        sources: list[s3_deployment.ISource] = []
        if assets is not None:
            sources.append(s3_deployment.Source.asset(str(assets)))
        if runtime_config is not None:
            sources.append(s3_deployment.Source.json_data(RUNTIME_CONFIG_KEY, dict(runtime_config)))
        self.deployment: s3_deployment.BucketDeployment | None = None
        if sources:
            self.deployment = s3_deployment.BucketDeployment(
                self,
                "Deployment",
                sources=sources,
                destination_bucket=self.bucket,
                # Without the site's files, keep the ones uploaded before (only the config changes).
                prune=assets is not None,
                # Every file is revalidated (ETag): the export's pages and runtime-config.json must
                # change at once on a deployment; its hashed _next/static files answer 304.
                cache_control=[s3_deployment.CacheControl.no_cache()],
                distribution=self.distribution,
                distribution_paths=["/*"],
                memory_limit=opts.deployment_memory_mb,
            )
            self._acknowledge_deployment_handler(self.deployment)

    def _acknowledge_deployment_handler(self, deployment: s3_deployment.BucketDeployment) -> None:
        """CDK's BucketDeployment handler: a singleton function at the stack's root, whose policy
        cdk-nag names with resolved logical ids (so acknowledged at synthesis, when they are final)."""
        stack = Stack.of(self)
        role = deployment.handler_role
        acknowledge(
            role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "IAM4[bucket-deployment]",
        )
        for child in stack.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                acknowledge(child, "L1", "L1[bucket-deployment]")
                _skip_checkov(child, _CHECKOV_DEPLOYMENT_HANDLER)

        def action() -> None:
            policy = role.node.try_find_child("DefaultPolicy")
            if policy is None:
                return
            _skip_checkov(policy, _CHECKOV_DEPLOYMENT_POLICY)
            document = stack.resolve(cast(iam.CfnPolicy, policy.node.default_child).policy_document)
            for statement in document["Statement"]:
                for key, kind in (("Action", "Action"), ("Resource", "Resource")):
                    values = statement.get(key, [])
                    for value in values if isinstance(values, list) else [values]:
                        rendered = flatten(value)
                        if "*" in rendered:
                            acknowledge(policy, f"IAM5[{kind}::{rendered}]", "IAM5[bucket-deployment]")

        at_synthesis(self, action)
