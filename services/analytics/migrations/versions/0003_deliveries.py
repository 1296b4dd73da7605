"""Forwarding to Mixpanel and GA4: one delivery row per event and destination, claimed by
the forwarders with SKIP LOCKED; a destination's pending rows are its durable cursor.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE deliveries (
            destination text NOT NULL,
            event_id uuid NOT NULL,
            state text NOT NULL DEFAULT 'pending',
            attempts integer NOT NULL DEFAULT 0,
            due_at timestamptz NOT NULL,
            error text,
            PRIMARY KEY (destination, event_id)
        );
        CREATE INDEX deliveries_due ON deliveries (destination, due_at) WHERE state = 'pending';
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE deliveries;")
