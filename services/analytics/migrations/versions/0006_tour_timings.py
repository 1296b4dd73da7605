"""Each tour's timings kept on its own `tour_steps` rows (`took_seconds`: request to first
answer on the Tour Requested row, start to completion on the Tour Completed row), and the
scope indexes covering them, so a dashboard's timings are an index-only range scan instead of
a look-up of every tour of the period.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE tour_steps ADD COLUMN took_seconds double precision;
        UPDATE tour_steps r SET took_seconds = extract(epoch FROM a.at - r.occurred_at)
        FROM (SELECT tour_id, min(occurred_at) AS at FROM tour_steps
              WHERE name IN ('Tour Scheduled', 'Tour Declined') GROUP BY tour_id) a
        WHERE r.name = 'Tour Requested' AND a.tour_id = r.tour_id;
        UPDATE tour_steps c SET took_seconds = extract(epoch FROM c.occurred_at - s.occurred_at)
        FROM tour_steps s
        WHERE c.name = 'Tour Completed' AND s.name = 'Tour Started' AND s.tour_id = c.tour_id
          AND c.occurred_at >= s.occurred_at;
        DROP INDEX tour_steps_realtor;
        DROP INDEX tour_steps_listing;
        CREATE INDEX tour_steps_realtor ON tour_steps (realtor_id, name, occurred_at)
            INCLUDE (took_seconds);
        CREATE INDEX tour_steps_listing ON tour_steps (listing_id, name, occurred_at)
            INCLUDE (took_seconds);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX tour_steps_realtor;
        DROP INDEX tour_steps_listing;
        ALTER TABLE tour_steps DROP COLUMN took_seconds;
        CREATE INDEX tour_steps_realtor ON tour_steps (realtor_id, name, occurred_at);
        CREATE INDEX tour_steps_listing ON tour_steps (listing_id, name, occurred_at);
        """
    )
