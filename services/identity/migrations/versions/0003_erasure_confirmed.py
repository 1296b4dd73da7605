"""Erasures announced a second time once every token of the account has expired, so other
services sweep away what was created while the first announcement was travelling.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("erasure_confirmed_at", sa.DateTime(timezone=True)))
    op.create_index(
        "users_erasure_unconfirmed",
        "users",
        ["deleted_at"],
        postgresql_where=sa.text("deleted_at IS NOT NULL AND erasure_confirmed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("users_erasure_unconfirmed", table_name="users")
    op.drop_column("users", "erasure_confirmed_at")
