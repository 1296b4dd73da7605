"""Storage that stays fast: raw events partitioned by month, and the rollups the dashboards
read instead of them.

`events` becomes `PARTITION BY RANGE (occurred_at)` with monthly partitions (`events_pYYYYMM`)
and a default partition that catches a time no month covers yet (the partition keeper moves
such rows into their month when it creates it). A partitioned table's unique keys must hold
the partition key, so an event's id is kept unique in `event_keys` (id -> occurred_at);
`tour_steps` remembers each tour's first event of each step (distinct tours, and the
timings); `rollups` holds the counts per realtor, listing, local day, step and reason.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from alembic import op
from sqlalchemy import text

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The months made now around the migration's own date; the keeper adds the later ones.
_MONTHS_BEFORE = 2
_MONTHS_AHEAD = 6


def _month(day: date, delta: int) -> date:
    index = day.year * 12 + day.month - 1 + delta
    return date(index // 12, index % 12 + 1, 1)


def upgrade() -> None:
    bind = op.get_bind()
    op.execute(
        """
        ALTER TABLE events RENAME TO events_unpartitioned;
        ALTER INDEX events_realtor_time RENAME TO events_unpartitioned_realtor_time;
        ALTER INDEX events_listing_time RENAME TO events_unpartitioned_listing_time;
        ALTER INDEX events_user RENAME TO events_unpartitioned_user;
        ALTER INDEX events_tour RENAME TO events_unpartitioned_tour;
        ALTER INDEX events_unstitched RENAME TO events_unpartitioned_unstitched;
        ALTER INDEX events_time RENAME TO events_unpartitioned_time;

        CREATE TABLE events (
            id uuid NOT NULL,
            name text NOT NULL,
            occurred_at timestamptz NOT NULL,
            received_at timestamptz NOT NULL,
            source text NOT NULL,
            user_id uuid,
            anonymous_id text,
            listing_id uuid,
            realtor_id uuid,
            tour_id uuid,
            properties jsonb NOT NULL DEFAULT '{}'::jsonb,
            PRIMARY KEY (id, occurred_at)
        ) PARTITION BY RANGE (occurred_at);
        CREATE INDEX events_realtor_time ON events (realtor_id, occurred_at);
        CREATE INDEX events_listing_time ON events (listing_id, occurred_at);
        CREATE INDEX events_user ON events (user_id);
        CREATE INDEX events_tour ON events (tour_id);
        CREATE INDEX events_unstitched ON events (anonymous_id) WHERE user_id IS NULL;
        CREATE INDEX events_time ON events (occurred_at);
        CREATE TABLE events_default PARTITION OF events DEFAULT;

        CREATE TABLE event_keys (
            id uuid PRIMARY KEY,
            occurred_at timestamptz NOT NULL
        );
        CREATE INDEX event_keys_time ON event_keys (occurred_at);

        CREATE TABLE tour_steps (
            tour_id uuid NOT NULL,
            name text NOT NULL,
            occurred_at timestamptz NOT NULL,
            day date NOT NULL,
            realtor_id uuid NOT NULL,
            listing_id uuid NOT NULL,
            reason text NOT NULL DEFAULT '',
            PRIMARY KEY (tour_id, name)
        );
        CREATE INDEX tour_steps_realtor ON tour_steps (realtor_id, name, occurred_at);
        CREATE INDEX tour_steps_listing ON tour_steps (listing_id, name, occurred_at);

        CREATE TABLE rollups (
            realtor_id uuid NOT NULL,
            day date NOT NULL,
            listing_id uuid NOT NULL,
            name text NOT NULL,
            reason text NOT NULL DEFAULT '',
            n bigint NOT NULL,
            PRIMARY KEY (realtor_id, day, listing_id, name, reason)
        );
        CREATE INDEX rollups_listing ON rollups (listing_id, day);
        """
    )
    today = datetime.now(UTC).date()
    found = bind.execute(text("SELECT min(occurred_at), max(occurred_at) FROM events_unpartitioned"))
    oldest, newest = found.one()
    first = _month(min(today, oldest.date()) if oldest else today, -_MONTHS_BEFORE)
    last = _month(max(today, newest.date()) if newest else today, _MONTHS_AHEAD)
    month = first
    while month <= last:
        following = _month(month, 1)
        op.execute(
            f"CREATE TABLE events_p{month:%Y%m} PARTITION OF events "
            f"FOR VALUES FROM ('{month.isoformat()} 00:00+00') "
            f"TO ('{following.isoformat()} 00:00+00')"
        )
        month = following
    op.execute(
        """
        INSERT INTO events SELECT id, name, occurred_at, received_at, source, user_id,
            anonymous_id, listing_id, realtor_id, tour_id, properties FROM events_unpartitioned;
        INSERT INTO event_keys SELECT id, occurred_at FROM events_unpartitioned;
        DROP TABLE events_unpartitioned;

        INSERT INTO tour_steps (tour_id, name, occurred_at, day, realtor_id, listing_id, reason)
        SELECT DISTINCT ON (e.tour_id, e.name) e.tour_id, e.name, e.occurred_at,
               (e.occurred_at AT TIME ZONE coalesce(p.time_zone, 'UTC'))::date,
               e.realtor_id, e.listing_id, coalesce(e.properties->>'reason', '')
        FROM events e LEFT JOIN people p ON p.id = e.realtor_id
        WHERE e.tour_id IS NOT NULL AND e.realtor_id IS NOT NULL AND e.listing_id IS NOT NULL
          AND e.name IN ('Tour Requested', 'Tour Scheduled', 'Tour Started', 'Tour Completed',
                         'Tour Cancelled', 'Tour Declined', 'Tour No Show')
        ORDER BY e.tour_id, e.name, e.occurred_at, e.id;

        INSERT INTO rollups (realtor_id, day, listing_id, name, reason, n)
        SELECT coalesce(e.realtor_id, '00000000-0000-0000-0000-000000000000'),
               (e.occurred_at AT TIME ZONE coalesce(p.time_zone, 'UTC'))::date,
               e.listing_id, e.name, '', count(*)
        FROM events e LEFT JOIN people p ON p.id = e.realtor_id
        WHERE e.name = 'Property View' AND e.listing_id IS NOT NULL
        GROUP BY 1, 2, 3, 4
        UNION ALL
        SELECT realtor_id, day, listing_id, name, reason, count(*) FROM tour_steps
        GROUP BY 1, 2, 3, 4, 5;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        CREATE TABLE events_unpartitioned (LIKE events INCLUDING DEFAULTS);
        INSERT INTO events_unpartitioned SELECT * FROM events;
        DROP TABLE events;
        DROP TABLE event_keys;
        DROP TABLE tour_steps;
        DROP TABLE rollups;
        ALTER TABLE events_unpartitioned RENAME TO events;
        ALTER TABLE events ADD PRIMARY KEY (id);
        CREATE INDEX events_realtor_time ON events (realtor_id, occurred_at);
        CREATE INDEX events_listing_time ON events (listing_id, occurred_at);
        CREATE INDEX events_user ON events (user_id);
        CREATE INDEX events_tour ON events (tour_id);
        CREATE INDEX events_unstitched ON events (anonymous_id) WHERE user_id IS NULL;
        CREATE INDEX events_time ON events (occurred_at);
        """
    )
