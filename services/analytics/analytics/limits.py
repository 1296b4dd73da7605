"""Per-client rate limits for `trackEvent`, held in process.

A sliding pair of fixed windows per client key (the user, else the anonymous id, else the
address): cheap, and a burst at a window's edge is weighed against the previous window, so
no client doubles its allowance by timing. Each replica counts alone: behind N replicas a
client gets at most N times the limit, which bounds abuse without a shared store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from servicekit.vocabulary import RateLimited


@dataclass(slots=True)
class _Counts:
    window: int
    current: int = 0
    previous: int = 0


class RateLimiter:
    def __init__(self, *, per_minute: int, max_clients: int = 100_000) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self.max_clients = max_clients
        self._counts: dict[str, _Counts] = {}

    def take(self, key: str, now: datetime) -> None:
        """Count one event for `key`, or raise RATE_LIMITED with when to try again."""
        seconds = now.timestamp()
        window = int(seconds // 60)
        counts = self._counts.get(key)
        if counts is None:
            if len(self._counts) >= self.max_clients:
                self._forget_idle(window)
            counts = self._counts[key] = _Counts(window)
        if counts.window != window:
            counts.previous = counts.current if counts.window == window - 1 else 0
            counts.current = 0
            counts.window = window
        elapsed = (seconds % 60) / 60
        weighted = counts.previous * (1 - elapsed) + counts.current
        if weighted + 1 > self.per_minute:
            raise RateLimited(
                "too many events from this client; slow down",
                retryAfterSeconds=max(1, math.ceil(60 - seconds % 60)),
            )
        counts.current += 1

    def _forget_idle(self, window: int) -> None:
        for key in [k for k, c in self._counts.items() if c.window < window - 1]:
            del self._counts[key]
        if len(self._counts) >= self.max_clients:
            self._counts.clear()
