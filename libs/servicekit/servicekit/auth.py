"""Who is calling: verification of identity's access tokens against its JWKS.

Keys are cached; a token signed with an unknown `kid` triggers one refresh of the key set
(at most every `min_refresh_interval` seconds), which is how a rotated key is picked up
without a restart. Only asymmetric algorithms are accepted, so `alg: none` and HMAC tricks
with a public key fail before any signature check.

A signature check costs more than the rest of a simple request, and a client sends the same
token with every request, so the claims of tokens that verified are remembered (bounded
LRU, by token string) until their `exp` (or for at most `remember_seconds`, when given),
by the wall clock passed in (`clock`, so tests move it instead of waiting). A remembered
token is still refused the moment its session or user is revoked (the revocation list is
asked on every request) and once its signing key is gone from a refreshed key set.
Failures are never remembered.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from servicekit.revocation import RevocationList
from servicekit.vocabulary import Principal, Role, Unauthenticated, require_principal

log = logging.getLogger(__name__)

__all__ = [
    "JwtVerifier",
    "Principal",
    "Role",
    "bearer_token",
    "current_principal",
    "require_principal",
]

ALLOWED_ALGORITHMS = ("EdDSA", "RS256", "ES256")


@dataclass(frozen=True, slots=True)
class _Verified:
    """What a verified token says, remembered until `until` (never past its `exp`)."""

    principal: Principal
    until: float
    issued_at: float
    session_id: str | None
    kid: str


current_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "current_principal", default=None
)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, None when absent."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("malformed Authorization header")
    return token.strip()


# Share of the JWKS cache's lifetime after which `keep_fresh` fetches the keys again.
_REFRESH_AT = 0.8


class JwtVerifier:
    """Verifies access tokens: signature (JWKS), `iss`, `aud`, `exp`, `sub`, `role`."""

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        http: httpx.AsyncClient | None = None,
        cache_ttl: float = 300.0,
        min_refresh_interval: float = 1.0,
        leeway: float = 5.0,
        remember_seconds: float | None = None,
        remember_size: int = 10_000,
        max_lifetime_seconds: float = 3600.0,
        revocations: RevocationList | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self._http = http or httpx.AsyncClient(timeout=3.0)
        self._cache_ttl = cache_ttl
        self._min_refresh = min_refresh_interval
        self._leeway = leeway
        self._remember_seconds = remember_seconds
        self._remember_size = remember_size
        self._max_lifetime = max_lifetime_seconds
        self.revocations = revocations
        self._clock = clock
        self._verified: OrderedDict[str, _Verified] = OrderedDict()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            if (force and age < self._min_refresh) or (not force and age < self._cache_ttl):
                return
            if not await self._fetch() and not self._keys:
                raise Unauthenticated("cannot verify tokens right now")

    async def _fetch(self) -> bool:
        """Replace the keys with identity's JWKS (call with the lock held); False when it
        could not be read, the keys held so far kept."""
        try:
            response = await self._http.get(self.jwks_url)
            response.raise_for_status()
            keys: dict[str, jwt.PyJWK] = {}
            for entry in response.json().get("keys", []):
                if "kid" in entry:
                    keys[entry["kid"]] = jwt.PyJWK(entry)
        except (httpx.HTTPError, ValueError, jwt.PyJWKError) as exc:
            # Quiet while none were ever fetched (identity starting alongside); loud when
            # keys are going stale.
            level = logging.WARNING if self._keys else logging.DEBUG
            log.log(level, "signing keys not fetched from %s: %s", self.jwks_url, exc)
            return False
        self._keys = keys
        self._fetched_at = time.monotonic()
        return True

    async def keep_fresh(self) -> None:
        """Fetch the keys when the process starts and again before they age out (a worker).

        Without it the first request after a deploy, and one request every `cache_ttl`,
        waits on a round trip to identity while every request behind it queues on the
        lock; the first fetch also pays the HTTP client's one-time imports. A fetch that
        fails is tried again after `min_refresh_interval`; requests still fetch on demand.
        """
        while True:
            async with self._lock:
                if time.monotonic() - self._fetched_at >= self._cache_ttl * _REFRESH_AT:
                    await self._fetch()
            due = self._fetched_at + self._cache_ttl * _REFRESH_AT - time.monotonic()
            await asyncio.sleep(max(self._min_refresh, due))

    async def _key_for(self, kid: str) -> jwt.PyJWK:
        await self._refresh(force=False)
        if kid not in self._keys:
            await self._refresh(force=True)
        try:
            return self._keys[kid]
        except KeyError:
            raise Unauthenticated("invalid token: unknown signing key") from None

    async def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None:
            if self._clock() < remembered.until and remembered.kid in self._keys:
                self._verified.move_to_end(token)
                self._check_not_revoked(remembered)
                return remembered.principal
            del self._verified[token]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("invalid token") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALLOWED_ALGORITHMS or not isinstance(kid, str):
            raise Unauthenticated("invalid token")
        key = await self._key_for(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            # TypeError/ValueError: a header `alg` that does not fit the key's type.
            raise Unauthenticated("invalid token") from None
        verified = self._verified_from(claims, kid)
        self._check_not_revoked(verified)
        self._remember(token, verified)
        return verified.principal

    def _verified_from(self, claims: dict[str, Any], kid: str) -> _Verified:
        exp, iat = claims["exp"], claims["iat"]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (exp, iat))
        if not numeric or exp - iat > self._max_lifetime + self._leeway:
            raise Unauthenticated("invalid token: lifetime")
        sid = claims.get("sid")
        try:
            principal = Principal(
                user_id=uuid.UUID(str(claims["sub"])), role=Role(str(claims.get("role")))
            )
        except (ValueError, KeyError):
            raise Unauthenticated("invalid token") from None
        until = float(exp)
        if self._remember_seconds is not None:
            until = min(self._clock() + self._remember_seconds, until)
        return _Verified(principal, until, float(iat), sid if isinstance(sid, str) else None, kid)

    def _check_not_revoked(self, verified: _Verified) -> None:
        if self.revocations is not None and self.revocations.refuses(
            verified.principal.user_id, verified.session_id, verified.issued_at
        ):
            raise Unauthenticated("session ended")

    def _remember(self, token: str, verified: _Verified) -> None:
        if self._remember_size <= 0 or (
            self._remember_seconds is not None and self._remember_seconds <= 0
        ):
            return
        self._verified[token] = verified
        while len(self._verified) > self._remember_size:
            self._verified.popitem(last=False)

    async def principal_from_header(self, authorization: str | None) -> Principal | None:
        token = bearer_token(authorization)
        return None if token is None else await self.verify(token)

    async def aclose(self) -> None:
        await self._http.aclose()
