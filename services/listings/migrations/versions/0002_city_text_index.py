"""City and words in one GIN index: the most common search (a city plus words) reads one
posting list intersection instead of AND-ing two bitmaps.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute(
        "CREATE INDEX listings_city_search ON listings USING gin (lower(city), search) "
        "WITH (fastupdate = off)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS listings_city_search")
