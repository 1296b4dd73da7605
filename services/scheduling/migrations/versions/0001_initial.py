"""Tours with exclusion constraints against double booking, history, availability,
reminder jobs, calendar feeds; outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from servicekit.tables import create_bus_tables, drop_bus_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status IN ('REQUESTED', 'SCHEDULED', 'IN_PROGRESS')"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        f"""
        CREATE TABLE tours (
            id uuid PRIMARY KEY,
            listing_id uuid NOT NULL,
            buyer_id uuid NOT NULL,
            realtor_id uuid NOT NULL,
            status text NOT NULL,
            starts_at timestamptz NOT NULL,
            ends_at timestamptz NOT NULL,
            blocked_until timestamptz NOT NULL,
            buffer_minutes integer NOT NULL,
            time_zone text NOT NULL,
            note text,
            status_reason text,
            sequence integer NOT NULL DEFAULT 0,
            listing_title text NOT NULL DEFAULT '',
            location text NOT NULL DEFAULT '',
            idempotency_key text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT tours_positive_length CHECK (ends_at > starts_at),
            CONSTRAINT tours_buffer_after_end CHECK (blocked_until >= ends_at),
            CONSTRAINT tours_known_status CHECK (status IN ('REQUESTED', 'SCHEDULED',
                'IN_PROGRESS', 'COMPLETED', 'CANCELLED', 'DECLINED', 'NO_SHOW')),
            CONSTRAINT tours_realtor_no_overlap EXCLUDE USING gist (
                realtor_id WITH =, tstzrange(starts_at, blocked_until, '[)') WITH &&
            ) WHERE ({LIVE}),
            CONSTRAINT tours_buyer_no_overlap EXCLUDE USING gist (
                buyer_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&
            ) WHERE ({LIVE})
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX tours_buyer_idempotency_key ON tours (buyer_id, idempotency_key)"
        " WHERE idempotency_key IS NOT NULL"
    )
    op.execute("CREATE INDEX tours_realtor_starts ON tours (realtor_id, starts_at)")
    op.execute("CREATE INDEX tours_buyer_starts ON tours (buyer_id, starts_at)")
    op.execute("CREATE INDEX tours_listing_starts ON tours (listing_id, starts_at)")
    op.execute("CREATE INDEX tours_scheduled_ends ON tours (ends_at) WHERE status = 'SCHEDULED'")
    op.execute(
        """
        CREATE TABLE tour_transitions (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tour_id uuid NOT NULL REFERENCES tours (id),
            from_status text,
            to_status text NOT NULL,
            at timestamptz NOT NULL,
            by_user uuid,
            reason text
        )
        """
    )
    op.execute("CREATE INDEX tour_transitions_tour ON tour_transitions (tour_id, id)")
    op.execute(
        """
        CREATE TABLE availability (
            realtor_id uuid PRIMARY KEY,
            time_zone text NOT NULL,
            weekly_hours jsonb NOT NULL,
            buffer_minutes integer NOT NULL,
            minimum_notice_minutes integer NOT NULL,
            max_days_ahead integer NOT NULL,
            blocked_dates date[] NOT NULL DEFAULT '{}',
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE reminder_jobs (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tour_id uuid NOT NULL REFERENCES tours (id),
            offset_minutes integer NOT NULL,
            due_at timestamptz NOT NULL,
            for_starts_at timestamptz NOT NULL,
            state text NOT NULL DEFAULT 'pending',
            processed_at timestamptz,
            CONSTRAINT reminder_jobs_state CHECK (state IN ('pending', 'sent', 'skipped'))
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX reminder_jobs_once ON reminder_jobs"
        " (tour_id, offset_minutes, for_starts_at)"
    )
    op.execute("CREATE INDEX reminder_jobs_due ON reminder_jobs (due_at) WHERE state = 'pending'")
    op.execute(
        """
        CREATE TABLE calendar_feeds (
            user_id uuid PRIMARY KEY,
            nonce bytea NOT NULL,
            token_hash bytea NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    create_bus_tables(op.get_bind())


def downgrade() -> None:
    drop_bus_tables(op.get_bind())
    for table in ("calendar_feeds", "reminder_jobs", "availability", "tour_transitions", "tours"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
