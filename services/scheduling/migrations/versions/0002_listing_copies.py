"""What scheduling knows of listings from their events (availableSlots reads it).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE listing_copies (
            listing_id uuid PRIMARY KEY,
            realtor_id uuid NOT NULL,
            status text NOT NULL,
            time_zone text NOT NULL,
            changed_at timestamptz NOT NULL
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS listing_copies")
