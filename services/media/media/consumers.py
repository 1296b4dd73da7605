"""What media does when scheduling announces a tour change, when identity deletes an account,
and when Chime reports on a call or a recording's pipelines.

Tour events run inside the NATS consumer's unit of work with their inbox row, so each has
its effect once; Chime's events (from SQS) are recorded in the same inbox by their
EventBridge id by the use case itself.
"""

from __future__ import annotations

import uuid

from prometheus_client import Counter
from realty.identity.v1 import identity_pb2
from realty.scheduling.v1 import scheduling_pb2
from servicekit.bus import Event, Subscription
from servicekit.db import UnitOfWork

from media.eventbridge import ChimeSignal, PipelineSignal
from media.events import tour_from_event
from media.service import Media, Recordings

ATTENDEE_MINUTES = Counter(
    "realty_media_attendee_minutes_total",
    "Minutes people spent in tours' video calls (Chime bills attendee-minutes).",
)
CHIME_EVENTS = Counter(
    "realty_media_chime_events_total", "Chime meeting events handled, by type.", ["type"]
)


class Consumers:
    def __init__(self, media: Media, recordings: Recordings) -> None:
        self.media = media
        self.recordings = recordings

    async def on_tour_changed(self, event: Event, uow: UnitOfWork) -> None:
        tour = tour_from_event(event.unpack(scheduling_pb2.TourChanged))
        if tour is not None:
            await self.media.follow_tour(uow, tour)

    async def on_user_deleted(self, event: Event, uow: UnitOfWork) -> None:
        """Erase what media keeps of a deleted account (invitations, recordings of its tours)."""
        try:
            user_id = uuid.UUID(event.unpack(identity_pb2.UserDeleted).user_id)
        except ValueError:
            return
        await self.recordings.erase_user(uow, user_id)

    async def on_chime(self, signal: ChimeSignal | PipelineSignal) -> None:
        if isinstance(signal, PipelineSignal):
            await self.recordings.on_pipeline(signal)
            CHIME_EVENTS.labels(signal.kind.value).inc()
            return
        seconds = await self.media.on_chime(signal)
        CHIME_EVENTS.labels(signal.kind.value).inc()
        if seconds:
            ATTENDEE_MINUTES.inc(seconds / 60)

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription("scheduling.tour.>", self.on_tour_changed, durable="tours"),
            Subscription("identity.user.deleted", self.on_user_deleted, durable="user-deleted"),
        ]
