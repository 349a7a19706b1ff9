"""JWT verification against the issuer's JWKS (Cognito or any OIDC issuer).

Checks: RS256 signature by a key of the JWKS, `iss`, expiry (small leeway), `token_use` in
{id, access}, and the audience: `aud` for ID tokens, `client_id` for access tokens (Cognito
access tokens carry no `aud`). Keys come from `JwksCache` (auth/jwks.py): an unknown `kid`
triggers at most one JWKS fetch a minute per container.
"""

from __future__ import annotations

import functools
from typing import Any

import jwt
from realtime_comments.auth.jwks import JwksCache, UnknownSigningKey, http_fetcher

ALLOWED_TOKEN_USES = frozenset({"id", "access"})
LEEWAY_SECONDS = 30


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or meant for someone else."""


@functools.cache
def jwks_cache(jwks_url: str) -> JwksCache:
    """One key cache per container and JWKS URL, shared by every invocation."""
    return JwksCache(http_fetcher(jwks_url))


class TokenVerifier:
    def __init__(self, issuer: str, audience: str, jwks_url: str, keys: JwksCache | None = None) -> None:
        if not (issuer and audience and jwks_url):
            raise ValueError("JWT_ISSUER, JWT_AUDIENCE and JWKS_URL must all be set")
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.keys = keys if keys is not None else jwks_cache(jwks_url)

    def verify(self, token: str | None) -> dict[str, Any]:
        """The token's claims, or InvalidToken (whose message never contains the token)."""
        if not token or not isinstance(token, str):
            raise InvalidToken("missing token")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if not isinstance(kid, str) or not kid:
                raise InvalidToken("token rejected: no kid")
            signing_key = self.keys.signing_key(kid)
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key.key,
                algorithms=["RS256"],
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                # The audience claim depends on token_use, so it is checked below.
                options={"require": ["exp", "iss", "sub", "token_use"], "verify_aud": False},
            )
        except (jwt.PyJWTError, ValueError, UnknownSigningKey) as exc:
            raise InvalidToken(f"token rejected: {type(exc).__name__}") from exc
        token_use = claims.get("token_use")
        if token_use not in ALLOWED_TOKEN_USES:
            raise InvalidToken("token_use must be id or access")
        if token_use == "id":  # noqa: S105 - a claim value, not a password
            audience = claims.get("aud")
            audiences = audience if isinstance(audience, list) else [audience]
            if self.audience not in audiences:
                raise InvalidToken("wrong audience")
        elif claims.get("client_id") != self.audience:
            raise InvalidToken("wrong client_id")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidToken("missing sub")
        return claims
