"""A token issuer for tests: Ed25519 keys, a real JWKS endpoint on loopback, rotation."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from servicekit.auth import JwtVerifier, Role

ISSUER = "https://identity.test"
AUDIENCE = "realtyforyou"


class TokenIssuer:
    """Signs access tokens like identity does and serves the public keys as JWKS."""

    def __init__(self, *, issuer: str = ISSUER, audience: str = AUDIENCE) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys: dict[str, Ed25519PrivateKey] = {}
        self.current_kid = self.rotate()
        self.fetches = 0  # JWKS requests served
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def rotate(self, *, keep_old: bool = True) -> str:
        """Add a new signing key (and drop the old ones unless `keep_old`)."""
        kid = uuid.uuid4().hex[:12]
        if not keep_old:
            self.keys.clear()
        self.keys[kid] = Ed25519PrivateKey.generate()
        self.current_kid = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": "EdDSA", "use": "sig"})
        return {"keys": keys}

    def token(
        self,
        user_id: uuid.UUID | str,
        role: Role | str = Role.BUYER,
        *,
        expires_in: int = 900,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "role": str(Role(role).value),
            "iat": now,
            "exp": now + expires_in,
            **claims,
        }
        use = kid or self.current_kid
        return jwt.encode(payload, self.keys[use], algorithm="EdDSA", headers={"kid": use})

    def headers(self, user_id: uuid.UUID | str, role: Role | str = Role.BUYER) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, role)}"}

    # -- the JWKS endpoint -----------------------------------------------------------------
    @property
    def jwks_url(self) -> str:
        assert self._server is not None, "issuer not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"

    def verifier(self, **options: Any) -> JwtVerifier:
        return JwtVerifier(self.jwks_url, issuer=self.issuer, audience=self.audience, **options)

    def start(self) -> None:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.fetches += 1
                body = json.dumps(issuer.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
