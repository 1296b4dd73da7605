"""Scheduling's tables (SQLAlchemy Core on this service's own metadata).

The two exclusion constraints are the guarantee against double booking: PostgreSQL refuses
a live tour whose range overlaps another live tour of the same realtor (tour plus buffer)
or of the same buyer, whatever the concurrency and however many replicas write.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, ExcludeConstraint

metadata = MetaData()

LIVE_SQL = "status IN ('REQUESTED', 'SCHEDULED', 'IN_PROGRESS')"
REALTOR_OVERLAP = "tours_realtor_no_overlap"
BUYER_OVERLAP = "tours_buyer_no_overlap"
IDEMPOTENCY = "tours_buyer_idempotency_key"

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
    # ends_at + the realtor's buffer at booking time: the end of the realtor's blocked range.
    Column("blocked_until", DateTime(timezone=True), nullable=False),
    Column("buffer_minutes", Integer, nullable=False),
    Column("time_zone", Text, nullable=False),
    Column("note", Text),
    Column("status_reason", Text),
    Column("sequence", Integer, nullable=False, server_default="0"),
    Column("listing_title", Text, nullable=False, server_default=""),
    Column("location", Text, nullable=False, server_default=""),
    Column("idempotency_key", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("ends_at > starts_at", name="tours_positive_length"),
    CheckConstraint("blocked_until >= ends_at", name="tours_buffer_after_end"),
    CheckConstraint(
        "status IN ('REQUESTED', 'SCHEDULED', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED',"
        " 'DECLINED', 'NO_SHOW')",
        name="tours_known_status",
    ),
    ExcludeConstraint(
        (Column("realtor_id"), "="),
        (text("tstzrange(starts_at, blocked_until, '[)')"), "&&"),
        name=REALTOR_OVERLAP,
        using="gist",
        where=text(LIVE_SQL),
    ),
    ExcludeConstraint(
        (Column("buyer_id"), "="),
        (text("tstzrange(starts_at, ends_at, '[)')"), "&&"),
        name=BUYER_OVERLAP,
        using="gist",
        where=text(LIVE_SQL),
    ),
    Index(
        IDEMPOTENCY,
        "buyer_id",
        "idempotency_key",
        unique=True,
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
    Index("tours_realtor_starts", "realtor_id", "starts_at"),
    Index("tours_buyer_starts", "buyer_id", "starts_at"),
    Index("tours_listing_starts", "listing_id", "starts_at"),
    Index("tours_scheduled_ends", "ends_at", postgresql_where=text("status = 'SCHEDULED'")),
)

tour_transitions = Table(
    "tour_transitions",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("tour_id", UUID(as_uuid=True), ForeignKey("tours.id"), nullable=False),
    Column("from_status", Text),
    Column("to_status", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("by_user", UUID(as_uuid=True)),
    Column("reason", Text),
    Index("tour_transitions_tour", "tour_id", "id"),
)

availability = Table(
    "availability",
    metadata,
    Column("realtor_id", UUID(as_uuid=True), primary_key=True),
    Column("time_zone", Text, nullable=False),
    # [{"weekday": "MONDAY", "start": "09:00", "end": "17:00"}, ...]
    Column("weekly_hours", JSONB, nullable=False),
    Column("buffer_minutes", Integer, nullable=False),
    Column("minimum_notice_minutes", Integer, nullable=False),
    Column("max_days_ahead", Integer, nullable=False),
    Column("blocked_dates", ARRAY(Date), nullable=False, server_default="{}"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

reminder_jobs = Table(
    "reminder_jobs",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("tour_id", UUID(as_uuid=True), ForeignKey("tours.id"), nullable=False),
    Column("offset_minutes", Integer, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    # The start the reminder was planned for: a moved tour makes the job obsolete.
    Column("for_starts_at", DateTime(timezone=True), nullable=False),
    Column("state", Text, nullable=False, server_default="pending"),
    Column("processed_at", DateTime(timezone=True)),
    CheckConstraint("state IN ('pending', 'sent', 'skipped')", name="reminder_jobs_state"),
    Index(
        "reminder_jobs_once",
        "tour_id",
        "offset_minutes",
        "for_starts_at",
        unique=True,
    ),
    Index("reminder_jobs_due", "due_at", postgresql_where=text("state = 'pending'")),
)

calendar_feeds = Table(
    "calendar_feeds",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    # Random per-feed nonce; the token is derived from it with the server's feed secret.
    Column("nonce", LargeBinary, nullable=False),
    # SHA-256 of the token, for lookup: the database never holds a usable token.
    Column("token_hash", LargeBinary, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# What scheduling knows of listings from listings' events (`listings.listing.*`): enough to
# answer `availableSlots` without asking listings. `changed_at` is the time of the event
# that wrote the row, so an older event delivered late changes nothing; a deleted listing
# stays as a DELETED row for the same reason.
listing_copies = Table(
    "listing_copies",
    metadata,
    Column("listing_id", UUID(as_uuid=True), primary_key=True),
    Column("realtor_id", UUID(as_uuid=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("time_zone", Text, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)
