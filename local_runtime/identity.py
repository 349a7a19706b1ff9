"""Local identity provider: an RSA signing key, its JWKS, and Cognito-like ID tokens.

`Identity` keeps its key in a PEM file (the local runtime) or only in memory
(`Identity.ephemeral`, for tests and benchmarks); `JwksServer` publishes a JWKS on loopback.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
TOKEN_LIFETIME = 3600
JWKS_PATH = "/.well-known/jwks.json"


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Identity:
    def __init__(self, key_path: Path | None, issuer: str, audience: str, *, kid: str | None = None):
        """Load the key from `key_path` (created there if missing) or, with None, keep a new one
        in memory. `kid` defaults to a thumbprint of the public key."""
        self.issuer = issuer
        self.audience = audience
        self._key = new_rsa_key() if key_path is None else self._load_or_create(key_path)
        pub = self._key.public_key()
        self._public = pub
        der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = kid or hashlib.sha256(der).hexdigest()[:16]
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(pub))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        self.jwks = {"keys": [jwk]}

    @classmethod
    def ephemeral(cls, issuer: str, audience: str, *, kid: str | None = None) -> Self:
        """An issuer whose key lives only in memory."""
        return cls(None, issuer, audience, kid=kid)

    @staticmethod
    def _load_or_create(key_path: Path) -> rsa.RSAPrivateKey:
        if key_path.exists():
            loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise ValueError(f"{key_path} is not an RSA private key")
            return loaded
        key = new_rsa_key()
        key_path.parent.mkdir(parents=True, exist_ok=True)
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        return key

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        return self._key

    @property
    def jwks_url(self) -> str:
        """Where the JWKS is published: `<issuer>/.well-known/jwks.json`."""
        return f"{self.issuer}{JWKS_PATH}"

    def claims(
        self,
        username: str = "alice",
        *,
        lifetime: int = TOKEN_LIFETIME,
        now: float | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        """Cognito-like ID-token claims; an override of None leaves that claim out."""
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
            **overrides,
        }
        return {name: value for name, value in claims.items() if value is not None}

    def sign(self, claims: dict[str, Any], *, key: Any = None, kid: str | None = None) -> str:
        """RS256 with this issuer's key and kid, unless another `key` (a forgery) or `kid` is given."""
        return jwt.encode(claims, key or self._key, algorithm="RS256", headers={"kid": kid or self.kid})

    def issue(
        self, username: str, lifetime: int = TOKEN_LIFETIME, now: float | None = None, **extra: Any
    ) -> str:
        return self.sign(self.claims(username, lifetime=lifetime, now=now, **extra))

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


class JwksServer:
    """A JWKS at `http://127.0.0.1:<port><path>/.well-known/jwks.json`, served by a daemon thread.

    `url` is the issuer to use (`<base><path>`); set `jwks` (e.g. an `Identity.jwks`) at any time.
    Other paths answer 404.
    """

    def __init__(self, path: str = "", jwks: dict[str, Any] | None = None) -> None:
        self.jwks: dict[str, Any] = jwks if jwks is not None else {"keys": []}
        server = self
        target = f"{path.rstrip('/')}{JWKS_PATH}"

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                return

            def do_GET(self) -> None:  # noqa: N802 - stdlib naming
                if self.path.split("?", 1)[0] != target:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps(server.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}{path.rstrip('/')}"
        self.jwks_url = f"{self.url}{JWKS_PATH}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
