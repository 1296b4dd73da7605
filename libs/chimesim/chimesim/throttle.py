"""API throttling as Chime applies it: a token bucket per operation (10 requests a second,
bursts of 20 by default). Time comes from the emulator's clock, so a test that advances
the clock by 100 ms gets exactly one more request through."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Throttle:
    rate: float
    burst: int
    _buckets: dict[str, tuple[float, datetime]] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def configure(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets.clear()

    def allow(self, key: str, now: datetime) -> bool:
        if not self.enabled:
            return True
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        elapsed = max((now - last).total_seconds(), 0.0)
        tokens = min(float(self.burst), tokens + elapsed * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True
