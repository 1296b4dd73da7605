"""What media does when scheduling announces a tour change, and when Chime reports on a call.

Tour events run inside the NATS consumer's unit of work with their inbox row, so each has
its effect once; Chime's events (from SQS) are recorded in the same inbox by their
EventBridge id by the use case itself.
"""

from __future__ import annotations

from prometheus_client import Counter
from realty.scheduling.v1 import scheduling_pb2
from servicekit.bus import Event, Subscription
from servicekit.db import UnitOfWork

from media.eventbridge import ChimeSignal
from media.events import tour_from_event
from media.service import Media

ATTENDEE_MINUTES = Counter(
    "realty_media_attendee_minutes_total",
    "Minutes people spent in tours' video calls (Chime bills attendee-minutes).",
)
CHIME_EVENTS = Counter(
    "realty_media_chime_events_total", "Chime meeting events handled, by type.", ["type"]
)


class Consumers:
    def __init__(self, media: Media) -> None:
        self.media = media

    async def on_tour_changed(self, event: Event, uow: UnitOfWork) -> None:
        tour = tour_from_event(event.unpack(scheduling_pb2.TourChanged))
        if tour is not None:
            await self.media.follow_tour(uow, tour)

    async def on_chime(self, signal: ChimeSignal) -> None:
        seconds = await self.media.on_chime(signal)
        CHIME_EVENTS.labels(signal.kind.value).inc()
        if seconds:
            ATTENDEE_MINUTES.inc(seconds / 60)

    def subscriptions(self) -> list[Subscription]:
        return [Subscription("scheduling.tour.>", self.on_tour_changed, durable="tours")]
