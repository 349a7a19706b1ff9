"""The $connect authorization decision, from a REQUEST authorizer event."""

from __future__ import annotations

from typing import Any

from realtime_comments.auth.origin import is_origin_allowed
from realtime_comments.auth.policy import allow, deny
from realtime_comments.auth.token_verifier import InvalidToken, TokenVerifier
from realtime_comments.settings import AuthorizerSettings


class Unauthorized(Exception):
    """Raised as Exception("Unauthorized"): API Gateway then answers 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def _mapping(event: dict[str, Any], key: str) -> dict[str, Any]:
    # A malformed event must be refused like a missing token, never crash the authorizer.
    value = event.get(key)
    return value if isinstance(value, dict) else {}


def header(event: dict[str, Any], name: str) -> str | None:
    """A header value, looked up case-insensitively (clients and proxies vary the case)."""
    wanted = name.lower()
    for key, value in _mapping(event, "headers").items():
        if isinstance(key, str) and key.lower() == wanted:
            return value if isinstance(value, str) else None
    for key, values in _mapping(event, "multiValueHeaders").items():
        if isinstance(key, str) and key.lower() == wanted and isinstance(values, list) and values:
            return values[0] if isinstance(values[0], str) else None
    return None


def query_token(event: dict[str, Any]) -> str | None:
    token = _mapping(event, "queryStringParameters").get("token")
    return token if isinstance(token, str) and token else None


def authorize(event: dict[str, Any], settings: AuthorizerSettings) -> dict[str, Any]:
    """Allow policy with context {"userId": sub}; Deny for a foreign Origin; raise Unauthorized otherwise."""
    method_arn = event.get("methodArn") or ""
    verifier = TokenVerifier(settings.jwt_issuer, settings.jwt_audience, settings.jwks_url)
    try:
        claims = verifier.verify(query_token(event))
    except InvalidToken as exc:
        raise Unauthorized() from exc
    user_id = claims["sub"]
    if not is_origin_allowed(header(event, "Origin"), settings.allowed_origins):
        return deny(user_id, method_arn)
    return allow(user_id, method_arn, user_id)
