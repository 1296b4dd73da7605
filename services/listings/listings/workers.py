"""Background jobs of listings: forgetting photo uploads nobody confirmed.

The purge is one `DELETE … RETURNING` (see `store.purge_uploads`), so replicas running it
at once each remove distinct rows and never the same object twice; no claim is needed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from listings.service import ListingService

log = logging.getLogger(__name__)

PURGE_INTERVAL_SECONDS = 3600.0


class UploadPurger:
    """Every `interval` seconds, forget abandoned uploads and delete their objects."""

    def __init__(
        self,
        service: ListingService,
        *,
        interval: float = PURGE_INTERVAL_SECONDS,
        pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.service = service
        self.interval = interval
        self.pause = pause

    async def run_once(self) -> int:
        purged = await self.service.purge_abandoned_uploads()
        if purged:
            log.info("purged %d abandoned photo uploads", purged)
        return purged

    async def run(self) -> None:
        while True:
            await self.run_once()
            await self.pause(self.interval)
