"""Media's tables: the tours it follows, each tour's meeting and attendees, its guests."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

# Scheduling's tours as its events told them (`scheduling.tour.*`): a join is authorised
# from this copy, with no call to scheduling.
tours = Table(
    "tours",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("listing_id", UUID(as_uuid=True), nullable=False),
    Column("buyer_id", UUID(as_uuid=True), nullable=False),
    Column("realtor_id", UUID(as_uuid=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    # The tour's change counter: an event older than the copy is ignored.
    Column("sequence", BigInteger, nullable=False),
    Index("tours_buyer", "buyer_id"),
    Index("tours_realtor", "realtor_id"),
)

# One row per tour, ever: the row every first join locks, so one Chime meeting is made.
meetings = Table(
    "meetings",
    metadata,
    Column("tour_id", UUID(as_uuid=True), primary_key=True),
    Column("generation", Integer, nullable=False, server_default=text("0")),
    Column("state", Text, nullable=False, server_default=text("'NONE'")),
    Column("meeting_id", Text),
    Column("chime", JSONB),
    Column("created_at", DateTime(timezone=True)),
    Column("started_at", DateTime(timezone=True)),
    Column("someone_joined", Boolean, nullable=False, server_default=text("false")),
    Column("empty_since", DateTime(timezone=True)),
    Column("attendee_seconds", BigInteger, nullable=False, server_default=text("0")),
    Index("meetings_empty", "empty_since", postgresql_where=text("empty_since IS NOT NULL")),
    Index("meetings_chime_id", "meeting_id", unique=True),
)

attendees = Table(
    "attendees",
    metadata,
    Column("attendee_id", Text, primary_key=True),
    Column(
        "tour_id",
        UUID(as_uuid=True),
        ForeignKey("meetings.tour_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("meeting_id", Text, nullable=False),
    Column("device_key", Text, nullable=False),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("chime", JSONB, nullable=False),
    Column("video", Boolean, nullable=False),
    Column("present_since", DateTime(timezone=True)),
    Column("last_seen", DateTime(timezone=True)),
    Column("deleted", Boolean, nullable=False, server_default=text("false")),
    Index("attendees_meeting", "meeting_id"),
    # One live attendee per device session of a person in a tour's call.
    Index(
        "attendees_device",
        "tour_id",
        "device_key",
        unique=True,
        postgresql_where=text("NOT deleted"),
    ),
)

GUEST_EMAIL = "guests_tour_email"

guests = Table(
    "guests",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tour_id", UUID(as_uuid=True), nullable=False),
    Column("email", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("invited_by", UUID(as_uuid=True), nullable=False),
    Column("invited_at", DateTime(timezone=True), nullable=False),
    Column("user_id", UUID(as_uuid=True)),
    Index(
        GUEST_EMAIL, "tour_id", "email", unique=True, postgresql_where=text("status <> 'REMOVED'")
    ),
)
