"""The rollups the dashboards and the platform's figures read whole: `realtor_days` (per
realtor, local day, step and reason, the rollups summed over listings: a dashboard's period
is about thirty rows of it), `platform_days` (per UTC day, step and reason, across the
platform, and the seconds of video meetings that ended) and `platform_actives` (who was
active on a UTC day, as a realtor or a buyer), so `platformStats` no longer counts raw events;
and an index of the tours' steps by time for the platform's timings.

The new tables are filled from what is held now: `realtor_days` from the rollups, the
platform's tables from the raw events still kept and the tours' steps.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE realtor_days (
            realtor_id uuid NOT NULL,
            day date NOT NULL,
            name text NOT NULL,
            reason text NOT NULL DEFAULT '',
            n bigint NOT NULL,
            PRIMARY KEY (realtor_id, day, name, reason)
        );
        INSERT INTO realtor_days (realtor_id, day, name, reason, n)
        SELECT realtor_id, day, name, reason, sum(n) FROM rollups GROUP BY 1, 2, 3, 4;

        CREATE TABLE platform_days (
            day date NOT NULL,
            name text NOT NULL,
            reason text NOT NULL DEFAULT '',
            n bigint NOT NULL,
            PRIMARY KEY (day, name, reason)
        );
        INSERT INTO platform_days (day, name, reason, n)
        SELECT (occurred_at AT TIME ZONE 'UTC')::date, name, '', count(*) FROM events
        WHERE name = 'Property View' AND listing_id IS NOT NULL GROUP BY 1, 2
        UNION ALL
        SELECT (occurred_at AT TIME ZONE 'UTC')::date, name, reason, count(*) FROM tour_steps
        GROUP BY 1, 2, 3
        UNION ALL
        SELECT (occurred_at AT TIME ZONE 'UTC')::date, 'video seconds', '',
               sum((properties->>'durationSeconds')::bigint) FROM events
        WHERE name = 'Video Call End' AND properties ? 'durationSeconds' GROUP BY 1;

        CREATE TABLE platform_actives (
            day date NOT NULL,
            role text NOT NULL,
            user_id uuid NOT NULL,
            PRIMARY KEY (day, role, user_id)
        );
        CREATE INDEX platform_actives_user ON platform_actives (user_id);
        INSERT INTO platform_actives (day, role, user_id)
        SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date, 'realtor', realtor_id
        FROM events WHERE realtor_id IS NOT NULL
        UNION
        SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date, 'buyer', user_id FROM events
        WHERE user_id IS NOT NULL
          AND name IN ('Property View', 'Tour Booking', 'Tour Requested')
          AND (realtor_id IS NULL OR user_id <> realtor_id);

        CREATE INDEX tour_steps_time ON tour_steps (name, occurred_at) INCLUDE (took_seconds);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX tour_steps_time;
        DROP TABLE platform_actives;
        DROP TABLE platform_days;
        DROP TABLE realtor_days;
        """
    )
