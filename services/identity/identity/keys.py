"""Signing keys for access tokens: Ed25519, kept in identity's database, published as JWKS.

Rotation adds a key that is published at once but signs only from `activates_at`, one
cache period later, so every replica serves it in its JWKS before any token carries its
`kid`. The previous key is superseded at that instant and stays published until every
token it can have signed has expired, then it is retired. The signing key is the latest
one already active. Private keys are stored as PKCS#8 PEM, encrypted when a passphrase is set.

This module makes keys and reads them; it runs no SQL: the store writes keys and
`KeyRing` is given the query that reads the published ones.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

ALGORITHM = "EdDSA"
VERIFY_LEEWAY = timedelta(seconds=60)  # covers verifiers' clock skew allowance


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    public_jwk: dict[str, Any]
    activates_at: datetime
    superseded_at: datetime | None


@dataclass(frozen=True)
class StoredKey:
    """A key as the `signing_keys` table holds it (the private key as PKCS#8 PEM)."""

    kid: str
    algorithm: str
    private_pem: bytes
    public_jwk: dict[str, Any]
    created_at: datetime
    activates_at: datetime
    superseded_at: datetime | None = None


def new_key(now: datetime, passphrase: str | None, *, activates_at: datetime) -> StoredKey:
    """A freshly generated key, ready to store."""
    key = Ed25519PrivateKey.generate()
    kid = f"{now:%Y%m%d}-{uuid.uuid4().hex[:10]}"
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    jwk = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
    return StoredKey(
        kid=kid,
        algorithm=ALGORITHM,
        private_pem=pem,
        public_jwk={**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"},
        created_at=now,
        activates_at=activates_at,
    )


def publication_end(superseded_at: datetime, *, access_ttl: int, cache_seconds: float) -> datetime:
    """When a superseded key can leave the JWKS: no token it signed is valid any more."""
    return superseded_at + timedelta(seconds=access_ttl + cache_seconds) + VERIFY_LEEWAY


class KeyRing:
    """Read side of the keys, cached: the current signing key and the published JWKS.

    The cache is refreshed every `cache_seconds`, so a rotation made by the command (or by
    another replica) is picked up without a restart.
    """

    def __init__(
        self,
        load: Callable[[], Awaitable[Sequence[StoredKey]]],
        *,
        access_ttl: int,
        cache_seconds: float,
        passphrase: str | None = None,
    ) -> None:
        self.load = load  # the keys not retired yet, newest activation first
        self.access_ttl = access_ttl
        self.cache_seconds = cache_seconds
        self._passphrase = passphrase.encode() if passphrase else None
        self._keys: list[SigningKey] = []
        self._loaded_at = -float("inf")
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._loaded_at = -float("inf")

    async def _load(self) -> list[SigningKey]:
        async with self._lock:
            if time.monotonic() - self._loaded_at < self.cache_seconds:
                return self._keys
            keys = []
            for stored in await self.load():
                private = serialization.load_pem_private_key(
                    stored.private_pem, password=self._passphrase
                )
                assert isinstance(private, Ed25519PrivateKey)
                keys.append(
                    SigningKey(
                        stored.kid,
                        private,
                        dict(stored.public_jwk),
                        stored.activates_at,
                        stored.superseded_at,
                    )
                )
            self._keys, self._loaded_at = keys, time.monotonic()
            return keys

    async def current(self, now: datetime) -> SigningKey:
        """The key that signs new tokens: the latest one already active."""
        keys = await self._load()
        for key in keys:  # newest activation first
            if key.activates_at <= now:
                return key
        if keys:  # clocks disagree slightly: better the oldest published key than none
            return keys[-1]
        raise RuntimeError("no signing key: start the service or run rotate-keys")

    async def jwks(self, now: datetime) -> dict[str, Any]:
        """Every key whose tokens may still be valid at `now`."""
        published = [
            key.public_jwk
            for key in await self._load()
            if key.superseded_at is None
            or now
            < publication_end(
                key.superseded_at, access_ttl=self.access_ttl, cache_seconds=self.cache_seconds
            )
        ]
        return {"keys": published}
