"""Tours followed from scheduling's events, one meeting row per tour, attendees (one live
per device session), guests; outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from servicekit.tables import create_bus_tables, drop_bus_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE tours (
            id uuid PRIMARY KEY,
            listing_id uuid NOT NULL,
            buyer_id uuid NOT NULL,
            realtor_id uuid NOT NULL,
            status text NOT NULL,
            starts_at timestamptz NOT NULL,
            ends_at timestamptz NOT NULL,
            sequence bigint NOT NULL
        );
        CREATE INDEX tours_buyer ON tours (buyer_id);
        CREATE INDEX tours_realtor ON tours (realtor_id);

        CREATE TABLE meetings (
            tour_id uuid PRIMARY KEY,
            generation integer NOT NULL DEFAULT 0,
            state text NOT NULL DEFAULT 'NONE',
            meeting_id text,
            chime jsonb,
            created_at timestamptz,
            started_at timestamptz,
            someone_joined boolean NOT NULL DEFAULT false,
            empty_since timestamptz,
            attendee_seconds bigint NOT NULL DEFAULT 0
        );
        CREATE INDEX meetings_empty ON meetings (empty_since) WHERE empty_since IS NOT NULL;
        CREATE UNIQUE INDEX meetings_chime_id ON meetings (meeting_id);

        CREATE TABLE attendees (
            attendee_id text PRIMARY KEY,
            tour_id uuid NOT NULL REFERENCES meetings (tour_id) ON DELETE CASCADE,
            meeting_id text NOT NULL,
            device_key text NOT NULL,
            user_id uuid NOT NULL,
            chime jsonb NOT NULL,
            video boolean NOT NULL,
            present_since timestamptz,
            last_seen timestamptz,
            deleted boolean NOT NULL DEFAULT false
        );
        CREATE INDEX attendees_meeting ON attendees (meeting_id);
        CREATE UNIQUE INDEX attendees_device ON attendees (tour_id, device_key) WHERE NOT deleted;

        CREATE TABLE guests (
            id uuid PRIMARY KEY,
            tour_id uuid NOT NULL,
            email text NOT NULL,
            status text NOT NULL,
            invited_by uuid NOT NULL,
            invited_at timestamptz NOT NULL,
            user_id uuid
        );
        CREATE UNIQUE INDEX guests_tour_email ON guests (tour_id, email) WHERE status <> 'REMOVED';
        """
    )
    create_bus_tables(op.get_bind())


def downgrade() -> None:
    drop_bus_tables(op.get_bind())
    op.execute("DROP TABLE guests, attendees, meetings, tours")
