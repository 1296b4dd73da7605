"""Identity's one background job: confirming erasures once the account's tokens expired.

A loop around one use case (`IdentityService.confirm_erasures`): it runs a batch, and waits
`poll_seconds` only when the batch was not full. The accounts are claimed with `FOR UPDATE
SKIP LOCKED`, so every replica may run it and each erasure is confirmed once.
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
