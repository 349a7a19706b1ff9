"""Shared Lambda defaults: one place that decides runtime, architecture, layers, tracing, logging
and the Powertools environment of every function in this project."""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import (
    Annotations,
    AssetHashType,
    BundlingOptions,
    CfnResource,
    DockerImage,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .._nag import acknowledge_function_wildcards
from .bundling import LayerPlatform, PipLayerBundling, requirements_hash

_POWERTOOLS_LAYER = "arn:aws:lambda:${AWS::Region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-"
POWERTOOLS_LAYER_ARNS: dict[str, str] = {
    arch: f"{_POWERTOOLS_LAYER}{arch}:27" for arch in ("arm64", "x86_64")
}
"""Public Powertools for AWS Lambda (Python) v3 layers, version 27 = aws-lambda-powertools 3.23.0,
one per architecture (docs.aws.amazon.com/powertools/python, "Lambda Layer"). Resolved with
``Fn::Sub`` so stacks stay environment-agnostic."""
POWERTOOLS_LAYER_ARN = POWERTOOLS_LAYER_ARNS["arm64"]

_ARCHITECTURES = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}

CODE_EXCLUDES: tuple[str, ...] = (
    "**/__pycache__",
    "**/*.pyc",
    "requirements.txt",
    ".pytest_cache",
    ".mypy_cache",
)


def default_code_path() -> Path:
    """The functions' code asset shipped in this package, ``realtime_comments_cdk.functions``
    (the ``lambdas/`` folder of a checkout, ``realtime_comments_cdk/functions/`` once installed)."""
    return Path(str(importlib.resources.files("realtime_comments_cdk.functions")))


@dataclass(frozen=True)
class FunctionDefaults:
    """Defaults shared by every ``ServiceFunction``.

    :param code_path: directory of the code asset (default: ``default_code_path()``, the
        functions shipped in this package).
    :param requirements_file: third-party requirements bundled into the dependencies layer
        (default: ``<code_path>/requirements.txt``; no layer when the file does not exist).
    :param constraints_file: pip constraints (``-c``) pinning the transitive dependencies of the
        layer, so the same asset hash always means the same packages (default: none).
    :param layer_cache_dir: pip cache of the dependencies layer (default: ``.build/layers`` under
        the current directory).
    :param memory_size: MiB, default 256.
    :param memory_sizes: MiB per handler module (``"comments_api"`` for
        ``handlers.comments_api.handler``), before ``memory_size``; an explicit
        ``ServiceFunction(memory_size=...)`` comes first. Default: none.
    :param timeout: default 10 seconds.
    :param log_retention: default one month.
    :param log_removal_policy: removal policy of the log groups, default DESTROY.
    :param service_name: ``POWERTOOLS_SERVICE_NAME``.
    :param metrics_namespace: ``POWERTOOLS_METRICS_NAMESPACE``.
    :param log_level: ``POWERTOOLS_LOG_LEVEL``.
    :param architecture: ``"arm64"`` (Graviton, the default: 20 % less per GB-second than x86_64)
        or ``"x86_64"``; it picks the Powertools layer and the wheels of the dependencies layer.
    :param powertools_layer_arn: ``Fn::Sub`` template of the Powertools layer ARN (default: the
        public layer of ``architecture``).
    :param layer_platform: pip target of the dependencies layer (default: ``architecture``'s).
    :param snap_start: Lambda SnapStart on published versions (default off). Each function then
        gets a version and a ``live`` alias, and every integration and event source built with
        ``invocation_target`` invokes the alias (SnapStart never applies to ``$LATEST``). The
        functions' ``after_restore`` hook (``realtime_comments.aws_clients``) drops pooled
        connections, signing keys and credentials taken before the snapshot. It costs a cache
        charge per GB-second of each published version for as long as it exists (at least 3
        hours) plus a restore charge per GB restored; see the Lambda pricing page.
    :param extra_environment: added to every function's environment.
    """

    code_path: Path | None = None
    requirements_file: Path | None = None
    constraints_file: Path | None = None
    layer_cache_dir: Path | None = None
    memory_size: int = 256
    memory_sizes: Mapping[str, int] = field(default_factory=dict)
    timeout: Duration = field(default_factory=lambda: Duration.seconds(10))
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    log_removal_policy: RemovalPolicy = RemovalPolicy.DESTROY
    service_name: str = "realtime-comments"
    metrics_namespace: str = "RealtimeComments"
    log_level: str = "INFO"
    architecture: str = "arm64"
    powertools_layer_arn: str | None = None
    layer_platform: LayerPlatform | None = None
    snap_start: bool = False
    extra_environment: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.architecture not in _ARCHITECTURES:
            raise ValueError(
                f"architecture must be one of {sorted(_ARCHITECTURES)}, got {self.architecture!r}"
            )

    @property
    def lambda_architecture(self) -> lambda_.Architecture:
        return _ARCHITECTURES[self.architecture]

    def memory_size_for(self, handler: str) -> int:
        """``memory_sizes`` by the handler's module (``handlers.<module>.handler``), else ``memory_size``."""
        module = handler.rsplit(".", 2)[-2] if handler.count(".") >= 2 else handler
        return self.memory_sizes.get(module, self.memory_size)

    def resolved_powertools_layer_arn(self) -> str:
        return self.powertools_layer_arn or POWERTOOLS_LAYER_ARNS[self.architecture]

    def resolved_layer_platform(self) -> LayerPlatform:
        return self.layer_platform or LayerPlatform.for_architecture(self.architecture)

    def resolved_code_path(self) -> Path:
        return Path(self.code_path) if self.code_path else default_code_path()

    def resolved_requirements_file(self) -> Path:
        return (
            Path(self.requirements_file)
            if self.requirements_file
            else self.resolved_code_path() / "requirements.txt"
        )

    def resolved_cache_dir(self) -> Path:
        return Path(self.layer_cache_dir) if self.layer_cache_dir else Path.cwd() / ".build" / "layers"


