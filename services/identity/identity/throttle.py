"""Brute-force rules for sign-in: growing delays, then (for some keys) a temporary lock.

Counters are kept per key and the rules here are pure: `ThrottleState` says how long a key
must still wait and what a new failure does to it. Three keys count each failure: the
(account, client) pair, which delays and then locks only that client for that account; the
account alone, which only ever delays (`max_failures=None`), so a stranger cannot lock the
owner out; and the client address across accounts. The account is the submitted email
whether or not an account has it, so the answers never reveal which emails exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ThrottleLimits:
    free_failures: int  # failures allowed before delays start
    max_failures: int | None  # failures that lock the key; None: never locks, only delays
    delay_base: float  # seconds; doubles with each further failure
    delay_max: float
    lock_seconds: int
    window_seconds: int  # a quiet period this long forgets earlier failures


@dataclass
class ThrottleState:
    key: str
    failures: int = 0
    last_failure_at: datetime | None = None
    locked_until: datetime | None = None

    def _stale(self, now: datetime, limits: ThrottleLimits) -> bool:
        if self.locked_until is not None:
            return now >= self.locked_until
        return self.last_failure_at is None or (
            now - self.last_failure_at >= timedelta(seconds=limits.window_seconds)
        )

    def delay(self, limits: ThrottleLimits) -> float:
        """Seconds required between the last failure and the next attempt."""
        over = self.failures - limits.free_failures
        if over <= 0:
            return 0.0
        return float(min(limits.delay_base * 2 ** (over - 1), limits.delay_max))

    def wait_seconds(self, now: datetime, limits: ThrottleLimits) -> float:
        """How long until an attempt is allowed (0 when it is now)."""
        if self._stale(now, limits):
            return 0.0
        if self.locked_until is not None:
            return (self.locked_until - now).total_seconds()
        assert self.last_failure_at is not None
        ready = self.last_failure_at + timedelta(seconds=self.delay(limits))
        return max(0.0, (ready - now).total_seconds())

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def record_failure(self, now: datetime, limits: ThrottleLimits) -> bool:
        """Count a failure; True when this one locks the key."""
        if self._stale(now, limits):
            self.failures = 0
            self.locked_until = None
        self.failures += 1
        self.last_failure_at = now
        if limits.max_failures is not None and self.failures >= limits.max_failures:
            self.locked_until = now + timedelta(seconds=limits.lock_seconds)
            return True
        return False
