"""The access-token signing keys: the first key at start-up, rotation, the JWKS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from identity.audit import AuditAction, AuditEntry
from identity.keys import new_key, publication_end
from identity.service.base import UseCases
from identity.store import signing_keys


class KeyCases(UseCases):
    async def jwks(self) -> dict[str, Any]:
        """The public keys access tokens verify with, as published now."""
        return await self.keys.jwks(self.clock())

    async def ensure_signing_key(self) -> None:
        """Create the first signing key when there is none (at start-up)."""
        now = self.clock()
        async with self.db.uow() as uow:
            await signing_keys.lock(uow)
            if await signing_keys.has_current(uow):
                return
            key = new_key(now, self.settings.signing_key_passphrase, activates_at=now)
            await signing_keys.add(uow, key)
            entry = AuditEntry(AuditAction.KEYS_ROTATED, details={"kid": key.kid, "first": True})
            await self._finish(uow, [entry], now)
        self.keys.invalidate()

    async def rotate_keys(self) -> tuple[str, list[str]]:
        """A new current key; the previous one keeps verifying until its tokens expire.
        Returns the new kid and the kids retired now."""
        now = self.clock()
        activates = now + timedelta(seconds=self.settings.key_cache_seconds)
        async with self.db.uow() as uow:
            await signing_keys.lock(uow)
            await signing_keys.supersede_current(uow, activates)
            retired = [
                kid
                for kid, superseded_at in await signing_keys.superseded(uow)
                if now
                >= publication_end(
                    superseded_at,
                    access_ttl=self.settings.access_token_ttl,
                    cache_seconds=self.settings.key_cache_seconds,
                )
            ]
            await signing_keys.retire(uow, retired, now)
            key = new_key(now, self.settings.signing_key_passphrase, activates_at=activates)
            await signing_keys.add(uow, key)
            entry = AuditEntry(
                AuditAction.KEYS_ROTATED, details={"kid": key.kid, "retired": ",".join(retired)}
            )
            await self._finish(uow, [entry], now)
        self.keys.invalidate()
        return key.kid, retired
