"""Listings' domain events <-> the protobuf messages on the bus, out and in.

`outgoing` is the one mapper the unit of work calls at commit for every new event of every
listing it tracked (`Database(..., events=outgoing)`); `listing_message` is the listing as
other services receive it (events and gRPC); `deleted_user` reads the one event listings
follows.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from realty.identity.v1 import identity_pb2
from realty.listings.v1 import listings_pb2
from servicekit.bus import Event
from servicekit.db import Outgoing
from servicekit.errors import BadUserInput

from listings import domain

SUBJECT_CREATED = "listings.listing.created"
SUBJECT_UPDATED = "listings.listing.updated"
SUBJECT_STATUS_CHANGED = "listings.listing.status_changed"
SUBJECT_DELETED = "listings.listing.deleted"
SUBJECT_VIEWED = "listings.listing.viewed"

STATUS_TO_PROTO: dict[domain.ListingStatus, listings_pb2.ListingStatus.ValueType] = {
    domain.ListingStatus.DRAFT: listings_pb2.LISTING_STATUS_DRAFT,
    domain.ListingStatus.COMING_SOON: listings_pb2.LISTING_STATUS_COMING_SOON,
    domain.ListingStatus.ACTIVE: listings_pb2.LISTING_STATUS_ACTIVE,
    domain.ListingStatus.PENDING: listings_pb2.LISTING_STATUS_PENDING,
    domain.ListingStatus.CLOSED: listings_pb2.LISTING_STATUS_CLOSED,
    domain.ListingStatus.WITHDRAWN: listings_pb2.LISTING_STATUS_WITHDRAWN,
}


def listing_message(listing: domain.Listing) -> listings_pb2.Listing:
    address = listing.details.address
    updated = Timestamp()
    updated.FromDatetime(listing.updated_at)
    return listings_pb2.Listing(
        id=str(listing.id),
        slug=listing.slug,
        title=listing.details.title,
        status=STATUS_TO_PROTO[listing.status],
        realtor_id=str(listing.realtor_id),
        address=listings_pb2.Address(
            street=address.street,
            unit=address.unit or "",
            city=address.city,
            state=address.state,
            postal_code=address.postal_code,
            country=address.country,
        ),
        time_zone=listing.time_zone,
        updated_at=updated,
    )


def outgoing(listing: domain.Listing, event: domain.DomainEvent) -> Outgoing:
    """The subject and payload announcing `event` of `listing`."""
    payload: Message
    match event:
        case domain.ListingCreated():
            subject, payload = (
                SUBJECT_CREATED,
                listings_pb2.ListingCreated(listing=listing_message(listing)),
            )
        case domain.ListingUpdated():
            subject, payload = (
                SUBJECT_UPDATED,
                listings_pb2.ListingUpdated(listing=listing_message(listing)),
            )
        case domain.ListingStatusChanged():
            subject, payload = (
                SUBJECT_STATUS_CHANGED,
                listings_pb2.ListingStatusChanged(
                    listing_id=str(event.listing_id),
                    from_status=STATUS_TO_PROTO[event.from_status],
                    to_status=STATUS_TO_PROTO[event.to_status],
                    realtor_id=str(event.realtor_id),
                ),
            )
        case domain.ListingDeleted():
            subject, payload = (
                SUBJECT_DELETED,
                listings_pb2.ListingDeleted(
                    listing_id=str(event.listing_id), realtor_id=str(event.realtor_id)
                ),
            )
    return Outgoing(subject, payload, subject_id=listing.id)


def listing_viewed(
    listing: domain.Listing, visitor_id: str, at: datetime, referrer_host: str
) -> Outgoing:
    """A Property View of `listing`'s public page (not a change of the listing: the pages
    announce it, counted at most once per visitor and listing per 30 minutes)."""
    details = listing.details
    viewed_at = Timestamp()
    viewed_at.FromDatetime(at)
    payload = listings_pb2.ListingViewed(
        listing_id=str(listing.id),
        realtor_id=str(listing.realtor_id),
        visitor_id=visitor_id,
        viewed_at=viewed_at,
        property_type=details.property_type.value,
        price_cents=details.price.amount,
        currency=details.price.currency,
        city=details.address.city,
        state=details.address.state,
        country=details.address.country,
        referrer_host=referrer_host,
    )
    return Outgoing(SUBJECT_VIEWED, payload, subject_id=listing.id, time=at)


# -- in ------------------------------------------------------------------------------------------
USER_DELETED = "identity.user.deleted"


def deleted_user(event: Event) -> uuid.UUID:
    """The account `identity.user.deleted` says is gone."""
    message = event.unpack(identity_pb2.UserDeleted)
    try:
        return uuid.UUID(message.user_id)
    except ValueError:
        raise BadUserInput(f"identity.user.deleted names no user: {message.user_id!r}") from None
