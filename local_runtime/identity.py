"""Local identity provider: an RSA signing key, its JWKS, and Cognito-like ID tokens."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
TOKEN_LIFETIME = 3600


class Identity:
    def __init__(self, key_path: Path, issuer: str, audience: str):
        self.issuer = issuer
        self.audience = audience
        if key_path.exists():
            loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise ValueError(f"{key_path} is not an RSA private key")
            self._key = loaded
        else:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            key_path.parent.mkdir(parents=True, exist_ok=True)
            key_path.write_bytes(
                self._key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            key_path.chmod(0o600)
        pub = self._key.public_key()
        self._public = pub
        der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = hashlib.sha256(der).hexdigest()[:16]
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(pub))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        self.jwks = {"keys": [jwk]}

    def issue(
        self, username: str, lifetime: int = TOKEN_LIFETIME, now: float | None = None, **extra: Any
    ) -> str:
        now = int(time.time() if now is None else now)
        claims = {
            "sub": username,
            "cognito:username": username,
            "token_use": "id",
            "aud": self.audience,
            "iss": self.issuer,
            "iat": now,
            "auth_time": now,
            "exp": now + lifetime,
            **extra,
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    def verify(self, token: str, issuer: str | None, audience: list[str]) -> dict[str, Any]:
        """Verify like API Gateway's JWT authorizer: signature, iss, aud or client_id, exp, nbf."""
        claims = jwt.decode(
            token,
            self._public,
            algorithms=["RS256"],
            options={"verify_aud": False},
            issuer=issuer or self.issuer,
            leeway=0,
        )
        if audience:
            aud = claims.get("aud", claims.get("client_id"))
            auds = aud if isinstance(aud, list) else [aud]
            if not any(a in audience for a in auds):
                raise jwt.InvalidAudienceError("audience not allowed")
        return claims
