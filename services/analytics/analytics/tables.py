"""Analytics' tables: the recorded events, anonymous visitors joined to their users, the
last counted view of each listing by each visitor, and what it keeps of listings and users."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
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

# Every event of the tracking plan, from the streams and the frontends, partitioned by month
# of `occurred_at` (`events_pYYYYMM`, and `events_default` for a month not made yet): old
# months are dropped after the retention, the rollups stay. The id is the idempotency key
# (the source event's id, or one derived from the client's own id), unique in `event_keys`.
events = Table(
    "events",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    # `client` for trackEvent, else the subject the event came in on.
    Column("source", Text, nullable=False),
    Column("user_id", UUID(as_uuid=True)),
    Column("anonymous_id", Text),
    Column("listing_id", UUID(as_uuid=True)),
    Column("realtor_id", UUID(as_uuid=True)),
    Column("tour_id", UUID(as_uuid=True)),
    Column("properties", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    postgresql_partition_by="RANGE (occurred_at)",
)
Index("events_realtor_time", events.c.realtor_id, events.c.occurred_at)
Index("events_listing_time", events.c.listing_id, events.c.occurred_at)
Index("events_user", events.c.user_id)
Index("events_tour", events.c.tour_id)
Index("events_unstitched", events.c.anonymous_id, postgresql_where=text("user_id IS NULL"))
Index("events_time", events.c.occurred_at)

# Every stored event's id, once (a partitioned table's unique keys must hold the month):
# what refuses a replay, and where an id's month is found.
event_keys = Table(
    "event_keys",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("event_keys_time", "occurred_at"),
)

# Each tour's first event of each step (Requested ... Completed, and the outcomes): the
# rollups count a tour once per step, on the local day of that first event; the dashboards'
# timings are kept here once per tour: `took_seconds` on a tour's Tour Requested row is the
# time to its first answer (Scheduled or Declined), on its Tour Completed row the time from
# its start (null while the other end is unknown, or a completion before the start), so a
# dashboard's timings are one index-only range scan of the period's requests and completions.
tour_steps = Table(
    "tour_steps",
    metadata,
    Column("tour_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("day", Date, nullable=False),
    Column("realtor_id", UUID(as_uuid=True), nullable=False),
    Column("listing_id", UUID(as_uuid=True), nullable=False),
    Column("reason", Text, nullable=False, server_default=text("''")),
    Column("took_seconds", Float),
    PrimaryKeyConstraint("tour_id", "name"),
    Index(
        "tour_steps_realtor",
        "realtor_id",
        "name",
        "occurred_at",
        postgresql_include=["took_seconds"],
    ),
    Index(
        "tour_steps_listing",
        "listing_id",
        "name",
        "occurred_at",
        postgresql_include=["took_seconds"],
    ),
    Index("tour_steps_time", "name", "occurred_at", postgresql_include=["took_seconds"]),
)

# What the dashboards read: per realtor (the nil id while a listing's realtor is unknown),
# local day in the realtor's zone, listing, step and reason, how many. Kept up to date in
# each event's transaction; never dropped with the raw months.
rollups = Table(
    "rollups",
    metadata,
    Column("realtor_id", UUID(as_uuid=True), nullable=False),
    Column("day", Date, nullable=False),
    Column("listing_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("reason", Text, nullable=False, server_default=text("''")),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("realtor_id", "day", "listing_id", "name", "reason"),
    Index("rollups_listing", "listing_id", "day"),
)

# The rollups summed over listings: per realtor, local day, step and reason, how many (kept
# with the rollups, in the same statements). A dashboard's funnel, outcomes and daily series
# read a period's days of it: about thirty rows.
realtor_days = Table(
    "realtor_days",
    metadata,
    Column("realtor_id", UUID(as_uuid=True), nullable=False),
    Column("day", Date, nullable=False),
    Column("name", Text, nullable=False),
    Column("reason", Text, nullable=False, server_default=text("''")),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("realtor_id", "day", "name", "reason"),
)

# The platform's figures per UTC day: counted Property Views, each tour's steps once (on the
# UTC day of its first event of the step, with the reason), and `video seconds` (the
# durations of the video meetings that ended). Like the rollups, never dropped with raw months.
platform_days = Table(
    "platform_days",
    metadata,
    Column("day", Date, nullable=False),
    Column("name", Text, nullable=False),
    Column("reason", Text, nullable=False, server_default=text("''")),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("day", "name", "reason"),
)

# Who was active on a UTC day: `realtor` (any event credited to them) or `buyer` (a signed-in
# user who viewed, booked or requested, not on their own listing): a period's active users
# are the distinct ids of its days.
platform_actives = Table(
    "platform_actives",
    metadata,
    Column("day", Date, nullable=False),
    Column("role", Text, nullable=False),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    PrimaryKeyConstraint("day", "role", "user_id"),
    Index("platform_actives_user", "user_id"),
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


# Deletion requests for a deleted user, one per destination and identifier (Mixpanel's
# `distinct_id`; GA4's `USER_ID` or `CLIENT_ID`): pending until the destination took it
# (with its task id, when it gives one), or rejected with its reason.
erasures = Table(
    "erasures",
    metadata,
    Column("destination", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("state", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("task", Text),
    Column("error", Text),
    PrimaryKeyConstraint("destination", "kind", "subject"),
    Index("erasures_due", "destination", "due_at", postgresql_where=text("state = 'pending'")),
)
