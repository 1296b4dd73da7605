"""The token bucket alone, on a hand-moved clock."""

from __future__ import annotations

from datetime import timedelta

from chimesim.clock import ManualClock
from chimesim.throttle import Throttle


def test_burst_refill_and_cap() -> None:
    clock = ManualClock()
    throttle = Throttle(rate=10, burst=20)
    assert all(throttle.allow("GetMeeting", clock.now()) for _ in range(20))
    assert not throttle.allow("GetMeeting", clock.now())
    assert throttle.allow("ListAttendees", clock.now()), "each operation has its own bucket"
    clock.advance(timedelta(milliseconds=100))
    assert throttle.allow("GetMeeting", clock.now())
    assert not throttle.allow("GetMeeting", clock.now())
    clock.advance(timedelta(hours=1))
    allowed = sum(throttle.allow("GetMeeting", clock.now()) for _ in range(30))
    assert allowed == 20, "an idle bucket refills to the burst, no further"


def test_rate_zero_turns_it_off() -> None:
    clock = ManualClock()
    throttle = Throttle(rate=0, burst=1)
    assert all(throttle.allow("GetMeeting", clock.now()) for _ in range(100))
