"""Time as the emulator sees it, injectable so meetings can expire in a test in no time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current UTC time."""
        ...

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward (the `/_emulator/clock/advance` control endpoint)."""
        ...


class SystemClock:
    """Wall-clock time plus whatever the control endpoint has added, for `make dev`."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta():
            raise ValueError("time only moves forward")
        with self._lock:
            self._offset += delta
        return self.now()


class ManualClock:
    """Stands still until advanced: tests decide exactly when five minutes have passed."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta():
            raise ValueError("time only moves forward")
        with self._lock:
            self._now += delta
            return self._now
