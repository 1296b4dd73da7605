"""Analytics' tables: the recorded events, anonymous visitors joined to their users, the
last counted view of each listing by each visitor, and what it keeps of listings and users."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

# Every event of the tracking plan, from the streams and the frontends. The primary key is
# the idempotency key: the source event's id, or one derived from the client's own id.
events = Table(
    "events",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    # `client` for trackEvent, else the subject the event came in on.
    Column("source", Text, nullable=False),
    Column("user_id", UUID(as_uuid=True)),
    Column("anonymous_id", Text),
    Column("listing_id", UUID(as_uuid=True)),
    Column("realtor_id", UUID(as_uuid=True)),
    Column("tour_id", UUID(as_uuid=True)),
    Column("properties", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Index("events_realtor_time", "realtor_id", "occurred_at"),
    Index("events_listing_time", "listing_id", "occurred_at"),
    Index("events_user", "user_id"),
    Index("events_tour", "tour_id"),
    Index("events_unstitched", "anonymous_id", postgresql_where=text("user_id IS NULL")),
    Index("events_time", "occurred_at"),
)

# Identity stitching: an anonymous visitor belongs to the first user it was seen signed in
# as (Mixpanel's identity merge does the same); later events of the id join that user.
identity_links = Table(
    "identity_links",
    metadata,
    Column("anonymous_id", Text, primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("linked_at", DateTime(timezone=True), nullable=False),
)

# The last Property View counted per visitor and listing (the 30-minute rule's memory).
view_marks = Table(
    "view_marks",
    metadata,
    Column("visitor", Text, nullable=False),
    Column("listing_id", UUID(as_uuid=True), nullable=False),
    Column("counted_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("visitor", "listing_id"),
)

# Each listing's realtor and zone, from listings' events: a Property View names only the
# listing, and is credited to its realtor (events seen before the listing are credited once
# it arrives).
listings = Table(
    "listings",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("realtor_id", UUID(as_uuid=True), nullable=False),
    Column("time_zone", Text, nullable=False),
)

# Each user's IANA zone, from identity's events: a realtor's days end at their midnight.
people = Table(
    "people",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("time_zone", Text, nullable=False),
)

# One row per event and enabled destination (`mixpanel`, `ga4`): pending until sent, or
# rejected with the destination's reason; a destination's pending rows are its cursor.
deliveries = Table(
    "deliveries",
    metadata,
    Column("destination", Text, nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("state", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("error", Text),
    PrimaryKeyConstraint("destination", "event_id"),
    Index("deliveries_due", "destination", "due_at", postgresql_where=text("state = 'pending'")),
)