class DependenciesLayer(Construct):
    """A ``LayerVersion`` with the packages of a ``requirements.txt``, bundled locally with pip
    (no Docker) for Lambda's platform, with an asset hash that only changes when the requirements
    or the target platform change.

    Use ``DependenciesLayer.of(scope, defaults)`` to share one layer per stack.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        requirements_file: Path,
        cache_dir: Path,
        platform: LayerPlatform | None = None,
        constraints_file: Path | None = None,
        architecture: lambda_.Architecture = lambda_.Architecture.ARM_64,
        description: str = "Third-party Python dependencies of the Realtime Comments functions",
    ) -> None:
        super().__init__(scope, id)
        platform = platform or LayerPlatform()
        requirements_file = Path(requirements_file)
        self.asset_hash = requirements_hash(requirements_file, platform, constraints_file)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=lambda_.Code.from_asset(
                str(requirements_file.parent),
                asset_hash=self.asset_hash,
                asset_hash_type=AssetHashType.CUSTOM,
                bundling=BundlingOptions(
                    image=DockerImage.from_registry("unused"),
                    local=PipLayerBundling(requirements_file, cache_dir, platform, constraints_file),
                ),
            ),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_14],
            compatible_architectures=[architecture],
            description=description,
        )

    @classmethod
    def of(cls, scope: Construct, defaults: FunctionDefaults) -> DependenciesLayer | None:
        """The stack-wide layer for ``defaults`` (created on first use); ``None`` without a
        requirements file."""
        requirements_file = defaults.resolved_requirements_file()
        if not requirements_file.is_file():
            return None
        stack = Stack.of(scope)
        layers: dict[str, DependenciesLayer] = stack.__dict__.setdefault("_realtime_dependency_layers", {})
        key = str(requirements_file.resolve())
        if key not in layers:
            # The first layer of a stack has a fixed id, so the logical id survives dependency bumps.
            layer_id = "DependenciesLayer" if not layers else f"DependenciesLayer{len(layers) + 1}"
            layers[key] = cls(
                stack,
                layer_id,
                requirements_file=requirements_file,
                cache_dir=defaults.resolved_cache_dir(),
                platform=defaults.resolved_layer_platform(),
                constraints_file=defaults.constraints_file,
                architecture=defaults.lambda_architecture,
            )
        return layers[key]


def _code_for(scope: Construct, path: Path) -> lambda_.Code:
    """One ``AssetCode`` per stack and directory, so the directory is fingerprinted once per stack
    (an ``AssetCode`` cannot be shared across stacks)."""
    stack = Stack.of(scope)
    cache: dict[str, lambda_.Code] = stack.__dict__.setdefault("_realtime_code_assets", {})
    key = str(path.resolve())
    if key not in cache:
        cache[key] = lambda_.Code.from_asset(key, exclude=list(CODE_EXCLUDES))
    return cache[key]


# Why a function has no reserved concurrency, for checkov's CKV_AWS_115 (written on the function).
SYNCHRONOUS_UNRESERVED = (
    "Invoked synchronously by API Gateway behind the stage throttle (rate and burst limits), which "
    "bounds its concurrency; a reservation would cap requests below that throttle and take capacity "
    "from the account's unreserved pool."
)
STREAM_UNRESERVED = (
    "A DynamoDB stream consumer: Lambda runs at most parallelization-factor (default 1) invocations "
    "per shard, so its concurrency is bounded by the table's shard count."
)


class ServiceFunction(Construct):
    """A Python Lambda function with the project's defaults.

    Runtime ``python3.14`` on ``FunctionDefaults.architecture`` (arm64 by default), the Powertools
    layer of that architecture
    and the dependencies layer, active X-Ray tracing, its own log group with retention, and the
    ``POWERTOOLS_*`` environment. ``reserved_concurrency`` reserves (and caps) its concurrency;
    without one, ``unreserved_reason`` is written on the function as checkov's acknowledgement of
    CKV_AWS_115. Attributes: ``function`` (``lambda_.Function``), ``log_group``,
    ``role`` (its execution role, allowed to write to ``log_group`` only).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: str,
        defaults: FunctionDefaults | None = None,
        environment: Mapping[str, str] | None = None,
        description: str | None = None,
        memory_size: int | None = None,
        timeout: Duration | None = None,
        extra_layers: Sequence[lambda_.ILayerVersion] = (),
        reserved_concurrency: int | None = None,
        unreserved_reason: str = SYNCHRONOUS_UNRESERVED,
    ) -> None:
        super().__init__(scope, id)
        defaults = defaults or FunctionDefaults()
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=defaults.log_retention,
            removal_policy=defaults.log_removal_policy,
        )
        # Own role instead of the AWS-managed AWSLambdaBasicExecutionRole: the function may write
        # to its own log group only.
        self.role = iam.Role(
            self,
            "ServiceRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
        )
        self.log_group.grant_write(self.role)
        layers: list[lambda_.ILayerVersion] = [
            lambda_.LayerVersion.from_layer_version_arn(
                self, "PowertoolsLayer", Fn.sub(defaults.resolved_powertools_layer_arn())
            )
        ]
        deps = DependenciesLayer.of(self, defaults)
        if deps is not None:
            layers.append(deps.layer)
        layers.extend(extra_layers)
        env = {
            "POWERTOOLS_SERVICE_NAME": defaults.service_name,
            "POWERTOOLS_METRICS_NAMESPACE": defaults.metrics_namespace,
            "POWERTOOLS_LOG_LEVEL": defaults.log_level,
            **dict(defaults.extra_environment),
            **dict(environment or {}),
        }
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=defaults.lambda_architecture,
            handler=handler,
            code=_code_for(self, defaults.resolved_code_path()),
            layers=layers,
            environment=env,
            memory_size=memory_size or defaults.memory_size_for(handler),
            timeout=timeout or defaults.timeout,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            role=self.role,
            description=description,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if defaults.snap_start else None,
            reserved_concurrent_executions=reserved_concurrency,
        )
        # Active tracing needs xray:Put* on "*" (no resource-level permissions).
        acknowledge_function_wildcards(self, [self.function], kinds=frozenset({"IAM5[xray]"}))
        if reserved_concurrency is None:
            cfn = self.function.node.default_child
            assert isinstance(cfn, CfnResource)
            cfn.add_metadata("checkov", {"skip": [{"id": "CKV_AWS_115", "comment": unreserved_reason}]})
        self.alias: lambda_.Alias | None = None
        if defaults.snap_start:
            Annotations.of(self.function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "published: the live alias below points at the function's current version",
            )
            self.alias = lambda_.Alias(
                self, SNAPSTART_ALIAS_ID, alias_name="live", version=self.function.current_version
            )
        self.target: lambda_.IFunction = self.alias or self.function


SNAPSTART_ALIAS_ID = "Live"


def invocation_target(function: lambda_.IFunction) -> lambda_.IFunction:
    """What an integration or event source should invoke for a ``ServiceFunction``'s function:
    its ``live`` alias when SnapStart is on (a published version), else the function itself."""
    scope = function.node.scope
    alias = scope.node.try_find_child(SNAPSTART_ALIAS_ID) if scope is not None else None
    return alias if isinstance(alias, lambda_.Alias) else function
