"""Identity's background jobs: confirming erasures once the account's tokens expired, and
forgetting sign-in state nobody needs any more.

Each is a loop around one use case. Erasures are claimed with `FOR UPDATE SKIP LOCKED`, so
every replica may run it and each erasure is confirmed once; the pruning is a plain DELETE,
harmless when two replicas run it at once.
"""

from __future__ import annotations

import asyncio

from identity.service import IdentityService


class ErasureConfirmations:
    def __init__(
        self, service: IdentityService, *, poll_seconds: float = 30.0, batch: int = 100
    ) -> None:
        self.service = service
        self.poll_seconds = poll_seconds
        self.batch = batch

    async def run(self) -> None:
        while True:
            if await self.service.confirm_erasures(self.batch) < self.batch:
                await asyncio.sleep(self.poll_seconds)


class SignInRetention:
    def __init__(self, service: IdentityService, *, every_seconds: float = 3600.0) -> None:
        self.service = service
        self.every_seconds = every_seconds

    async def run(self) -> None:
        while True:
            await self.service.prune_sign_in_state()
            await asyncio.sleep(self.every_seconds)
