"""StaticSite: a private bucket behind CloudFront (origin access control) whose response-headers
policy is realtime_comments.site_headers (the module the local runtime serves the page with)."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_certificatemanager as acm
from aws_cdk.assertions import Match, Template
from realtime_comments import site_headers
from realtime_comments_cdk.static_site import RUNTIME_CONFIG_KEY, StaticSite, StaticSiteOptions

API = "https://api.example.com"


def _site(stack: cdk.Stack, tmp_path: Path | None = None, **kwargs) -> StaticSite:
    assets = None
    if tmp_path is not None:
        assets = tmp_path / "out"
        assets.mkdir(exist_ok=True)
        (assets / "index.html").write_text("<html>home</html>")
    kwargs.setdefault("connect_origins", [API, f"wss://{cdk.Aws.ACCOUNT_ID}.ws.example.com"])
    kwargs.setdefault("runtime_config", {"apiUrl": f"https://{cdk.Aws.ACCOUNT_ID}.api.example.com/"})
    return StaticSite(stack, "Site", site_assets=assets, **kwargs)


def _joined(value) -> str:
    """A resolved Fn::Join with its references written as <Ref>."""
    if isinstance(value, str):
        return value
    separator, parts = value["Fn::Join"]
    return separator.join(p if isinstance(p, str) else f"<{p['Ref']}>" for p in parts)


def test_the_headers_policy_is_the_site_headers_module(bare_stack, tmp_path):
    stack = bare_stack()
    site = _site(stack, tmp_path)
    template = Template.from_stack(stack)
    (policy,) = template.find_resources("AWS::CloudFront::ResponseHeadersPolicy").values()
    headers = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = _joined(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    assert csp == site_headers.content_security_policy([API, "wss://<AWS::AccountId>.ws.example.com"])
    assert "connect-src 'self' https://api.example.com wss://<AWS::AccountId>.ws.example.com;" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe" not in csp
    assert (
        stack.resolve(site.content_security_policy)
        == headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    )
    # Every header the local runtime sends, with the same value.
    served = site_headers.security_headers([API])
    assert headers["StrictTransportSecurity"] == {
        "AccessControlMaxAgeSec": site_headers.HSTS_MAX_AGE_SECONDS,
        "IncludeSubdomains": True,
        "Override": True,
    }
    assert served["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    assert (
        headers["ContentTypeOptions"] == {"Override": True} and served["X-Content-Type-Options"] == "nosniff"
    )
    assert headers["FrameOptions"] == {"FrameOption": served["X-Frame-Options"], "Override": True}
    assert headers["ReferrerPolicy"] == {"ReferrerPolicy": served["Referrer-Policy"], "Override": True}
    assert headers["ContentSecurityPolicy"]["Override"] is True
    # The distribution answers with that policy, over HTTPS only.
    template.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "DefaultRootObject": "index.html",
                    "DefaultCacheBehavior": Match.object_like(
                        {
                            "ResponseHeadersPolicyId": {"Ref": stack.get_logical_id(policy_cfn(site))},
                            "ViewerProtocolPolicy": "redirect-to-https",
                        }
                    ),
                }
            )
        },
    )


def policy_cfn(site: StaticSite):
    return site.response_headers_policy.node.default_child


def test_the_bucket_is_private_and_read_only_by_this_distribution_through_oac(bare_stack, tmp_path):
    stack = bare_stack()
    site = _site(stack, tmp_path)
    template = Template.from_stack(stack)
    bucket_id = stack.get_logical_id(site.bucket.node.default_child)
    distribution_id = stack.get_logical_id(site.distribution.node.default_child)
    bucket = template.to_json()["Resources"][bucket_id]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "WebsiteConfiguration" not in bucket  # S3's website endpoint is public by nature
    (oac_id,) = template.find_resources("AWS::CloudFront::OriginAccessControl").keys()
    template.has_resource_properties(
        "AWS::CloudFront::OriginAccessControl",
        {
            "OriginAccessControlConfig": Match.object_like(
                {"OriginAccessControlOriginType": "s3", "SigningBehavior": "always"}
            )
        },
    )
    (distribution,) = template.find_resources("AWS::CloudFront::Distribution").values()
    (origin,) = distribution["Properties"]["DistributionConfig"]["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in template.find_resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    (statements,) = policies
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Action": "s3:GetObject",
            "Condition": {
                "StringEquals": {
                    "AWS:SourceArn": {
                        "Fn::Join": [
                            "",
                            [
                                "arn:",
                                {"Ref": "AWS::Partition"},
                                ":cloudfront::",
                                {"Ref": "AWS::AccountId"},
                                ":distribution/",
                                {"Ref": distribution_id},
                            ],
                        ]
                    }
                }
            },
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]},
        }
    ]
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert [d["Condition"] for d in denies] == [{"Bool": {"aws:SecureTransport": "false"}}]


def test_the_deployment_uploads_the_build_and_the_runtime_config_then_invalidates(bare_stack, tmp_path):
    stack = bare_stack()
    _site(stack, tmp_path)
    (deployment,) = Template.from_stack(stack).find_resources("Custom::CDKBucketDeployment").values()
    props = deployment["Properties"]
    assert len(props["SourceObjectKeys"]) == 2 and props["Prune"] is True
    assert props["DistributionPaths"] == ["/*"]
    # runtime-config.json carries the deploy-time values (the account here, the API URLs in the app).
    (marker,) = props["SourceMarkers"][1].values()
    assert _joined(marker) == '"https://<AWS::AccountId>.api.example.com/"'


def test_without_the_build_only_the_config_is_uploaded_and_old_files_stay(bare_stack):
    stack = bare_stack()
    site = _site(stack)
    (deployment,) = Template.from_stack(stack).find_resources("Custom::CDKBucketDeployment").values()
    assert len(deployment["Properties"]["SourceObjectKeys"]) == 1
    assert deployment["Properties"]["Prune"] is False
    assert site.deployment is not None and RUNTIME_CONFIG_KEY == "runtime-config.json"
    bare = bare_stack("Bare")
    assert _site(bare, runtime_config=None).deployment is None


def test_a_custom_domain_sets_tls_1_2(bare_stack):
    stack = bare_stack()
    certificate = acm.Certificate.from_certificate_arn(
        stack, "Cert", "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    )
    site = _site(
        stack, options=StaticSiteOptions(domain_names=("comments.example.com",), certificate=certificate)
    )
    assert site.url == "https://comments.example.com"
    Template.from_stack(stack).has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "Aliases": ["comments.example.com"],
                    "ViewerCertificate": Match.object_like({"MinimumProtocolVersion": "TLSv1.2_2021"}),
                }
            )
        },
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"connect_origins": []}, "connect_origins"),
        ({"connect_origins": ["https://api.example.com/prod"]}, "no path"),
        ({"options": StaticSiteOptions(domain_names=("a.example.com",))}, "go together"),
    ],
)
def test_bad_props_are_refused(bare_stack, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _site(bare_stack(), **kwargs)


def test_a_build_folder_without_index_html_is_refused(bare_stack, tmp_path):
    with pytest.raises(ValueError, match="index.html"):
        StaticSite(bare_stack(), "Site", connect_origins=[API], site_assets=tmp_path)


def test_checkov_skips_are_written_on_the_resources_with_reasons(bare_stack, tmp_path):
    stack = bare_stack()
    _site(stack, tmp_path)
    resources = Template.from_stack(stack).to_json()["Resources"]
    skipped = {
        r["Type"]: {s["id"] for s in r["Metadata"]["checkov"]["skip"]}
        for r in resources.values()
        if "checkov" in r.get("Metadata", {})
    }
    assert "CKV_AWS_68" in skipped["AWS::CloudFront::Distribution"]  # no WAF unless web_acl_id
    assert "CKV_AWS_115" in skipped["AWS::Lambda::Function"]  # CDK's upload handler
    for resource in resources.values():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skip["comment"]) > 20, json.dumps(skip)


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_the_stage_site_calls_only_its_own_apis_and_is_configured_from_its_outputs(synthesized, stage):
    template = synthesized.template_json(stage)
    resources = template["Resources"]
    stack = synthesized.stacks[stage]
    http_api = stack.get_logical_id(stack.api.http_api.node.default_child)
    ws_api = stack.get_logical_id(stack.websocket.api.node.default_child)
    (policy,) = [r for r in resources.values() if r["Type"] == "AWS::CloudFront::ResponseHeadersPolicy"]
    csp = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"][
        "ContentSecurityPolicy"
    ]
    rendered = _joined(csp["ContentSecurityPolicy"])
    assert (
        f"connect-src 'self' https://<{http_api}>.execute-api.<AWS::Region>.<AWS::URLSuffix> "
        f"wss://<{ws_api}>.execute-api.<AWS::Region>.<AWS::URLSuffix>;"
    ) in rendered
    # The buckets' logical ids are pinned (SITE_LOGICAL_IDS): renaming a construct never replaces them.
    assert resources["SiteBucket"]["Type"] == resources["SiteLogBucket"]["Type"] == "AWS::S3::Bucket"
    assert resources["SiteBucket"]["DeletionPolicy"] == "Retain"
    (deployment,) = [r for r in resources.values() if r["Type"] == "Custom::CDKBucketDeployment"]
    # No siteAssets context in the tests: only runtime-config.json, and the files stay (no prune).
    assert (
        len(deployment["Properties"]["SourceObjectKeys"]) == 1 and deployment["Properties"]["Prune"] is False
    )
    markers = json.dumps(deployment["Properties"]["SourceMarkers"])
    assert http_api in markers and ws_api in markers  # the URLs of WebSocketUrl and HttpApiUrl


def test_dev_has_no_site(synthesized):
    types = {r["Type"] for r in synthesized.template_json("dev")["Resources"].values()}
    assert not {"AWS::CloudFront::Distribution", "Custom::CDKBucketDeployment"} & types


def test_the_site_is_a_stage_setting():
    from stacks.stage_config import SiteHosting, get_stage_config

    assert get_stage_config("dev").site == SiteHosting(enabled=False)
    assert get_stage_config("staging").site.enabled and get_stage_config("prod").site.enabled
    context = {
        "staging": {"site": {"enabled": False}},
        "prod": {
            "site": {
                "domainNames": ["comments.example.com"],
                "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
                "webAclId": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/1",
            }
        },
    }
    assert not get_stage_config("staging", context).site.enabled
    prod = get_stage_config("prod", context).site
    assert prod.enabled and prod.domain_names == ("comments.example.com",) and prod.web_acl_id
    with pytest.raises(ValueError, match="go together"):
        get_stage_config("prod", {"prod": {"site": {"domainNames": ["comments.example.com"]}}})
    with pytest.raises(TypeError):
        get_stage_config("prod", {"prod": {"site": {"domian": "typo"}}})
