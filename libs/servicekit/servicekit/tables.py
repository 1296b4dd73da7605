"""The outbox and inbox tables every service has in its own database."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.engine import Connection

OUTBOX_CHANNEL = "realty_outbox"
"""The channel the relay LISTENs on; `servicekit.outbox_wakeup` notifies it after commits."""

bus_metadata = MetaData()

outbox = Table(
    "outbox",
    bus_metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True),
    Column("subject", Text, nullable=False),
    Column("subject_id", Text, nullable=False),
    Column("envelope", LargeBinary, nullable=False),
    Column("traceparent", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
    Index("outbox_unpublished", "seq", postgresql_where=text("published_at IS NULL")),
)

inbox = Table(
    "inbox",
    bus_metadata,
    Column("consumer", Text, nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("subject", Text, nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer", "event_id"),
)


def create_bus_tables(connection: Connection) -> None:
    """Create the outbox and inbox tables (call from a service's first Alembic migration)."""
    bus_metadata.create_all(connection)


def drop_outbox_notify_trigger(connection: Connection) -> None:
    """Drop the NOTIFY-on-insert trigger that earlier versions put on the outbox.

    A NOTIFY inside the producing transaction serializes every commit on a database-wide
    lock (see `servicekit.outbox_wakeup`); the relay is now woken after the commit instead.
    A service calls this from a migration of its own; idempotent.
    """
    connection.execute(text("DROP TRIGGER IF EXISTS outbox_notify ON outbox"))
    connection.execute(text("DROP FUNCTION IF EXISTS outbox_notify()"))


def drop_bus_tables(connection: Connection) -> None:
    bus_metadata.drop_all(connection)
    connection.execute(text("DROP FUNCTION IF EXISTS outbox_notify()"))
