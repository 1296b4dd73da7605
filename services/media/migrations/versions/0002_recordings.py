"""Recordings of tours' calls, with a generated full-text vector over transcript and summary.

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
        CREATE TABLE recordings (
            id uuid PRIMARY KEY,
            tour_id uuid NOT NULL,
            realtor_id uuid NOT NULL,
            listing_id uuid NOT NULL,
            meeting_id text NOT NULL,
            started_by uuid NOT NULL,
            started_at timestamptz NOT NULL,
            status text NOT NULL,
            bucket text NOT NULL,
            prefix text NOT NULL,
            language text NOT NULL,
            capture_pipeline_id text,
            capture_arn text,
            concat_pipeline_id text,
            ended_at timestamptz,
            duration_seconds integer,
            transcript jsonb,
            transcript_text text,
            summary text,
            described boolean NOT NULL DEFAULT false,
            search tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('english', coalesce(transcript_text, '')), 'A') ||
                setweight(to_tsvector('english', coalesce(summary, '')), 'B')
            ) STORED
        );
        CREATE INDEX recordings_tour ON recordings (tour_id, started_at);
        CREATE UNIQUE INDEX recordings_active ON recordings (tour_id) WHERE status = 'RECORDING';
        CREATE INDEX recordings_meeting ON recordings (meeting_id);
        CREATE INDEX recordings_search ON recordings USING gin (search);
        CREATE INDEX recordings_to_describe ON recordings (started_at)
            WHERE status = 'AVAILABLE' AND NOT described;
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE recordings")
