"""What scheduling does when other services (and scheduling itself) announce facts.

Handlers run inside the consumer's unit of work, together with the inbox row, so each
event has its effect once however often NATS redelivers it. They only parse the event and
call a use case (or the mail adapter): what an event means for tours is decided there.
"""

from __future__ import annotations

import uuid

from realty.identity.v1 import identity_pb2
from realty.listings.v1 import listings_pb2
from realty.media.v1 import media_pb2
from realty.scheduling.v1 import scheduling_pb2
from servicekit.bus import Event, Subscription
from servicekit.db import UnitOfWork

from scheduling.events import ALL_TOUR_SUBJECTS, listing_status, tour_from_proto, verb_of
from scheduling.notifications import Notifier
from scheduling.service import Scheduling


def _id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class Consumers:
    def __init__(self, scheduling: Scheduling, notifier: Notifier) -> None:
        self.scheduling = scheduling
        self.notifier = notifier

    async def on_user_deleted(self, event: Event, uow: UnitOfWork) -> None:
        user_id = _id(event.unpack(identity_pb2.UserDeleted).user_id)
        if user_id is not None:
            await self.scheduling.forget_user(uow, user_id)

    async def on_listing_written(self, event: Event, uow: UnitOfWork) -> None:
        """A listing created or updated: the copy `availableSlots` reads."""
        if event.subject.endswith(".created"):
            listing = event.unpack(listings_pb2.ListingCreated).listing
        else:
            listing = event.unpack(listings_pb2.ListingUpdated).listing
        listing_id, realtor_id = _id(listing.id), _id(listing.realtor_id)
        if listing_id is not None and realtor_id is not None:
            await self.scheduling.listing_written(
                uow,
                listing_id,
                realtor_id=realtor_id,
                status=listing_status(listing.status),
                time_zone=listing.time_zone,
                at=event.time,
            )

    async def on_listing_status_changed(self, event: Event, uow: UnitOfWork) -> None:
        changed = event.unpack(listings_pb2.ListingStatusChanged)
        listing_id = _id(changed.listing_id)
        if listing_id is not None:
            status = listing_status(changed.to_status)
            await self.scheduling.listing_status_noted(uow, listing_id, status, event.time)
            await self.scheduling.listing_status_changed(uow, listing_id, status)

    async def on_listing_deleted(self, event: Event, uow: UnitOfWork) -> None:
        deleted = event.unpack(listings_pb2.ListingDeleted)
        listing_id, realtor_id = _id(deleted.listing_id), _id(deleted.realtor_id)
        if listing_id is None:
            return
        if realtor_id is None:
            await self.scheduling.cancel_for_listing(uow, listing_id, "the listing was removed")
        else:
            await self.scheduling.listing_deleted(uow, listing_id, realtor_id, event.time)

    async def on_attendee_joined(self, event: Event, uow: UnitOfWork) -> None:
        joined = event.unpack(media_pb2.AttendeeJoined)
        tour_id = _id(joined.tour_id)
        if tour_id is not None and joined.first:
            await self.scheduling.media_started(uow, tour_id)

    async def on_meeting_ended(self, event: Event, uow: UnitOfWork) -> None:
        tour_id = _id(event.unpack(media_pb2.MeetingEnded).tour_id)
        if tour_id is not None:
            await self.scheduling.media_ended(uow, tour_id)

    async def on_tour_changed(self, event: Event, uow: UnitOfWork) -> None:
        """Email both participants about a change of their tour, invitation attached."""
        verb = verb_of(event.subject)
        if verb is None:
            return
        changed = event.unpack(scheduling_pb2.TourChanged)
        await self.notifier.tour_changed(
            verb, tour_from_proto(changed.tour), changed.reason or None
        )

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription("identity.user.deleted", self.on_user_deleted, durable="user-deleted"),
            Subscription(
                "listings.listing.created", self.on_listing_written, durable="listing-created"
            ),
            Subscription(
                "listings.listing.updated", self.on_listing_written, durable="listing-updated"
            ),
            Subscription(
                "listings.listing.status_changed",
                self.on_listing_status_changed,
                durable="listing-status",
            ),
            Subscription(
                "listings.listing.deleted", self.on_listing_deleted, durable="listing-deleted"
            ),
            Subscription(
                "media.attendee.joined", self.on_attendee_joined, durable="attendee-joined"
            ),
            Subscription("media.meeting.ended", self.on_meeting_ended, durable="meeting-ended"),
            # Mail waits out an identity or mail-server outage of up to about an hour before
            # the event is dead-lettered.
            Subscription(
                ALL_TOUR_SUBJECTS,
                self.on_tour_changed,
                durable="notifier",
                max_deliver=20,
                backoff=(1.0, 5.0, 15.0, 60.0, 300.0),
            ),
        ]
