"""Recorded events, identity links, view marks; outbox and inbox.

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
        CREATE TABLE events (
            id uuid PRIMARY KEY,
            name text NOT NULL,
            occurred_at timestamptz NOT NULL,
            received_at timestamptz NOT NULL,
            source text NOT NULL,
            user_id uuid,
            anonymous_id text,
            listing_id uuid,
            realtor_id uuid,
            tour_id uuid,
            properties jsonb NOT NULL DEFAULT '{}'::jsonb
        );
        CREATE INDEX events_realtor_time ON events (realtor_id, occurred_at);
        CREATE INDEX events_listing_time ON events (listing_id, occurred_at);
        CREATE INDEX events_user ON events (user_id);
        CREATE INDEX events_tour ON events (tour_id);
        CREATE INDEX events_unstitched ON events (anonymous_id) WHERE user_id IS NULL;

        CREATE TABLE identity_links (
            anonymous_id text PRIMARY KEY,
            user_id uuid NOT NULL,
            linked_at timestamptz NOT NULL
        );

        CREATE TABLE view_marks (
            visitor text NOT NULL,
            listing_id uuid NOT NULL,
            counted_at timestamptz NOT NULL,
            PRIMARY KEY (visitor, listing_id)
        );
        """
    )
    create_bus_tables(op.get_bind())


def downgrade() -> None:
    op.execute("DROP TABLE view_marks; DROP TABLE identity_links; DROP TABLE events;")
    drop_bus_tables(op.get_bind())
