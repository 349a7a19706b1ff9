"""CloudFormation template model and intrinsic-function resolver.

The resolver is generic: it takes two callbacks that give the *local* value of ``Ref`` and
``Fn::GetAtt`` for a logical id, so the same code serves the unit tests (small fixtures) and the
runtime (values that point at the local servers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ACCOUNT_ID = "000000000000"
PSEUDO_PARAMETERS: dict[str, Any] = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NotificationARNs": [],
}


class TemplateError(Exception):
    """The template uses something the local runtime cannot resolve."""


class _NoValue:
    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "AWS::NoValue"


NO_VALUE = _NoValue()

_SUB_RE = re.compile(r"\$\{([^}]*)\}")


@dataclass
class Template:
    body: dict[str, Any]
    path: Path | None = None
    stack_name: str = "Stack"
    assets: dict[str, Path] = field(default_factory=dict)  # asset hash -> directory/file

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Resources", {})

    @property
    def conditions(self) -> dict[str, Any]:
        return self.body.get("Conditions", {})

    @property
    def parameters(self) -> dict[str, Any]:
        return self.body.get("Parameters", {})

    @property
    def mappings(self) -> dict[str, Any]:
        return self.body.get("Mappings", {})

    @property
    def outputs(self) -> dict[str, Any]:
        return self.body.get("Outputs", {})

    def of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {lid: r for lid, r in self.resources.items() if r.get("Type") in types}

    def props(self, logical_id: str) -> dict[str, Any]:
        return self.resources[logical_id].get("Properties", {}) or {}

    def type_of(self, logical_id: str) -> str | None:
        res = self.resources.get(logical_id)
        return res.get("Type") if res else None

    def asset_dir(self, logical_id: str) -> Path | None:
        """The local directory of a Lambda function's or layer's code asset."""
        res = self.resources[logical_id]
        meta = res.get("Metadata", {}) or {}
        base = self.path.parent if self.path else Path(".")
        asset_path = meta.get("aws:asset:path")
        if asset_path:
            p = Path(asset_path)
            return p if p.is_absolute() else base / p
        props = res.get("Properties", {}) or {}
        code = props.get("Code") or props.get("Content") or {}
        key = code.get("S3Key")
        if isinstance(key, str):
            digest = key.split("/")[-1].split(".")[0]
            if digest in self.assets:
                return self.assets[digest]
        return None


@dataclass(frozen=True)
class StackArtifact:
    """One stack of a cloud assembly: its CloudFormation name, template and asset manifest."""

    stack_name: str
    template: Path
    assets: Path | None = None


def stack_artifacts(cdk_out: Path) -> list[StackArtifact]:
    """Every stack in ``cdk_out``, nested stage assemblies (``assembly-<stage>/``) included, read from
    the cloud assembly's manifest.json. A folder without a manifest (a hand-written template) holds
    one stack per ``<name>.template.json``."""
    manifest = cdk_out / "manifest.json"
    if not manifest.exists():
        stacks = []
        for template in sorted(cdk_out.glob("*.template.json")):
            name = template.name[: -len(".template.json")]
            stacks.append(StackArtifact(name, template, _existing(cdk_out / f"{name}.assets.json")))
        return stacks
    artifacts = json.loads(manifest.read_text()).get("artifacts") or {}
    found: list[StackArtifact] = []
    for artifact_id, artifact in artifacts.items():
        props = artifact.get("properties") or {}
        if artifact.get("type") == "cdk:cloud-assembly":
            found.extend(stack_artifacts(cdk_out / props["directoryName"]))
        elif artifact.get("type") == "aws:cloudformation:stack":
            asset_files = [
                artifacts[dep]["properties"]["file"]
                for dep in artifact.get("dependencies") or ()
                if (artifacts.get(dep) or {}).get("type") == "cdk:asset-manifest"
            ]
            found.append(
                StackArtifact(
                    props.get("stackName", artifact_id),
                    cdk_out / props["templateFile"],
                    cdk_out / asset_files[0] if asset_files else None,
                )
            )
    return found


def _existing(path: Path) -> Path | None:
    return path if path.exists() else None


def find_stack(cdk_out: Path, stage: str) -> str:
    """The one stack in ``cdk_out`` whose name ends in ``-<stage>`` (``--stack`` picks among several)."""
    names = sorted(a.stack_name for a in stack_artifacts(cdk_out))
    matching = [n for n in names if n.endswith(f"-{stage}")]
    if len(matching) == 1:
        return matching[0]
    if not matching:
        raise FileNotFoundError(
            f"no stack for stage {stage!r} in {cdk_out} (stacks: {', '.join(names) or 'none'})"
        )
    raise ValueError(f"several stacks for stage {stage!r} in {cdk_out}: {', '.join(matching)}; pass --stack")


def stack_artifact(cdk_out: Path, stack_name: str) -> StackArtifact:
    """The stack named ``stack_name`` (its CloudFormation name) in ``cdk_out``."""
    for artifact in stack_artifacts(cdk_out):
        if artifact.stack_name == stack_name:
            return artifact
    raise FileNotFoundError(f"no stack {stack_name!r} in {cdk_out}")


def load_template(cdk_out: Path, stack_name: str) -> Template:
    artifact = stack_artifact(cdk_out, stack_name)
    if not artifact.template.exists():
        raise FileNotFoundError(f"template of stack {stack_name!r} not found: {artifact.template}")
    body = json.loads(artifact.template.read_text())
    assets: dict[str, Path] = {}
    if artifact.assets is not None:
        data = json.loads(artifact.assets.read_text())
        for digest, entry in (data.get("files") or {}).items():
            src = (entry.get("source") or {}).get("path")
            if src:
                # Asset paths are relative to the folder of the asset manifest (``../asset.*``
                # from a stage's nested assembly).
                assets[digest] = artifact.assets.parent / src
    return Template(body=body, path=artifact.template, stack_name=stack_name, assets=assets)


RefFn = Callable[[str], Any]
GetAttFn = Callable[[str, str], Any]


class Resolver:
    """Resolves CloudFormation intrinsic functions to plain values."""

    def __init__(
        self, template: Template, ref: RefFn, get_att: GetAttFn, parameters: dict[str, Any] | None = None
    ):
        self.template = template
        self._ref = ref
        self._get_att = get_att
        self._parameters = parameters or {}
        self._condition_cache: dict[str, bool] = {}

    # -- public -------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        out = self._resolve(value)
        return None if out is NO_VALUE else out

    def condition(self, name: str) -> bool:
        if name not in self._condition_cache:
            if name not in self.template.conditions:
                raise TemplateError(f"unknown condition {name!r}")
            self._condition_cache[name] = bool(self._resolve(self.template.conditions[name]))
        return self._condition_cache[name]

    def resource_enabled(self, logical_id: str) -> bool:
        cond = self.template.resources[logical_id].get("Condition")
        return True if cond is None else self.condition(cond)

    # -- internals ----------------------------------------------------------------------
    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self._resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._do_ref(arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                handler = getattr(self, "_fn_" + key[4:].replace("::", "_"), None)
                if handler is None:
                    raise TemplateError(f"unsupported intrinsic function {key}")
                return handler(arg)
        out = {}
        for k, v in value.items():
            rv = self._resolve(v)
            if rv is not NO_VALUE:
                out[k] = rv
        return out

    def _do_ref(self, name: Any) -> Any:
        name = self._resolve(name)
        if name == "AWS::NoValue":
            return NO_VALUE
        if name == "AWS::StackName":
            return self.template.stack_name
        if name == "AWS::StackId":
            return (
                f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/"
                f"{self.template.stack_name}/00000000-0000-0000-0000-000000000000"
            )
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self.template.parameters:
            if name in self._parameters:
                return self._parameters[name]
            param = self.template.parameters[name]
            if "Default" not in param:
                raise TemplateError(f"parameter {name!r} has no default")
            default = param["Default"]
            if str(param.get("Type", "")).startswith("List<") or param.get("Type") == "CommaDelimitedList":
                return [s.strip() for s in str(default).split(",")]
            return default
        if name in self.template.resources:
            return self._ref(name)
        raise TemplateError(f"Ref to unknown name {name!r}")

    def _fn_GetAtt(self, arg: Any) -> Any:
        if isinstance(arg, str):
            logical_id, _, attr = arg.partition(".")
        else:
            logical_id, attr = self._resolve(arg[0]), self._resolve(arg[1])
        if logical_id not in self.template.resources:
            raise TemplateError(f"GetAtt on unknown resource {logical_id!r}")
        return self._get_att(logical_id, attr)

    def _fn_Join(self, arg: Any) -> str:
        delim, items = arg
        items = self._resolve(items)
        return self._resolve(delim).join(_to_str(i) for i in items)

    def _fn_Select(self, arg: Any) -> Any:
        index, items = arg
        index = int(self._resolve(index))
        items = self._resolve(items)
        if not 0 <= index < len(items):
            raise TemplateError(f"Fn::Select index {index} out of range")
        return items[index]

    def _fn_Split(self, arg: Any) -> list[str]:
        delim, source = arg
        return _to_str(self._resolve(source)).split(self._resolve(delim))

    def _fn_Sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        else:
            text, variables = arg[0], self._resolve(arg[1])

        def repl(m: re.Match[str]) -> str:
            expr = m.group(1)
            if expr.startswith("!"):
                return "${" + expr[1:] + "}"
            expr = expr.strip()
            if expr in variables:
                return _to_str(variables[expr])
            if "." in expr and expr.split(".", 1)[0] in self.template.resources:
                lid, attr = expr.split(".", 1)
                return _to_str(self._get_att(lid, attr))
            return _to_str(self._do_ref(expr))

        return _SUB_RE.sub(repl, text)

    def _fn_If(self, arg: Any) -> Any:
        cond, when_true, when_false = arg
        return self._resolve(when_true if self.condition(cond) else when_false)

    def _fn_Equals(self, arg: Any) -> bool:
        a, b = (self._resolve(x) for x in arg)
        return _to_str(a) == _to_str(b) if not isinstance(a, list | dict) else a == b

    def _fn_Not(self, arg: Any) -> bool:
        return not self._resolve(arg[0])

    def _fn_And(self, arg: Any) -> bool:
        return all(self._resolve(x) for x in arg)

    def _fn_Or(self, arg: Any) -> bool:
        return any(self._resolve(x) for x in arg)

    def _fn_FindInMap(self, arg: Any) -> Any:
        name, k1, k2 = (self._resolve(x) for x in arg[:3])
        try:
            return self.template.mappings[name][k1][k2]
        except KeyError as exc:
            raise TemplateError(f"Fn::FindInMap {name}/{k1}/{k2} not found") from exc

    def _fn_Base64(self, arg: Any) -> str:
        import base64

        return base64.b64encode(_to_str(self._resolve(arg)).encode()).decode()

    def _fn_GetAZs(self, arg: Any) -> list[str]:
        return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]

    def _fn_ImportValue(self, arg: Any) -> Any:
        raise TemplateError(f"Fn::ImportValue {self._resolve(arg)!r} (cross-stack imports) is not supported")


def _to_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | dict):
        return json.dumps(v)
    return str(v)


# -- resource classification ----------------------------------------------------------------

EMULATED_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::GlobalTable",
    "AWS::Lambda::Function",
    "AWS::Lambda::EventSourceMapping",
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Authorizer",
    "AWS::ApiGatewayV2::Stage",
    "AWS::SQS::Queue",
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::Lambda::LayerVersion",
}
# Accepted, but with no local effect (documented in docs/local-runtime.md).
NO_EFFECT_TYPES = {
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::Lambda::Permission",
    "AWS::Logs::LogGroup",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::CDK::Metadata",
    "AWS::ApiGatewayV2::Deployment",
    "AWS::SQS::QueuePolicy",
    "AWS::ApiGatewayV2::RouteResponse",
    "AWS::ApiGatewayV2::IntegrationResponse",
    "AWS::Cognito::UserPoolDomain",
    "AWS::ApiGateway::Account",
    "AWS::Lambda::Version",
    "AWS::Lambda::Alias",
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
    "AWS::Logs::ResourcePolicy",
    "AWS::Lambda::EventInvokeConfig",
}


def classify(template: Template) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Count resources by type: (emulated, accepted without effect, unsupported)."""
    emulated: dict[str, int] = {}
    no_effect: dict[str, int] = {}
    unsupported: dict[str, int] = {}
    for res in template.resources.values():
        t = res.get("Type", "?")
        bucket = emulated if t in EMULATED_TYPES else no_effect if t in NO_EFFECT_TYPES else unsupported
        bucket[t] = bucket.get(t, 0) + 1
    return emulated, no_effect, unsupported


def short_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{t.replace('AWS::', '')}x{n}" for t, n in sorted(counts.items())) or "none"
