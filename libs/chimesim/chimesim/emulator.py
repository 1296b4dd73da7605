"""The composition root: one account's world, the two APIs over it, the clock, the throttle
and the call counter — built from settings, nothing at import time."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from chimesim.clock import Clock
from chimesim.effects import Effect
from chimesim.meetings import Meetings
from chimesim.model import MEETINGS, PIPELINES
from chimesim.pipelines import Pipelines
from chimesim.settings import Settings
from chimesim.state import World
from chimesim.throttle import Throttle

Handler = Callable[[dict[str, Any]], dict[str, Any]]

MEETING_OPERATIONS = (
    "CreateMeeting",
    "CreateMeetingWithAttendees",
    "GetMeeting",
    "DeleteMeeting",
    "CreateAttendee",
    "BatchCreateAttendee",
    "GetAttendee",
    "ListAttendees",
    "DeleteAttendee",
    "UpdateAttendeeCapabilities",
    "StartMeetingTranscription",
    "StopMeetingTranscription",
)
PIPELINE_OPERATIONS = (
    "CreateMediaCapturePipeline",
    "GetMediaCapturePipeline",
    "DeleteMediaCapturePipeline",
    "ListMediaCapturePipelines",
    "CreateMediaConcatenationPipeline",
    "GetMediaPipeline",
    "DeleteMediaPipeline",
)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Emulator:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.world = World(account=settings.account, region=settings.region)
        self.meetings = Meetings(self.world, clock.now)
        self.pipelines = Pipelines(self.world, clock.now, max_chunks=settings.max_chunks)
        self.meetings.end_listeners.append(self.pipelines.meeting_ended)
        self.throttle = Throttle(settings.throttle_rate, settings.throttle_burst)
        self.calls: Counter[str] = Counter()
        self.handlers: dict[tuple[str, str], Handler] = {}
        for service, names, target in (
            (MEETINGS, MEETING_OPERATIONS, self.meetings),
            (PIPELINES, PIPELINE_OPERATIONS, self.pipelines),
        ):
            for name in names:
                self.handlers[(service, name)] = getattr(target, snake(name))

    def implemented(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for service, name in self.handlers:
            found.setdefault(service, set()).add(name)
        return found

    def sweep(self) -> None:
        """Bring the world up to the clock: expire meetings, write finished chunks."""
        now = self.clock.now()
        self.meetings.expire(now)
        self.pipelines.progress(now)

    def drain(self) -> list[Effect]:
        return self.world.drain()
