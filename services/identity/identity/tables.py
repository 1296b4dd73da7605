"""Identity's tables, on its own `metadata` (several services load in one test process)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()


def _ts(name: str, *, nullable: bool = True) -> Column[datetime]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


users = Table(
    "users",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("email", Text),  # normalised (lower case); NULL once the account is erased
    Column("role", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("time_zone", Text, nullable=False),
    Column("phone", Text),
    Column("avatar_url", Text),
    Column("password_hash", Text),
    _ts("email_verified_at"),
    Column("realtor_license", Text),
    Column("realtor_brokerage", Text),
    Column("realtor_bio", Text),
    Column("realtor_verified", Boolean, nullable=False, server_default="false"),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("deleted_at"),
    # When the erasure was announced again, after the account's last token expired.
    _ts("erasure_confirmed_at"),
    Index("users_email_key", "email", unique=True),
    Index("users_created", "created_at", "id"),
)

# A session is a refresh-token family: one sign-in and every token rotated from it.
sessions = Table(
    "sessions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id"), nullable=False),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("last_used_at", nullable=False),
    _ts("revoked_at"),
    Column("revoke_reason", Text),
    Index("sessions_user", "user_id"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", LargeBinary, primary_key=True),  # SHA-256 of the opaque token
    Column("session_id", UUID(as_uuid=True), ForeignKey("sessions.id"), nullable=False),
    _ts("issued_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("used_at"),
    Index("refresh_tokens_session", "session_id"),
)

# Single-use email tokens: address verification and password reset.
one_time_tokens = Table(
    "one_time_tokens",
    metadata,
    Column("token_hash", LargeBinary, primary_key=True),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id"), nullable=False),
    Column("purpose", Text, nullable=False),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("used_at"),
    Index("one_time_tokens_user", "user_id", "purpose"),
)

login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", Text, primary_key=True),
    Column("failures", Integer, nullable=False),
    _ts("last_failure_at"),
    _ts("locked_until"),
)

# (account, client) pairs that signed in successfully: they skip the account-wide delay.
known_clients = Table(
    "known_clients",
    metadata,
    Column("key", Text, primary_key=True),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id"), nullable=False),
    _ts("last_signed_in_at", nullable=False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", Text, primary_key=True),
    Column("algorithm", Text, nullable=False),
    Column("private_key", LargeBinary, nullable=False),  # PKCS#8 PEM, encrypted if configured
    Column("public_jwk", JSONB, nullable=False),
    _ts("created_at", nullable=False),
    _ts("activates_at", nullable=False),  # signs from then on (once every replica publishes it)
    _ts("superseded_at"),  # a newer key signs from then on
    _ts("retired_at"),  # no token it signed can still be valid: out of the JWKS
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", UUID(as_uuid=True), nullable=False, unique=True),
    _ts("occurred_at", nullable=False),
    Column("action", Text, nullable=False),
    Column("user_id", UUID(as_uuid=True)),
    Column("actor_id", UUID(as_uuid=True)),
    Column("ip", Text),
    Column("details", JSONB, nullable=False),
    Column("prev_hash", LargeBinary, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    Index("audit_log_user", "user_id"),
)
