"""Deletion requests to Mixpanel's GDPR API and GA4's User Deletion API: one row per
destination and identifier of a deleted user, claimed by the erasers with SKIP LOCKED.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE erasures (
            destination text NOT NULL,
            kind text NOT NULL,
            subject text NOT NULL,
            state text NOT NULL DEFAULT 'pending',
            attempts integer NOT NULL DEFAULT 0,
            due_at timestamptz NOT NULL,
            task text,
            error text,
            PRIMARY KEY (destination, kind, subject)
        );
        CREATE INDEX erasures_due ON erasures (destination, due_at) WHERE state = 'pending';
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE erasures;")
