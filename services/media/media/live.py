"""Live updates of tours' calls for subscriptions, fed by media's own events on NATS.

Each replica holds one core NATS subscription to `media.>` (no durable consumer: live
updates are for whoever is connected now) and wakes the local subscribers of the tour an
event is about (the envelope's subject id). A subscriber then reads the call as it is now,
so a burst of events costs one read and nobody misses that recording started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from nats.aio.msg import Msg
from prometheus_client import Gauge
from servicekit.bus import Bus, Event

from media.events import ALL_SUBJECTS

log = logging.getLogger(__name__)

LISTENERS = Gauge(
    "realty_media_live_listeners", "Subscriptions following a tour's call on this replica."
)


@dataclass(eq=False)
class Listener:
    """Set when something happened to the tour since the listener last looked."""

    changed: asyncio.Event = field(default_factory=asyncio.Event)
    subjects: list[str] = field(default_factory=list)

    def offer(self, subject: str) -> None:
        self.subjects.append(subject)
        self.changed.set()

    async def __aiter__(self) -> AsyncIterator[list[str]]:
        while True:
            await self.changed.wait()
            self.changed.clear()
            subjects, self.subjects = self.subjects, []
            yield subjects


class LiveCalls:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.ready = asyncio.Event()
        self._by_tour: dict[uuid.UUID, set[Listener]] = defaultdict(set)

    @property
    def listening(self) -> int:
        return sum(map(len, self._by_tour.values()))

    async def run(self) -> None:
        """Worker: hold the NATS subscription until cancelled."""
        await self.bus.connect()
        subscription = await self.bus.nc.subscribe(
            self.bus.subject(ALL_SUBJECTS), cb=self._on_message, pending_msgs_limit=65536
        )
        self.ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.ready.clear()
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = Event.from_envelope(msg.data)
            tour_id = uuid.UUID(event.subject_id)
        except Exception as exc:
            log.warning("ignoring undecodable media event on %s: %s", msg.subject, exc)
            return
        self.publish(tour_id, event.subject)

    def publish(self, tour_id: uuid.UUID, subject: str) -> None:
        for listener in self._by_tour.get(tour_id, ()):
            listener.offer(subject)

    @contextlib.contextmanager
    def listen(self, tour_id: uuid.UUID) -> Iterator[Listener]:
        listener = Listener()
        self._by_tour[tour_id].add(listener)
        LISTENERS.inc()
        try:
            yield listener
        finally:
            LISTENERS.dec()
            self._by_tour[tour_id].discard(listener)
            if not self._by_tour[tour_id]:
                del self._by_tour[tour_id]
