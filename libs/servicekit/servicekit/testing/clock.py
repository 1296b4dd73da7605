"""A clock tests move by hand, for the `clock` every composition root takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """Reads `now`; `advance` moves it. With `tick`, each reading is `tick` after the one
    before, so the order of calls is the order of their timestamps."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, now: datetime | None = None, *, tick: timedelta = timedelta(0)) -> None:
        self.now = now or datetime.now(UTC)
        self.tick = tick

    def __call__(self) -> datetime:
        self.now += self.tick
        return self.now

    def advance(self, delta: timedelta | float) -> None:
        """Move forward by `delta` (a timedelta, or seconds)."""
        self.now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
