"""Who is calling: the bearer token in `Authorization`, verified against identity's JWKS.

No token means an anonymous caller, who may go on (the subgraphs decide what anonymous
callers may see). A token that does not verify stops the request with 401 and
UNAUTHENTICATED: a client holding an expired token must learn it, not be served as
anonymous.

A signature check costs more than everything else the gateway does for a simple query,
and a frontend sends the same token with every request, so tokens that verified are
remembered (bounded LRU) for at most `cache_seconds` and never past their `exp`.
Failures are not remembered.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

import jwt
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


class Authenticator:
    def __init__(
        self,
        verifier: TokenVerifier | None,
        *,
        cache_size: int = 10_000,
        cache_seconds: float = 60.0,
    ) -> None:
        self._verifier = verifier
        self._cache_size = cache_size
        self._cache_seconds = cache_seconds
        self._verified: OrderedDict[str, tuple[Caller, float]] = OrderedDict()

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
        remembered = self._verified.get(token)
        if remembered is not None:
            if time.monotonic() < remembered[1]:
                self._verified.move_to_end(token)
                return remembered[0]
            del self._verified[token]
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
        caller = Caller(
            str(principal.user_id), str(getattr(principal.role, "value", principal.role))
        )
        self._remember(token, caller)
        return caller

    def _remember(self, token: str, caller: Caller) -> None:
        if self._cache_size <= 0 or self._cache_seconds <= 0:
            return
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
            lifetime = min(self._cache_seconds, float(claims["exp"]) - time.time())
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            return
        if lifetime <= 0:
            return
        self._verified[token] = (caller, time.monotonic() + lifetime)
        while len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)


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
