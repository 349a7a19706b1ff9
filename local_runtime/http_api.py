"""API Gateway HTTP API emulation (payload format 2.0), JWT and AWS_IAM authorizers, CORS,
plus the local identity endpoints (``/dev/token``, JWKS). The ``/__local/*`` test controls, served on
the same port, are :mod:`local_runtime.controls`."""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web

from .identity import TOKEN_LIFETIME, USERNAME_RE, Identity
from .model import ApiSpec, RouteSpec
from .template import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from .functions import Functions

log = logging.getLogger("local_runtime.http")
TEXT_TYPES = re.compile(
    r"^(text/|application/(json|xml|javascript|x-www-form-urlencoded|[\w.+-]*\+(json|xml)))"
)


class CompiledRoute:
    def __init__(self, spec: RouteSpec):
        self.spec = spec
        self.method = "ANY"
        self.regex: re.Pattern[str] | None = None
        self.score = (0, 0, 0)
        if spec.route_key == "$default":
            return
        method, _, path = spec.route_key.partition(" ")
        self.method = method.upper()
        parts = [p for p in path.split("/") if p]
        pattern = ""
        literal = params = greedy = 0
        for part in parts:
            m = re.fullmatch(r"\{([A-Za-z0-9_.-]+)(\+?)\}", part)
            if m and m.group(2):
                pattern += f"/(?P<{_group(m.group(1))}>.+)"
                greedy += 1
            elif m:
                pattern += f"/(?P<{_group(m.group(1))}>[^/]+)"
                params += 1
            else:
                pattern += "/" + re.escape(part)
                literal += 1
        self.regex = re.compile("^" + (pattern or "/") + "/?$")
        self.names = {_group(n): n for n in re.findall(r"\{([A-Za-z0-9_.-]+)\+?\}", path)}
        # More literal segments first, then fewer greedy, then specific method.
        self.score = (literal, -greedy, 1 if self.method != "ANY" else 0)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.regex is None:
            return None
        if self.method not in ("ANY", method):
            return None
        m = self.regex.match(path)
        if not m:
            return None
        return {self.names[k]: unquote(v) for k, v in m.groupdict().items()}


