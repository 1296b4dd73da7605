"""Known clients: the (account, client) pairs that signed in successfully, so failures from
strangers slow down only clients the account has never been used from.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "known_clients",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column(
            "user_id",
            UUID(as_uuid=True),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("last_signed_in_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("known_clients_user", "known_clients", ["user_id"])


def downgrade() -> None:
    op.drop_table("known_clients")
