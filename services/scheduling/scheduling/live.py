"""Live tour updates for subscriptions, fed by NATS so every replica sees every change.

Each replica holds one core NATS subscription to `scheduling.tour.>` (no durable consumer:
live updates are for whoever is connected now) and fans each change out in-process to the
queues of its local subscribers, keyed by tour and by participant. A change committed on
any replica reaches the subscribers of all of them, in the order the relay published it.
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
from realty.scheduling.v1 import scheduling_pb2
from servicekit.bus import Bus, Event

from scheduling.domain import Tour
from scheduling.events import ALL_TOUR_SUBJECTS, tour_from_proto

log = logging.getLogger(__name__)

QUEUE_LIMIT = 256


class Overflow(Exception):
    """A subscriber fell too far behind; it must resubscribe."""


@dataclass(eq=False)
class Listener:
    queue: asyncio.Queue[Tour] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    overflowed: bool = False

    def offer(self, tour: Tour) -> None:
        try:
            self.queue.put_nowait(tour)
        except asyncio.QueueFull:
            self.overflowed = True

    async def __aiter__(self) -> AsyncIterator[Tour]:
        while True:
            tour = await self.queue.get()
            yield tour
            if self.overflowed and self.queue.empty():
                raise Overflow("too many updates queued; subscribe again")


LISTENERS = Gauge(
    "scheduling_live_listeners",
    "Subscriptions registered for live tour updates on this replica.",
)

# A relay retries within seconds, so the last few thousand ids are plenty.
_SEEN_MAX = 10_000


class LiveTours:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.ready = asyncio.Event()
        self._by_tour: dict[uuid.UUID, set[Listener]] = defaultdict(set)
        self._by_user: dict[uuid.UUID, set[Listener]] = defaultdict(set)
        self._registered = asyncio.Event()
        self.delivered = 0
        # Ids of the events delivered lately, oldest first (a dict keeps insertion order).
        self._recent: dict[uuid.UUID, None] = {}

    @property
    def listening(self) -> int:
        """How many listeners are registered on this replica now."""
        return sum(map(len, self._by_tour.values())) + sum(map(len, self._by_user.values()))

    async def until_listening(self, count: int) -> None:
        """Return once at least `count` listeners are registered (subscriptions are set up
        concurrently with the request that opened them, so whoever needs them waits here)."""
        while self.listening < count:
            self._registered.clear()
            await self._registered.wait()

    async def run(self) -> None:
        """Worker: hold the NATS subscription until cancelled."""
        await self.bus.connect()
        subscription = await self.bus.nc.subscribe(
            self.bus.subject(ALL_TOUR_SUBJECTS), cb=self._on_message, pending_msgs_limit=65536
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
            changed = event.unpack(scheduling_pb2.TourChanged)
            tour = tour_from_proto(changed.tour)
        except Exception as exc:
            log.warning("ignoring undecodable tour event on %s: %s", msg.subject, exc)
            return
        if self._seen(event.id):
            return  # published again (a relay retry across a reconnect): delivered already
        self.publish(tour)

    def _seen(self, event_id: uuid.UUID) -> bool:
        """Whether this event was handed out already; remembers the last `_SEEN_MAX` ids."""
        if event_id in self._recent:
            return True
        self._recent[event_id] = None
        if len(self._recent) > _SEEN_MAX:
            del self._recent[next(iter(self._recent))]
        return False

    def publish(self, tour: Tour) -> None:
        """Hand a changed tour to every local subscriber interested in it."""
        targets = set(self._by_tour.get(tour.id, ()))
        targets.update(self._by_user.get(tour.buyer_id, ()))
        targets.update(self._by_user.get(tour.realtor_id, ()))
        for listener in targets:
            listener.offer(tour)
        self.delivered += len(targets)

    @contextlib.contextmanager
    def listen(
        self, *, tour_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None
    ) -> Iterator[Listener]:
        """Register a listener for one tour or for all tours of one user, while in the block."""
        listener = Listener()
        index, key = (self._by_tour, tour_id) if tour_id is not None else (self._by_user, user_id)
        assert key is not None, "listen to a tour or a user"
        index[key].add(listener)
        self._registered.set()
        LISTENERS.inc()
        try:
            yield listener
        finally:
            LISTENERS.dec()
            index[key].discard(listener)
            if not index[key]:
                del index[key]
