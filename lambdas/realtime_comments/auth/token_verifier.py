"""JWT verification against the issuer's JWKS (Cognito or any OIDC issuer).

Checks: RS256 signature by a key of the JWKS, `iss`, expiry (small leeway), `token_use` in
{id, access}, and the audience: `aud` for ID tokens, `client_id` for access tokens (Cognito
access tokens carry no `aud`).
"""

from __future__ import annotations

import functools
from typing import Any

import jwt

ALLOWED_TOKEN_USES = frozenset({"id", "access"})
LEEWAY_SECONDS = 30
JWKS_CACHE_SECONDS = 3600
JWKS_FETCH_TIMEOUT_SECONDS = 5


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or meant for someone else."""


@functools.cache
def _jwks_client(jwks_url: str) -> jwt.PyJWKClient:
    # One client per container: it caches the signing keys, so the JWKS is fetched once (and
    # again only for an unknown `kid`, e.g. after the issuer rotates its keys).
    return jwt.PyJWKClient(
        jwks_url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=JWKS_FETCH_TIMEOUT_SECONDS
    )


class TokenVerifier:
    def __init__(self, issuer: str, audience: str, jwks_url: str) -> None:
        if not (issuer and audience and jwks_url):
            raise ValueError("JWT_ISSUER, JWT_AUDIENCE and JWKS_URL must all be set")
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url

    def verify(self, token: str | None) -> dict[str, Any]:
        """The token's claims, or InvalidToken (whose message never contains the token)."""
        if not token or not isinstance(token, str):
            raise InvalidToken("missing token")
        try:
            signing_key = _jwks_client(self.jwks_url).get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key.key,
                algorithms=["RS256"],
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                # The audience claim depends on token_use, so it is checked below.
                options={"require": ["exp", "iss", "sub", "token_use"], "verify_aud": False},
            )
        except (jwt.PyJWTError, ValueError) as exc:
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
