"""The background loops: the partition keeper, and one forwarder per enabled destination
(Mixpanel, GA4), each with its own deliveries, so an outage of one never holds the other back.

An eraser per destination configured for deletions sends a deleted user's deletion
requests (Mixpanel's GDPR API, GA4's User Deletion API) from `erasures`, claimed with SKIP
LOCKED, on the forwarders' back-off.

The keeper makes the coming months of raw events ahead of time and drops the months past
the retention (the rollups stay); it runs at start and then every `check_seconds`, one
replica at a time.

A loop sends batches while there are due events and waits `poll_seconds` when there are
none; deliveries are claimed with `FOR UPDATE SKIP LOCKED`, so any number of replicas
forward each event once (and each destination deduplicates by our event id besides).
"""

from __future__ import annotations

import asyncio

from analytics.service import Analytics, Destination, Eraser


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


class PartitionKeeper:
    def __init__(
        self,
        analytics: Analytics,
        *,
        ahead_months: int,
        retention_months: int,
        check_seconds: float = 3600.0,
    ) -> None:
        self.analytics = analytics
        self.ahead_months = ahead_months
        self.retention_months = retention_months
        self.check_seconds = check_seconds

    async def run_once(self) -> tuple[list[str], list[str]]:
        return await self.analytics.keep_partitions(
            ahead=self.ahead_months, retention=self.retention_months
        )

    async def run(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self.check_seconds)


class Erasing:
    """The loop sending one destination's deletion requests."""

    def __init__(self, analytics: Analytics, eraser: Eraser, *, poll_seconds: float = 5.0) -> None:
        self.analytics = analytics
        self.eraser = eraser
        self.poll_seconds = poll_seconds

    async def run_once(self) -> int:
        return await self.analytics.erase_due(self.eraser)

    async def run(self) -> None:
        while True:
            if await self.run_once() == 0:
                await asyncio.sleep(self.poll_seconds)
