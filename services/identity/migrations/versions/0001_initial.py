"""Users, sessions and refresh tokens, email tokens, sign-in throttle, signing keys,
the hash-chained audit log (append-only, enforced by a trigger); outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from servicekit.tables import create_bus_tables, drop_bus_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def ts(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("email", sa.Text),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("time_zone", sa.Text, nullable=False),
        sa.Column("phone", sa.Text),
        sa.Column("avatar_url", sa.Text),
        sa.Column("password_hash", sa.Text),
        ts("email_verified_at"),
        sa.Column("realtor_license", sa.Text),
        sa.Column("realtor_brokerage", sa.Text),
        sa.Column("realtor_bio", sa.Text),
        sa.Column("realtor_verified", sa.Boolean, nullable=False, server_default="false"),
        ts("created_at", nullable=False),
        ts("updated_at", nullable=False),
        ts("deleted_at"),
        sa.CheckConstraint("role IN ('BUYER', 'REALTOR', 'ADMIN')", name="users_role_check"),
        sa.CheckConstraint("email = lower(email)", name="users_email_normalised"),
    )
    op.create_index("users_email_key", "users", ["email"], unique=True)
    op.create_index("users_created", "users", ["created_at", "id"])

    op.create_table(
        "sessions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False),
        ts("created_at", nullable=False),
        ts("expires_at", nullable=False),
        ts("last_used_at", nullable=False),
        ts("revoked_at"),
        sa.Column("revoke_reason", sa.Text),
    )
    op.create_index("sessions_user", "sessions", ["user_id"])

    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.LargeBinary, primary_key=True),
        sa.Column("session_id", UUID(as_uuid=True), sa.ForeignKey("sessions.id"), nullable=False),
        ts("issued_at", nullable=False),
        ts("expires_at", nullable=False),
        ts("used_at"),
    )
    op.create_index("refresh_tokens_session", "refresh_tokens", ["session_id"])

    op.create_table(
        "one_time_tokens",
        sa.Column("token_hash", sa.LargeBinary, primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        ts("created_at", nullable=False),
        ts("expires_at", nullable=False),
        ts("used_at"),
    )
    op.create_index("one_time_tokens_user", "one_time_tokens", ["user_id", "purpose"])

    op.create_table(
        "login_throttle",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        ts("last_failure_at"),
        ts("locked_until"),
    )

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.Text, primary_key=True),
        sa.Column("algorithm", sa.Text, nullable=False),
        sa.Column("private_key", sa.LargeBinary, nullable=False),
        sa.Column("public_jwk", JSONB, nullable=False),
        ts("created_at", nullable=False),
        ts("activates_at", nullable=False),
        ts("superseded_at"),
        ts("retired_at"),
    )

    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False, unique=True),
        ts("occurred_at", nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("user_id", UUID(as_uuid=True)),
        sa.Column("actor_id", UUID(as_uuid=True)),
        sa.Column("ip", sa.Text),
        sa.Column("details", JSONB, nullable=False),
        sa.Column("prev_hash", sa.LargeBinary, nullable=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
    )
    op.create_index("audit_log_user", "audit_log", ["user_id"])
    op.execute(
        """
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )

    create_bus_tables(op.get_bind())


def downgrade() -> None:
    drop_bus_tables(op.get_bind())
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in (
        "audit_log",
        "signing_keys",
        "login_throttle",
        "one_time_tokens",
        "refresh_tokens",
        "sessions",
        "users",
    ):
        op.drop_table(table)
