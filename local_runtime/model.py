"""The local model of a synthesized stack: what to create and run, with local values.

``LocalNames`` gives every resource a deterministic local physical name/ARN/URL (so a
snapshot taken by one run fits the next), and ``AppModel`` turns the template into plain
dataclasses (tables, queues, functions, APIs, routes, event source mappings) with every
intrinsic resolved and every cloud URL rewritten to the local servers.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .filters import compile_filters
from .template import ACCOUNT_ID, REGION, Resolver, Template, TemplateError

POWERTOOLS_LAYER_RE = re.compile(r"arn:aws:lambda:[^:]+:017000801446:layer:AWSLambdaPowertoolsPython")
FUNCTION_ARN_RE = re.compile(r"arn:aws:lambda:[^:]*:[^:]*:function:([A-Za-z0-9_.-]+)")
EXECUTE_API_RE = re.compile(r"(https|wss)://([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com")
EXECUTE_API_HOST_RE = re.compile(r"(?<![/\w.])([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com")
COGNITO_RE = re.compile(r"(?:https://)?cognito-idp\.[a-z0-9-]+\.amazonaws\.com/([A-Za-z0-9_-]+)")


def _digest(text: str, n: int, alphabet: str = string.ascii_lowercase + string.digits) -> str:
    h = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    out = []
    for _ in range(n):
        h, r = divmod(h, len(alphabet))
        out.append(alphabet[r])
    return "".join(out)


@dataclass
class Endpoints:
    """Where the local servers listen (filled once the sockets are bound)."""

    host: str = "127.0.0.1"
    ws_port: int = 0
    api_port: int = 0
    frontend_port: int | None = None
    moto_url: str = ""

    @property
    def public_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104

    @property
    def ws_base(self) -> str:
        return f"http://{self.public_host}:{self.ws_port}"

    @property
    def api_base(self) -> str:
        return f"http://{self.public_host}:{self.api_port}"

    @property
    def frontend_origins(self) -> list[str]:
        if not self.frontend_port:
            return []
        return [f"http://localhost:{self.frontend_port}", f"http://127.0.0.1:{self.frontend_port}"]


class LocalNames:
    """Local physical ids for Ref / Fn::GetAtt."""

    def __init__(self, template: Template, endpoints: Endpoints):
        self.t = template
        self.ep = endpoints
        self.stream_arns: dict[str, str] = {}  # table logical id -> stream ARN (from moto)
        self.queue_urls: dict[str, str] = {}  # queue logical id -> URL (from moto)
        self.resolver = Resolver(template, self.ref, self.get_att)

    def physical_name(self, lid: str, prop: str | None = None, max_len: int = 64) -> str:
        if prop:
            explicit = self.t.props(lid).get(prop)
            if explicit is not None:
                return str(self.resolver.resolve(explicit))
        name = f"{self.t.stack_name}-{lid}"
        if len(name) > max_len:
            name = name[: max_len - 9] + "-" + _digest(lid, 8)
        return name

    def table_name(self, lid: str) -> str:
        return self.physical_name(lid, "TableName", 255)

    def function_name(self, lid: str) -> str:
        return self.physical_name(lid, "FunctionName", 64)

    def queue_name(self, lid: str) -> str:
        name = self.physical_name(lid, "QueueName", 80)
        if self.t.props(lid).get("FifoQueue") and not name.endswith(".fifo"):
            name = name[:75] + ".fifo"
        return name

    def api_id(self, lid: str) -> str:
        return _digest("api" + lid, 10)

    def user_pool_id(self, lid: str) -> str:
        return f"{REGION}_" + _digest("pool" + lid, 9, string.ascii_letters + string.digits)

    def client_id(self, lid: str) -> str:
        return _digest("client" + lid, 26)

    def issuer(self, pool_id: str) -> str:
        return f"{self.ep.api_base}/cognito/{pool_id}"

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"

    # -- callbacks for the resolver ------------------------------------------------------
    def ref(self, lid: str) -> Any:
        typ = self.t.type_of(lid)
        if typ in ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
            return self.table_name(lid)
        if typ == "AWS::Lambda::Function":
            return self.function_name(lid)
        if typ == "AWS::SQS::Queue":
            return self.queue_urls.get(lid) or (f"{self.ep.moto_url}/{ACCOUNT_ID}/{self.queue_name(lid)}")
        if typ == "AWS::ApiGatewayV2::Api":
            return self.api_id(lid)
        if typ == "AWS::ApiGatewayV2::Stage":
            return self.resolver.resolve(self.t.props(lid).get("StageName", "$default"))
        if typ == "AWS::Cognito::UserPool":
            return self.user_pool_id(lid)
        if typ == "AWS::Cognito::UserPoolClient":
            return self.client_id(lid)
        if typ == "AWS::Lambda::LayerVersion":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{self.physical_name(lid, 'LayerName')}:1"
        if typ and typ.startswith("AWS::ApiGatewayV2::"):
            return _digest(typ + lid, 7)
        if typ == "AWS::IAM::Role":
            return self.physical_name(lid, "RoleName")
        return self.physical_name(lid)

    def get_att(self, lid: str, attr: str) -> Any:
        typ = self.t.type_of(lid)
        if typ in ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
            name = self.table_name(lid)
            arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
            if attr == "Arn":
                return arn
            if attr == "StreamArn":
                return self.stream_arns.get(lid, f"{arn}/stream/1970-01-01T00:00:00.000")
        if typ == "AWS::Lambda::Function" and attr == "Arn":
            return self.function_arn(self.function_name(lid))
        if typ == "AWS::SQS::Queue":
            name = self.queue_name(lid)
            return {
                "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}",
                "QueueName": name,
                "QueueUrl": self.ref(lid),
            }.get(attr)
        if typ == "AWS::ApiGatewayV2::Api":
            api_id = self.api_id(lid)
            proto = str(self.t.props(lid).get("ProtocolType", "HTTP")).upper()
            scheme = "wss" if proto == "WEBSOCKET" else "https"
            if attr == "ApiEndpoint":
                return f"{scheme}://{api_id}.execute-api.{REGION}.amazonaws.com"
            if attr == "ApiId":
                return api_id
        if typ == "AWS::Cognito::UserPool":
            pid = self.user_pool_id(lid)
            values = {
                "Arn": f"arn:aws:cognito-idp:{REGION}:{ACCOUNT_ID}:userpool/{pid}",
                "ProviderName": f"cognito-idp.{REGION}.amazonaws.com/{pid}",
                "ProviderURL": f"https://cognito-idp.{REGION}.amazonaws.com/{pid}",
                "UserPoolId": pid,
            }
            if attr in values:
                return values[attr]
        if typ == "AWS::Cognito::UserPoolClient" and attr == "ClientId":
            return self.client_id(lid)
        if typ == "AWS::IAM::Role":
            if attr == "Arn":
                return f"arn:aws:iam::{ACCOUNT_ID}:role/{self.ref(lid)}"
            if attr == "RoleId":
                return "AROA" + _digest(lid, 16, string.ascii_uppercase + string.digits)
        if typ == "AWS::Lambda::LayerVersion" and attr == "LayerVersionArn":
            return self.ref(lid)
        svc = (typ or "AWS::x::y").split("::")[1].lower()
        return f"arn:aws:{svc}:{REGION}:{ACCOUNT_ID}:{lid}/{attr}"

    # -- cloud URL -> local URL ----------------------------------------------------------
    def localize(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.localize(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.localize(v) for v in value]
        if not isinstance(value, str):
            return value
        ws_ids = {
            self.api_id(lid)
            for lid, r in self.t.of_type("AWS::ApiGatewayV2::Api").items()
            if str(r.get("Properties", {}).get("ProtocolType", "")).upper() == "WEBSOCKET"
        }

        def api_url(m: re.Match[str]) -> str:
            scheme, api_id = m.group(1), m.group(2)
            if api_id in ws_ids:
                return self.ep.ws_base.replace("http://", "ws://") if scheme == "wss" else self.ep.ws_base
            return self.ep.api_base

        def api_host(m: re.Match[str]) -> str:
            base = self.ep.ws_base if m.group(1) in ws_ids else self.ep.api_base
            return base.split("://", 1)[1]

        value = COGNITO_RE.sub(lambda m: self.issuer(m.group(1)), value)
        value = EXECUTE_API_RE.sub(api_url, value)
        return EXECUTE_API_HOST_RE.sub(api_host, value)


# -- the model -------------------------------------------------------------------------------


@dataclass
class TableSpec:
    logical_id: str
    name: str
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    gsis: list[dict[str, Any]] = field(default_factory=list)
    lsis: list[dict[str, Any]] = field(default_factory=list)
    stream_view_type: str | None = None
    ttl_attribute: str | None = None


@dataclass
class QueueSpec:
    logical_id: str
    name: str
    attributes: dict[str, str]


@dataclass
class FunctionSpec:
    logical_id: str
    name: str
    handler: str
    runtime: str
    code_dir: Path | None
    inline_code: str | None
    timeout: float
    memory: int
    environment: dict[str, str]
    layers: list[str]
    layer_notes: list[str] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.name}"


@dataclass
class AuthorizerSpec:
    logical_id: str
    id: str
    type: str  # REQUEST | JWT
    identity_source: list[str]
    function: str | None = None  # function logical id (REQUEST)
    issuer: str | None = None
    audience: list[str] = field(default_factory=list)
    result_ttl: int = 0


@dataclass
class RouteSpec:
    logical_id: str
    route_key: str
    function: str | None  # function logical id
    authorization_type: str = "NONE"
    authorizer: AuthorizerSpec | None = None
    integration_type: str = "AWS_PROXY"
    payload_format: str = "2.0"
    timeout_ms: int | None = None


@dataclass
class ApiSpec:
    logical_id: str
    id: str
    name: str
    protocol: str  # WEBSOCKET | HTTP
    route_selection: str = "$request.body.action"
    routes: dict[str, RouteSpec] = field(default_factory=dict)
    stages: list[str] = field(default_factory=list)
    cors: dict[str, Any] | None = None


@dataclass
class EventSourceSpec:
    logical_id: str
    function: str  # function logical id
    source_kind: str  # dynamodb | sqs
    source_logical_id: str | None
    source_arn: str
    batch_size: int
    starting_position: str = "LATEST"
    enabled: bool = True
    report_batch_item_failures: bool = False
    bisect_on_error: bool = False
    max_retry_attempts: int = -1
    max_record_age: int = -1
    on_failure_arn: str | None = None
    max_batching_window: float = 0.0
    parallelization_factor: int = 1
    filters: list[dict[str, Any]] = field(default_factory=list)


class AppModel:
    def __init__(self, template: Template, endpoints: Endpoints):
        self.t = template
        self.names = LocalNames(template, endpoints)
        self.r = self.names.resolver
        self.tables: dict[str, TableSpec] = {}
        self.queues: dict[str, QueueSpec] = {}
        self.warnings: list[str] = []
        self._parse_storage()

    # Phase 1: storage (needs no URLs) ---------------------------------------------------
    def _parse_storage(self) -> None:
        for lid, _ in self.t.of_type("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable").items():
            if not self.r.resource_enabled(lid):
                continue
            p = self.r.resolve(self.t.props(lid))
            stream = p.get("StreamSpecification") or {}
            ttl = p.get("TimeToLiveSpecification") or {}
            spec = TableSpec(
                logical_id=lid,
                name=self.names.table_name(lid),
                key_schema=p["KeySchema"],
                attribute_definitions=p.get("AttributeDefinitions", []),
                gsis=[
                    {k: g[k] for k in ("IndexName", "KeySchema", "Projection") if k in g}
                    for g in p.get("GlobalSecondaryIndexes", []) or []
                ],
                lsis=[
                    {k: g[k] for k in ("IndexName", "KeySchema", "Projection") if k in g}
                    for g in p.get("LocalSecondaryIndexes", []) or []
                ],
                stream_view_type=stream.get("StreamViewType"),
                ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") else None,
            )
            self.tables[lid] = spec
        for lid in self.t.of_type("AWS::SQS::Queue"):
            if not self.r.resource_enabled(lid):
                continue
            p = self.r.resolve(self.t.props(lid))
            attrs = {}
            for key in (
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "DelaySeconds",
                "ReceiveMessageWaitTimeSeconds",
                "MaximumMessageSize",
            ):
                if key in p:
                    attrs[key] = str(p[key])
            redrive = p.get("RedrivePolicy")
            if redrive:
                attrs["RedrivePolicy"] = redrive if isinstance(redrive, str) else json.dumps(redrive)
            if p.get("FifoQueue"):
                attrs["FifoQueue"] = "true"
                if p.get("ContentBasedDeduplication"):
                    attrs["ContentBasedDeduplication"] = "true"
            self.queues[lid] = QueueSpec(lid, self.names.queue_name(lid), attrs)

    # Phase 2: everything else (after tables/queues exist and the ports are known) ---------
    def build(self) -> None:
        self.functions: dict[str, FunctionSpec] = {}
        self.apis: dict[str, ApiSpec] = {}
        self.event_sources: list[EventSourceSpec] = []
        self.user_pools = {
            lid: self.names.user_pool_id(lid) for lid in self.t.of_type("AWS::Cognito::UserPool")
        }
        self.user_pool_clients = {
            lid: self.names.client_id(lid) for lid in self.t.of_type("AWS::Cognito::UserPoolClient")
        }
        for lid in self.t.of_type("AWS::Lambda::Function"):
            if self.r.resource_enabled(lid):
                self.functions[lid] = self._function(lid)
        self._function_by_name = {f.name: lid for lid, f in self.functions.items()}
        self._apis()
        self._event_sources()

    def resolve_local(self, value: Any) -> Any:
        return self.names.localize(self.r.resolve(value))

    def _function(self, lid: str) -> FunctionSpec:
        p = self.t.props(lid)
        env = self.resolve_local((p.get("Environment") or {}).get("Variables") or {})
        env = {k: "" if v is None else (v if isinstance(v, str) else str(v)) for k, v in env.items()}
        layers = [str(x) for x in self.r.resolve(p.get("Layers") or [])]
        notes = []
        for arn in layers:
            if POWERTOOLS_LAYER_RE.match(arn):
                notes.append("powertools layer -> locally installed aws-lambda-powertools")
            else:
                notes.append(f"layer {arn.split(':layer:')[-1]} not mounted (venv packages used instead)")
        code = p.get("Code") or {}
        inline = code.get("ZipFile") if isinstance(code.get("ZipFile"), str) else None
        return FunctionSpec(
            logical_id=lid,
            name=self.names.function_name(lid),
            handler=str(self.r.resolve(p.get("Handler", "index.handler"))),
            runtime=str(self.r.resolve(p.get("Runtime", ""))),
            code_dir=None if inline else self.t.asset_dir(lid),
            inline_code=inline,
            timeout=float(self.r.resolve(p.get("Timeout", 3))),
            memory=int(self.r.resolve(p.get("MemorySize", 128))),
            environment=env,
            layers=layers,
            layer_notes=notes,
        )

    def function_for_uri(self, uri: Any) -> str | None:
        """Function logical id from an integration/authorizer URI or a function ARN."""
        uri = self.r.resolve(uri)
        if not isinstance(uri, str):
            return None
        m = FUNCTION_ARN_RE.search(uri)
        if not m:
            return None
        return self._function_by_name.get(m.group(1))

    def _apis(self) -> None:
        apis = self.t.of_type("AWS::ApiGatewayV2::Api")
        id_to_lid = {self.names.api_id(lid): lid for lid in apis}
        for lid in apis:
            p = self.r.resolve(self.t.props(lid))
            self.apis[lid] = ApiSpec(
                logical_id=lid,
                id=self.names.api_id(lid),
                name=str(p.get("Name", lid)),
                protocol=str(p.get("ProtocolType", "HTTP")).upper(),
                route_selection=p.get("RouteSelectionExpression", "$request.body.action"),
                cors=p.get("CorsConfiguration"),
            )
            if p.get("Target"):  # quick-create HTTP API
                fn = self.function_for_uri(p["Target"])
                self.apis[lid].routes["$default"] = RouteSpec(lid, "$default", fn)
        integrations: dict[str, dict[str, Any]] = {}
        for lid in self.t.of_type("AWS::ApiGatewayV2::Integration"):
            integrations[self.names.ref(lid)] = {"lid": lid, **self.r.resolve(self.t.props(lid))}
        authorizers: dict[str, AuthorizerSpec] = {}
        for lid in self.t.of_type("AWS::ApiGatewayV2::Authorizer"):
            p = self.resolve_local(self.t.props(lid))
            jwt = p.get("JwtConfiguration") or {}
            ident = p.get("IdentitySource") or []
            authorizers[self.names.ref(lid)] = AuthorizerSpec(
                logical_id=lid,
                id=self.names.ref(lid),
                type=str(p.get("AuthorizerType", "")).upper(),
                identity_source=[ident] if isinstance(ident, str) else list(ident),
                function=self.function_for_uri(p.get("AuthorizerUri")) if p.get("AuthorizerUri") else None,
                issuer=jwt.get("Issuer"),
                audience=list(jwt.get("Audience") or []),
                result_ttl=int(p.get("AuthorizerResultTtlInSeconds", 0) or 0),
            )
        for lid in self.t.of_type("AWS::ApiGatewayV2::Route"):
            p = self.r.resolve(self.t.props(lid))
            api_lid = id_to_lid.get(p.get("ApiId"))
            if api_lid is None:
                self.warnings.append(f"route {lid}: unknown ApiId")
                continue
            target = str(p.get("Target", ""))
            integ = integrations.get(target.split("/", 1)[1]) if target.startswith("integrations/") else None
            fn = None
            itype, fmt, timeout = "NONE", "2.0", None
            if integ is not None:
                itype = str(integ.get("IntegrationType", "AWS_PROXY")).upper()
                fmt = str(integ.get("PayloadFormatVersion", "1.0" if itype == "AWS" else "2.0"))
                timeout = integ.get("TimeoutInMillis")
                fn = self.function_for_uri(integ.get("IntegrationUri"))
                if fn is None:
                    self.warnings.append(
                        f"route {p.get('RouteKey')}: integration target is not a local function"
                    )
            auth = authorizers.get(p.get("AuthorizerId")) if p.get("AuthorizerId") else None
            self.apis[api_lid].routes[p["RouteKey"]] = RouteSpec(
                logical_id=lid,
                route_key=p["RouteKey"],
                function=fn,
                authorization_type=str(p.get("AuthorizationType", "NONE")).upper(),
                authorizer=auth,
                integration_type=itype,
                payload_format=fmt,
                timeout_ms=timeout,
            )
        for lid in self.t.of_type("AWS::ApiGatewayV2::Stage"):
            p = self.r.resolve(self.t.props(lid))
            api_lid = id_to_lid.get(p.get("ApiId"))
            if api_lid:
                self.apis[api_lid].stages.append(str(p.get("StageName", "$default")))

    def _event_sources(self) -> None:
        stream_owner = {arn: lid for lid, arn in self.names.stream_arns.items()}
        queue_arns = {self.names.get_att(lid, "Arn"): lid for lid in self.queues}
        for lid in self.t.of_type("AWS::Lambda::EventSourceMapping"):
            if not self.r.resource_enabled(lid):
                continue
            p = self.r.resolve(self.t.props(lid))
            fn_ref = str(p.get("FunctionName", ""))
            fn = self._function_by_name.get(fn_ref) or self.function_for_uri(fn_ref)
            if fn is None:
                self.warnings.append(f"event source mapping {lid}: function {fn_ref!r} not in this stack")
                continue
            arn = str(p.get("EventSourceArn", ""))
            if ":dynamodb:" in arn:
                kind, src = "dynamodb", stream_owner.get(arn)
            elif ":sqs:" in arn:
                kind, src = "sqs", queue_arns.get(arn)
            else:
                self.warnings.append(f"event source mapping {lid}: source {arn} not supported locally")
                continue
            if src is None:
                self.warnings.append(f"event source mapping {lid}: source {arn} not in this stack")
                continue
            on_failure = ((p.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            self.event_sources.append(
                EventSourceSpec(
                    logical_id=lid,
                    function=fn,
                    source_kind=kind,
                    source_logical_id=src,
                    source_arn=arn,
                    batch_size=int(p.get("BatchSize", 100 if kind == "dynamodb" else 10)),
                    starting_position=str(p.get("StartingPosition", "LATEST")),
                    enabled=bool(p.get("Enabled", True)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (p.get("FunctionResponseTypes") or []),
                    bisect_on_error=bool(p.get("BisectBatchOnFunctionError", False)),
                    max_retry_attempts=int(p.get("MaximumRetryAttempts", -1)),
                    max_record_age=int(p.get("MaximumRecordAgeInSeconds", -1)),
                    on_failure_arn=on_failure,
                    max_batching_window=float(p.get("MaximumBatchingWindowInSeconds", 0) or 0),
                    parallelization_factor=int(p.get("ParallelizationFactor", 1) or 1),
                    filters=compile_filters(p.get("FilterCriteria")),
                )
            )

    def queue_for_arn(self, arn: str) -> str | None:
        for lid in self.queues:
            if self.names.get_att(lid, "Arn") == arn:
                return lid
        return None

    def used_functions(self) -> set[str]:
        used: set[str] = set()
        for api in self.apis.values():
            for route in api.routes.values():
                if route.function:
                    used.add(route.function)
                if route.authorizer and route.authorizer.function:
                    used.add(route.authorizer.function)
        for es in self.event_sources:
            used.add(es.function)
        return used


__all__ = ["AppModel", "Endpoints", "LocalNames", "TemplateError"]
