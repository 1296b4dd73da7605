"""The forwarders: one loop per enabled destination (Mixpanel, GA4), each with its own
deliveries, so an outage of one never holds the other back.

A loop sends batches while there are due events and waits `poll_seconds` when there are
none; deliveries are claimed with `FOR UPDATE SKIP LOCKED`, so any number of replicas
forward each event once (and each destination deduplicates by our event id besides).
"""

from __future__ import annotations

import asyncio

from analytics.service import Analytics, Destination


class Forwarder:
    def __init__(
        self, analytics: Analytics, destination: Destination, *, poll_seconds: float = 5.0
    ) -> None:
        self.analytics = analytics
        self.destination = destination
        self.poll_seconds = poll_seconds

    async def run_once(self) -> int:
        return await self.analytics.forward_due(self.destination, self.destination.batch)

    async def run(self) -> None:
        while True:
            if await self.run_once() == 0:
                await asyncio.sleep(self.poll_seconds)
