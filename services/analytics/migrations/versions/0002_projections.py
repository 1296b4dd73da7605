"""What analytics keeps of other services' facts: each listing's realtor and time zone (a
Property View is credited to the listing's realtor) and each user's time zone (a realtor's
daily series is cut at their midnight).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
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
        CREATE TABLE listings (
            id uuid PRIMARY KEY,
            realtor_id uuid NOT NULL,
            time_zone text NOT NULL
        );
        CREATE TABLE people (
            id uuid PRIMARY KEY,
            time_zone text NOT NULL
        );
        CREATE INDEX events_time ON events (occurred_at);
        """
    )


def downgrade() -> None:
    op.execute("DROP INDEX events_time; DROP TABLE people; DROP TABLE listings;")