def _group(name: str) -> str:
    return "p_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _stringify_claim(v: Any) -> str:
    if isinstance(v, list):
        return "[" + " ".join(str(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class HttpGateway:
    def __init__(
        self,
        api: ApiSpec | None,
        functions: Functions,
        identity: Identity,
        *,
        ready: Any,
        extra_origins: list[str],
        domain: str = "",
    ):
        self.api = api
        self.functions = functions
        self.identity = identity
        self.ready = ready
        self.domain = domain
        self.routes = sorted(
            (CompiledRoute(r) for r in (api.routes.values() if api else [])),
            key=lambda r: r.score,
            reverse=True,
        )
        self.default_route = api.routes.get("$default") if api else None
        self.stage = api.stages[0] if api and api.stages else "$default"
        cors = dict((api.cors if api else None) or {})
        self.cors_origins = list(cors.get("AllowOrigins") or []) + list(extra_origins)
        self.cors_methods = [m.upper() for m in (cors.get("AllowMethods") or ["*"])]
        self.cors_headers = [h.lower() for h in (cors.get("AllowHeaders") or [])]
        self.cors_expose = list(cors.get("ExposeHeaders") or [])
        self.cors_max_age = cors.get("MaxAge")
        self.cors_credentials = bool(cors.get("AllowCredentials"))
        self.cors_enabled = api is not None and (bool(api.cors) or bool(extra_origins))

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/dev/token", self.handle_token)
        app.router.add_get("/cognito/{pool}/.well-known/jwks.json", self.handle_jwks)
        app.router.add_get("/cognito/{pool}/.well-known/openid-configuration", self.handle_oidc)
        app.router.add_route("*", "/{tail:.*}", self.handle_api)

    # -- CORS -----------------------------------------------------------------------------
    def _origin_allowed(self, origin: str) -> bool:
        return "*" in self.cors_origins or origin in self.cors_origins

    def _cors_headers(self, request: web.Request) -> dict[str, str]:
        origin = request.headers.get("Origin")
        if not origin or not self.cors_enabled or not self._origin_allowed(origin):
            return {}
        out = {
            "Access-Control-Allow-Origin": "*"
            if "*" in self.cors_origins and not self.cors_credentials
            else origin,
            "Vary": "Origin",
        }
        if self.cors_credentials:
            out["Access-Control-Allow-Credentials"] = "true"
        if self.cors_expose:
            out["Access-Control-Expose-Headers"] = ",".join(self.cors_expose)
        return out

    def _preflight(self, request: web.Request) -> web.Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        if not self.cors_enabled:
            return None
        origin = request.headers.get("Origin", "")
        method = request.headers["Access-Control-Request-Method"].upper()
        req_headers = [
            h.strip().lower()
            for h in request.headers.get("Access-Control-Request-Headers", "").split(",")
            if h.strip()
        ]
        if not origin or not self._origin_allowed(origin):
            return web.Response(status=204)
        if "*" not in self.cors_methods and method not in self.cors_methods:
            return web.Response(status=204)
        if "*" not in self.cors_headers and any(h not in self.cors_headers for h in req_headers):
            return web.Response(status=204)
        headers = self._cors_headers(request)
        headers["Access-Control-Allow-Methods"] = ",".join(self.cors_methods)
        if req_headers:
            headers["Access-Control-Allow-Headers"] = ",".join(req_headers)
        if self.cors_max_age is not None:
            headers["Access-Control-Max-Age"] = str(self.cors_max_age)
        return web.Response(status=204, headers=headers)

    def _local_cors(self, request: web.Request) -> dict[str, str]:
        """CORS for the local endpoints (/dev/token): any origin the runtime allows."""
        origin = request.headers.get("Origin")
        if not origin or not (
            self._origin_allowed(origin) or origin.startswith(("http://localhost:", "http://127.0.0.1:"))
        ):
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Vary": "Origin",
            "Access-Control-Allow-Methods": "POST,OPTIONS",
            "Access-Control-Allow-Headers": "content-type",
        }

    # -- identity endpoints -----------------------------------------------------------------
    async def handle_token(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        headers = self._local_cors(request)
        try:
            body = await request.json()
            username = body.get("username") if isinstance(body, dict) else None
        except ValueError:
            username = None
        if not isinstance(username, str) or not USERNAME_RE.match(username):
            resp = web.json_response(
                {
                    "error": {
                        "code": "BadRequest",
                        "message": "username must be 1-64 characters of A-Z a-z 0-9 _ . -",
                    }
                },
                status=400,
                headers=headers,
            )
        else:
            token = self.identity.issue(username)
            resp = web.json_response(
                {"token": token, "userId": username, "expiresIn": TOKEN_LIFETIME}, headers=headers
            )
        log.info("HTTP POST /dev/token -> %d (%.0f ms)", resp.status, (time.perf_counter() - started) * 1000)
        return resp

    async def handle_jwks(self, request: web.Request) -> web.Response:
        return web.json_response(self.identity.jwks)

    async def handle_oidc(self, request: web.Request) -> web.Response:
        iss = self.identity.issuer
        return web.json_response(
            {
                "issuer": iss,
                "jwks_uri": f"{iss}/.well-known/jwks.json",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    # -- API routes -------------------------------------------------------------------------
    def _find(self, method: str, path: str) -> tuple[RouteSpec | None, dict[str, str]]:
        for r in self.routes:
            params = r.match(method, path)
            if params is not None:
                return r.spec, params
        return self.default_route, {}

    async def handle_api(self, request: web.Request) -> web.StreamResponse:
        await self.ready.wait()
        started = time.perf_counter()
        resp = await self._handle_api(request)
        for k, v in self._cors_headers(request).items():
            resp.headers.setdefault(k, v)
        log.info(
            "HTTP %s %s -> %d (%.0f ms)",
            request.method,
            request.rel_url.raw_path,
            resp.status,
            (time.perf_counter() - started) * 1000,
        )
        return resp

    async def _handle_api(self, request: web.Request) -> web.Response:
        pre = self._preflight(request)
        if pre is not None:
            return pre
        path = request.rel_url.raw_path
        if self.stage not in ("$default", "") and (
            path == f"/{self.stage}" or path.startswith(f"/{self.stage}/")
        ):
            path = path[len(self.stage) + 1 :] or "/"
        route, params = self._find(request.method, path)
        if route is None:
            return web.json_response({"message": "Not Found"}, status=404)
        body_bytes = await request.read()
        authorizer: dict[str, Any] | None = None
        if route.authorization_type == "JWT" and route.authorizer:
            claims = self._verify_jwt(request, route)
            if claims is None:
                return web.json_response(
                    {"message": "Unauthorized"},
                    status=401,
                    headers={"www-authenticate": 'Bearer error="invalid_token"'},
                )
            scope = claims.get("scope")
            authorizer = {
                "jwt": {
                    "claims": {k: _stringify_claim(v) for k, v in claims.items()},
                    "scopes": scope.split() if isinstance(scope, str) else None,
                }
            }
        elif route.authorization_type == "AWS_IAM":
            iam, error = verify_sigv4(request, body_bytes)
            if iam is None:
                return web.json_response({"message": error}, status=403)
            authorizer = {"iam": iam}
        elif route.authorization_type == "CUSTOM":
            return web.json_response(
                {"message": "Lambda authorizers on HTTP APIs are not emulated"}, status=500
            )
        if not route.function:
            return web.json_response({"message": "Not Found"}, status=404)
        event = self._event(request, route, params, body_bytes, authorizer, path)
        res = await self.functions.invoke(
            route.function, event, timeout=(route.timeout_ms / 1000) if route.timeout_ms else None
        )
        if not res.ok:
            log.error("HTTP %s %s integration error: %s", request.method, path, res.error_text)
            return web.json_response({"message": "Internal Server Error"}, status=500)
        return _response(res.result)

    def _verify_jwt(self, request: web.Request, route: RouteSpec) -> dict[str, Any] | None:
        auth = route.authorizer
        assert auth is not None
        token = None
        for src in auth.identity_source or ["$request.header.Authorization"]:
            if src.lower().startswith("$request.header."):
                token = request.headers.get(src.split(".", 2)[2])
            elif src.startswith("$request.querystring."):
                token = request.query.get(src.split(".", 2)[2])
            if token:
                break
        if not token:
            return None
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        try:
            return self.identity.verify(token, auth.issuer, auth.audience)
        except Exception as exc:  # noqa: BLE001 - any failure is 401, like API Gateway
            log.info("HTTP JWT rejected: %s", exc)
            return None

    def _event(
        self,
        request: web.Request,
        route: RouteSpec,
        params: dict[str, str],
        body: bytes,
        authorizer: dict[str, Any] | None,
        path: str,
    ) -> dict[str, Any]:
        now = time.time()
        headers: dict[str, str] = {}
        for k, v in request.headers.items():
            lk = k.lower()
            if lk == "cookie":
                continue
            headers[lk] = f"{headers[lk]},{v}" if lk in headers else v
        headers.setdefault("x-forwarded-for", request.remote or "127.0.0.1")
        headers.setdefault("x-forwarded-proto", "http")
        query: dict[str, str] = {}
        for k, v in request.query.items():
            query[k] = f"{query[k]},{v}" if k in query else v
        rid = base64.urlsafe_b64encode(os.urandom(6)).decode() + "="
        ctx: dict[str, Any] = {
            "accountId": ACCOUNT_ID,
            "apiId": self.api.id if self.api else "local",
            "domainName": self.domain,
            "domainPrefix": self.domain.split(".")[0].split(":")[0],
            "http": {
                "method": request.method,
                "path": request.rel_url.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.remote or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": rid,
            "routeKey": route.route_key,
            "stage": self.stage,
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        }
        if authorizer:
            ctx["authorizer"] = authorizer
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": request.rel_url.raw_path,
            "rawQueryString": request.rel_url.raw_query_string,
            "headers": headers,
            "requestContext": ctx,
            "isBase64Encoded": False,
        }
        cookies = request.headers.getall("Cookie", [])
        if cookies:
            event["cookies"] = [c.strip() for ck in cookies for c in ck.split(";") if c.strip()]
        if query:
            event["queryStringParameters"] = query
        if params:
            event["pathParameters"] = params
        if body:
            ctype = request.headers.get("Content-Type", "")
            try:
                if ctype and not TEXT_TYPES.match(ctype.lower()):
                    raise UnicodeDecodeError("utf-8", b"", 0, 1, "binary content type")
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode()
                event["isBase64Encoded"] = True
        return event


def _response(result: Any) -> web.Response:
    """Payload format 2.0 response mapping."""
    if isinstance(result, dict) and "statusCode" in result:
        status = int(result.get("statusCode") or 200)
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        body = result.get("body")
        resp = web.Response(status=status, headers=headers)
        for k, vals in (result.get("multiValueHeaders") or {}).items():
            for v in vals:
                resp.headers.add(str(k), str(v))
        for c in result.get("cookies") or []:
            resp.headers.add("Set-Cookie", c)
        if body is not None and status not in (204, 304):
            if result.get("isBase64Encoded"):
                resp.body = base64.b64decode(body)
            else:
                resp.body = (body if isinstance(body, str) else json.dumps(body)).encode()
            if "Content-Type" not in resp.headers:
                resp.headers["Content-Type"] = "application/json"
        return resp
    if isinstance(result, str):
        return web.Response(status=200, text=result, content_type="application/json")
    return web.json_response(result, status=200)


def verify_sigv4(request: web.Request, body: bytes) -> tuple[dict[str, Any] | None, str]:
    """Recompute the SigV4 signature with the local secret (``local``) and compare."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth = request.headers.get("Authorization", "")
    m = re.match(
        r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
        r"SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)",
        auth,
    )
    if not m:
        return None, "Missing Authentication Token" if not auth else "Authorization header is not SigV4"
    access_key, date, region, service, signed_headers, signature = m.groups()
    if access_key != "local":
        return None, "The security token included in the request is invalid."
    amz_date = request.headers.get("X-Amz-Date", "")
    if not amz_date.startswith(date):
        return None, "Signature date mismatch"
    names = signed_headers.split(";")
    headers = {}
    for n in names:
        if n not in request.headers:
            return None, f"Signed header {n} missing"
        headers[n] = request.headers[n]
    url = f"http://{request.headers.get('Host', '')}{request.rel_url.raw_path}"
    if request.rel_url.raw_query_string:
        url += "?" + request.rel_url.raw_query_string
    aws_req = AWSRequest(method=request.method, url=url, data=body, headers=headers)
    aws_req.context["timestamp"] = amz_date
    signer = SigV4Auth(
        Credentials("local", "local", request.headers.get("X-Amz-Security-Token")), service, region
    )
    canonical = signer.canonical_request(aws_req)
    expected = signer.signature(signer.string_to_sign(aws_req, canonical), aws_req)
    if not hmac.compare_digest(expected, signature):
        return None, ("The request signature we calculated does not match the signature you provided.")
    return {
        "accessKey": access_key,
        "accountId": ACCOUNT_ID,
        "callerId": "AIDALOCAL",
        "principalOrgId": None,
        "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/local",
        "userId": "AIDALOCAL",
        "cognitoIdentity": None,
    }, ""


__all__ = ["HttpGateway", "REGION", "verify_sigv4"]
