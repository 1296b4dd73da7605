"""Token material: access JWTs, and opaque secrets that are stored only as hashes.

Refresh, verification and reset tokens are 256-bit random strings; the database keeps
their SHA-256 (a fast hash is enough for secrets with that much entropy), so a leaked table
yields no usable token.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from enum import StrEnum

import jwt
from servicekit.auth import Role

from identity.keys import ALGORITHM, SigningKey

MAX_TOKEN_LENGTH = 256


class Purpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"


def new_secret() -> tuple[str, bytes]:
    """A new opaque token and the hash to store."""
    token = secrets.token_urlsafe(32)
    return token, hash_secret(token)


def hash_secret(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def access_token(
    key: SigningKey,
    *,
    user_id: uuid.UUID,
    role: Role,
    session_id: uuid.UUID,
    issuer: str,
    audience: str,
    ttl: int,
    now: datetime,
) -> str:
    """A signed access JWT: `iss aud sub role sid iat exp jti`, `kid` in the header."""
    issued = int(now.timestamp())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": str(user_id),
        "role": role.value,
        "sid": str(session_id),
        "iat": issued,
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def session_id_of(token: str) -> uuid.UUID | None:
    """The `sid` claim of an access token already verified by the caller."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        return uuid.UUID(str(claims["sid"]))
    except (jwt.PyJWTError, KeyError, ValueError):
        return None
