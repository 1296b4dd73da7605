"""Domain events and read models as the protobuf messages other services receive."""

from __future__ import annotations

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from realty.listings.v1 import listings_pb2

from listings import domain

SUBJECT_CREATED = "listings.listing.created"
SUBJECT_UPDATED = "listings.listing.updated"
SUBJECT_STATUS_CHANGED = "listings.listing.status_changed"
SUBJECT_DELETED = "listings.listing.deleted"

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


def outgoing(listing: domain.Listing, event: domain.DomainEvent) -> tuple[str, Message]:
    """The subject and payload announcing `event` of `listing`."""
    match event:
        case domain.ListingCreated():
            return SUBJECT_CREATED, listings_pb2.ListingCreated(listing=listing_message(listing))
        case domain.ListingUpdated():
            return SUBJECT_UPDATED, listings_pb2.ListingUpdated(listing=listing_message(listing))
        case domain.ListingStatusChanged():
            return SUBJECT_STATUS_CHANGED, listings_pb2.ListingStatusChanged(
                listing_id=str(event.listing_id),
                from_status=STATUS_TO_PROTO[event.from_status],
                to_status=STATUS_TO_PROTO[event.to_status],
                realtor_id=str(event.realtor_id),
            )
        case domain.ListingDeleted():
            return SUBJECT_DELETED, listings_pb2.ListingDeleted(
                listing_id=str(event.listing_id), realtor_id=str(event.realtor_id)
            )
