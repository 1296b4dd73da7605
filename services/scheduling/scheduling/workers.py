"""Background jobs: reminders before a tour, and NO_SHOW for tours nobody started.

Each worker is a loop around one use case: it runs a batch, and waits `poll_seconds` only
when there was nothing to do. The jobs are claimed with `FOR UPDATE SKIP LOCKED` by the
store, so any number of workers on any number of replicas do each job once.
"""

from __future__ import annotations

import asyncio

from scheduling.notifications import Notifier
from scheduling.service import Scheduling


class ReminderWorker:
    """Sends due reminders by mail; a reminder made obsolete since it was planned is skipped."""

    def __init__(
        self,
        scheduling: Scheduling,
        notifier: Notifier,
        *,
        poll_seconds: float = 15.0,
        batch: int = 20,
    ) -> None:
        self.scheduling = scheduling
        self.notifier = notifier
        self.poll_seconds = poll_seconds
        self.batch = batch

    async def run_once(self) -> tuple[int, int]:
        """Process one batch of due jobs; returns (sent, skipped)."""
        return await self.scheduling.send_due_reminders(self.notifier.reminder, self.batch)

    async def run(self) -> None:
        while True:
            sent, skipped = await self.run_once()
            if sent + skipped == 0:
                await asyncio.sleep(self.poll_seconds)


class NoShowWorker:
    """Marks scheduled tours whose window passed without a start as NO_SHOW."""

    def __init__(self, scheduling: Scheduling, *, poll_seconds: float = 60.0) -> None:
        self.scheduling = scheduling
        self.poll_seconds = poll_seconds

    async def run(self) -> None:
        while True:
            marked = await self.scheduling.mark_no_shows()
            if marked == 0:
                await asyncio.sleep(self.poll_seconds)
