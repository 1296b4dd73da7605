"""Who is calling: the bearer token in `Authorization`, verified against identity's JWKS.

No token means an anonymous caller, who may go on (the subgraphs decide what anonymous
callers may see). A token that does not verify stops the request with 401 and
UNAUTHENTICATED: a client holding an expired token must learn it, not be served as
anonymous. (`servicekit.auth.JwtVerifier` remembers tokens that verified, so the frontend's
repeated token costs one signature check, not one per request.)
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from servicekit.errors import ServiceError, Unauthenticated, Unavailable

from gateway.edge.errors import EdgeError

log = logging.getLogger(__name__)

UNAUTHENTICATED = "UNAUTHENTICATED"


class VerifiedPrincipal(Protocol):
    """`servicekit.auth.Principal`: a user id (UUID) and a role (a str enum)."""

    @property
    def user_id(self) -> object: ...

    @property
    def role(self) -> object: ...


class TokenVerifier(Protocol):
    """`servicekit.auth.JwtVerifier` satisfies this; tests pass their own."""

    async def verify(self, token: str) -> VerifiedPrincipal: ...


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str
    role: str
    expires_at: float | None = None  # the token's `exp` (epoch seconds): a socket ends there
    # Every claim of the verified token: `@requiresScopes` and `@policy` are decided on them.
    claims: Mapping[str, Any] = field(default_factory=dict)


def _claims(token: str) -> dict[str, Any]:
    """The claims of a token that already verified (read without a second signature check)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _expiry(claims: Mapping[str, Any]) -> float | None:
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


class Authenticator:
    def __init__(self, verifier: TokenVerifier | None) -> None:
        self._verifier = verifier

    async def authenticate(self, authorization: str | None) -> Caller | None:
        """The caller behind an `Authorization` value; None when there is none."""
        if authorization is None or not authorization.strip():
            return None
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthenticated("The Authorization header must be 'Bearer <token>'.")
        if self._verifier is None:
            raise _unauthenticated("This gateway does not accept tokens.")
        try:
            principal = await self._verifier.verify(token)
        except Unauthenticated as error:
            raise _unauthenticated(error.message or "Invalid token.") from None
        except Unavailable:
            raise _unavailable() from None
        except ServiceError as error:
            raise _unauthenticated(error.message or "Invalid token.") from None
        except Exception:
            log.exception("token verification failed unexpectedly")
            raise _unavailable() from None
        claims = _claims(token)
        return Caller(
            str(principal.user_id),
            str(getattr(principal.role, "value", principal.role)),
            _expiry(claims),
            claims,
        )


def _unauthenticated(message: str) -> EdgeError:
    return EdgeError(
        message, code=UNAUTHENTICATED, status=401, headers={"www-authenticate": "Bearer"}
    )


def _unavailable() -> EdgeError:
    return EdgeError(
        "Authentication is unavailable right now; try again shortly.",
        code="UNAVAILABLE",
        status=503,
    )
