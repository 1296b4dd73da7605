"""Background jobs: reminders before a tour, and NO_SHOW for tours nobody started.

Reminder jobs live in the database. A worker claims due jobs with `FOR UPDATE SKIP LOCKED`
inside one transaction, sends, marks them sent and commits, so any number of workers on
any number of replicas send each reminder once. A job made for a start the tour no longer
has, or for a tour no longer scheduled, is skipped instead of sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from servicekit.db import Database
from sqlalchemy import select, update

from scheduling import store
from scheduling.domain import TourStatus
from scheduling.notifications import Notifier
from scheduling.service import Scheduling
from scheduling.tables import reminder_jobs

log = logging.getLogger(__name__)


class ReminderWorker:
    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        *,
        clock: Callable[[], datetime],
        poll_seconds: float = 15.0,
        batch: int = 20,
    ) -> None:
        self.db = db
        self.notifier = notifier
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.batch = batch

    async def run_once(self) -> tuple[int, int]:
        """Process one batch of due jobs; returns (sent, skipped)."""
        now = self.clock()
        sent = skipped = 0
        async with self.db.uow() as uow:
            jobs = (
                await uow.session.execute(
                    select(reminder_jobs)
                    .where(reminder_jobs.c.state == "pending", reminder_jobs.c.due_at <= now)
                    .order_by(reminder_jobs.c.due_at)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not jobs:
                return 0, 0
            found = await store.get_tours(uow.session, [job.tour_id for job in jobs])
            for job in jobs:
                tour = found.get(job.tour_id)
                # Sent only for the start it was planned for, while the tour is scheduled, and
                # while at least half its lead time remains (a 24 h reminder found 3 h before
                # the start, after an outage, would say the wrong thing; the 1 h one follows).
                current = (
                    tour is not None
                    and tour.status is TourStatus.SCHEDULED
                    and tour.starts_at == job.for_starts_at
                    and tour.starts_at - now >= timedelta(minutes=job.offset_minutes / 2)
                )
                state = "skipped"
                if current:
                    assert tour is not None
                    try:
                        await self.notifier.reminder(tour, job.offset_minutes)
                    except Exception as exc:
                        # Left pending: the next round retries it.
                        log.warning("reminder %s not sent yet: %s", job.id, exc)
                        continue
                    state = "sent"
                    sent += 1
                else:
                    skipped += 1
                await uow.session.execute(
                    update(reminder_jobs)
                    .where(reminder_jobs.c.id == job.id)
                    .values(state=state, processed_at=now)
                )
            await uow.commit()
        return sent, skipped

    async def run(self) -> None:
        while True:
            sent, skipped = await self.run_once()
            if sent + skipped == 0:
                await asyncio.sleep(self.poll_seconds)


class NoShowWorker:
    def __init__(self, scheduling: Scheduling, *, poll_seconds: float = 60.0) -> None:
        self.scheduling = scheduling
        self.poll_seconds = poll_seconds

    async def run(self) -> None:
        while True:
            marked = await self.scheduling.mark_no_shows()
            if marked == 0:
                await asyncio.sleep(self.poll_seconds)
