"""What every use case of scheduling shares: its collaborators, its policy, its clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from servicekit.db import Database

from scheduling.clients import Directory
from scheduling.feeds import CalendarFeeds
from scheduling.queries import TourQueries

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Policy:
    """The tunable parts of scheduling's behaviour (from settings)."""

    reminder_offsets_minutes: tuple[int, ...] = (24 * 60, 60)
    no_show_grace: timedelta = timedelta(minutes=15)
    slot_step: timedelta = timedelta(minutes=30)


class UseCases:
    """The collaborators of the use cases, wired by the composition root."""

    def __init__(
        self,
        db: Database,
        queries: TourQueries,
        directory: Directory,
        feeds: CalendarFeeds,
        *,
        policy: Policy | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.queries = queries
        self.directory = directory
        self.feeds = feeds
        self.policy = policy or Policy()
        self.clock = clock
