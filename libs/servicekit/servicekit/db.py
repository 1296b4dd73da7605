"""The service's own PostgreSQL database: engine, creation, and the unit of work.

A `UnitOfWork` is one transaction. The store registers every aggregate it loads or adds
with `track`; at commit the unit of work takes each tracked aggregate's new domain events,
turns them into bus messages with the service's one mapper (its `events.py`, given to the
`Database`) and writes them to the outbox table in that same transaction. So a change and
the facts it announces are stored together or not at all, and no use case can forget to
announce what its aggregate recorded. Units of work nest: an inner `async with uow` joins
the outer one, and only the outermost commit really commits (the event consumer uses this
to record the inbox row and the handler's effect in one transaction).

The outbox rows are written at the driver, not through SQLAlchemy: one prepared statement
for all of a commit's events, no SQL compilation, no SQLAlchemy result. A process emits an
event per change, so this path's CPU is what its relay has left to run on. (Sending the
insert in one psycopg pipeline with the COMMIT saves a round trip but cost more CPU per
commit than the round trip: 600-740 against 520-570 µs, alternated in one process.)
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from time import time_ns
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import psycopg
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from psycopg import sql
from psycopg.rows import namedtuple_row
from realty.events.v1.envelope_pb2 import Envelope
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from servicekit.outbox_wakeup import OutboxWakeup
from servicekit.tables import outbox
from servicekit.telemetry import current_trace_headers

log = logging.getLogger(__name__)


def async_url(url: str) -> str:
    """SQLAlchemy URL for the async psycopg 3 driver."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """Plain libpq URL (for psycopg connections outside SQLAlchemy)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


async def ensure_database(url: str) -> bool:
    """Create the database named in `url` when it does not exist yet; True when created."""
    parsed = make_url(url)
    name = parsed.database
    assert name, "database URL must name a database"
    admin = libpq_url(parsed.set(database="postgres").render_as_string(hide_password=False))
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        found = await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if await found.fetchone():
            return False
        try:
            await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            return False
        return True


class Aggregate(Protocol):
    """What the unit of work tracks: anything that records its domain events in `events`."""

    events: list[Any]


A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A domain event as the bus carries it: its subject, protobuf payload and whose it is."""

    subject: str
    payload: Message
    subject_id: str | uuid.UUID
    actor: str | uuid.UUID | None = None
    time: datetime | None = None


class EventMapper(Protocol):
    """A service's mapping of (aggregate, domain event) to the message it publishes."""

    def __call__(self, aggregate: Any, event: Any, /) -> Outgoing: ...


@dataclass(frozen=True, slots=True)
class PendingEvent:
    id: uuid.UUID
    subject: str
    subject_id: str
    envelope: Envelope


_INSERT_ONE_EVENT = (
    "INSERT INTO outbox (id, subject, subject_id, envelope, traceparent) "
    "VALUES (%s, %s, %s, %s, %s)"
)
# Several events in one statement of five array parameters, whatever their number (one
# prepared statement); WITH ORDINALITY keeps the emitting order, which `seq` then records.
_INSERT_EVENTS = (
    "INSERT INTO outbox (id, subject, subject_id, envelope, traceparent) "
    "SELECT id, subject, subject_id, envelope, traceparent FROM unnest("
    "%s::uuid[], %s::text[], %s::text[], %s::bytea[], %s::text[]) WITH ORDINALITY "
    "AS e(id, subject, subject_id, envelope, traceparent, n) ORDER BY n"
)


# A driver statement's parameters: by name (`%(name)s`) or by position (`%s`).
Parameters = Mapping[str, Any] | Sequence[Any]


def _outbox_insert(pending: Sequence[PendingEvent]) -> tuple[str, tuple[Any, ...]]:
    """The driver-level statement and parameters writing `pending` to the outbox."""
    if len(pending) == 1:
        (p,) = pending
        envelope = p.envelope
        return _INSERT_ONE_EVENT, (
            p.id,
            p.subject,
            p.subject_id,
            envelope.SerializeToString(),
            envelope.traceparent or None,
        )
    return _INSERT_EVENTS, (
        [p.id for p in pending],
        [p.subject for p in pending],
        [p.subject_id for p in pending],
        [p.envelope.SerializeToString() for p in pending],
        [p.envelope.traceparent or None for p in pending],
    )


def _statements_observed(engine: AsyncEngine) -> bool:
    """Whether something listens to the engine's statements (SQL tracing, a test counting
    round trips): then every statement goes through SQLAlchemy, so all of them are seen."""
    return bool(engine.sync_engine.dispatch.before_cursor_execute)


def _as_dbapi_error(error: psycopg.Error, raw: Any) -> StatementError:
    """A driver error as SQLAlchemy raises it (the same class callers catch either way); a
    connection it broke is invalidated so the pool does not hand it out again."""
    broken = bool(raw.driver_connection.closed)
    if broken:
        raw.invalidate(error)
    return DBAPIError.instance(None, None, error, psycopg.Error, connection_invalidated=broken)


# Age past which a pooled connection is replaced when next checked out.
RECYCLE_SECONDS = 600


class Database:
    """One service's database: a pooled async engine plus the unit-of-work factory."""

    def __init__(
        self,
        url: str,
        *,
        source: str,
        pool_size: int = 10,
        max_overflow: int = 10,
        echo: bool = False,
        events: EventMapper | None = None,
        pool_timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.source = source
        self.events = events
        self.outbox_wakeup = OutboxWakeup(libpq_url(url), f"{source} outbox wake-up")
        self.engine: AsyncEngine = create_async_engine(
            async_url(url),
            pool_size=pool_size,
            max_overflow=max_overflow,
            # No ping per checkout: it costs a round trip on every unit of work. Connections
            # are recycled instead, and a dead one fails its statement, not the pool.
            pool_pre_ping=False,
            pool_recycle=RECYCLE_SECONDS,
            pool_timeout=pool_timeout,
            echo=echo,
        )

    def uow(self, actor: str | None = None) -> UnitOfWork:
        return UnitOfWork(self, actor=actor)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A read-only session for queries that need no unit of work."""
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            yield session

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection in autocommit for statements that only read: no BEGIN before
        and no ROLLBACK after, two round trips fewer per read. Under READ COMMITTED each
        statement sees its own snapshot either way, so nothing a reader relies on changes."""
        async with self.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    async def warm(self, connections: int) -> int:
        """Check out up to `connections` at once and give them back, so the pool holds them
        open; how many were opened or found. Those in use by requests count as warm; one
        past the recycle age is replaced here rather than on a request's path."""
        pool = self.engine.pool
        in_use: int = getattr(pool, "checkedout", lambda: 0)()
        kept: int = getattr(pool, "size", lambda: connections)()
        wanted = max(0, min(connections, kept) - in_use)
        held = await asyncio.gather(
            *(self.engine.connect().start() for _ in range(wanted)), return_exceptions=True
        )
        opened = [c for c in held if isinstance(c, AsyncConnection)]
        await asyncio.gather(*(c.close() for c in opened))
        failed = [e for e in held if isinstance(e, BaseException)]
        if failed:  # the pool opens them on demand instead; the next warming tries again
            log.warning(
                "%s: %d of %d connections not opened ahead: %s",
                self.source,
                len(failed),
                wanted,
                failed[0],
            )
        return len(opened)

    async def keep_warm(self, connections: int) -> None:
        """Keep `connections` open and younger than the recycle age (a worker).

        Opening a connection costs a few milliseconds of CPU here and in the database (a
        backend process, authentication): paid by the requests of a crowd arriving together
        (tours starting on the hour) unless the pool already holds them. Like HikariCP's
        minimum-idle, but over SQLAlchemy's pool: checked out at start and every half recycle
        age, so none is ever found stale by a request."""
        while True:
            await self.warm(connections)
            await asyncio.sleep(RECYCLE_SECONDS / 2)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (DBAPIError, OSError, TimeoutError):
            return False  # not reachable; anything else is a bug and propagates
        return True

    async def dispose(self) -> None:
        await self.outbox_wakeup.close()
        await self.engine.dispose()


class UnitOfWork:
    """One transaction over the service's tables and its outbox."""

    def __init__(self, db: Database, *, actor: str | None = None) -> None:
        self.db = db
        self.actor = actor
        self._depth = 0
        self._session: AsyncSession | None = None
        self._pending: list[PendingEvent] = []
        self._tracked: dict[int, Aggregate] = {}
        self._wrote_events = False
        self.committed = False

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._session

    async def __aenter__(self) -> Self:
        if self._depth == 0:
            self._session = AsyncSession(self.db.engine, expire_on_commit=False)
            self._pending = []
            self._tracked = {}
            self._wrote_events = False
            self.committed = False
        self._depth += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        session, self._session = self._session, None
        assert session is not None
        try:
            if not self.committed:
                await session.rollback()
        finally:
            self._pending = []
            self._tracked = {}
            await session.close()

    def track(self, aggregate: A) -> A:
        """Remember an aggregate loaded or added in this transaction; its events go out at commit."""
        self._tracked.setdefault(id(aggregate), aggregate)
        return aggregate

    def collect_events(self) -> None:
        """Record the new domain events of every tracked aggregate (done by `commit`)."""
        for aggregate in self._tracked.values():
            if not aggregate.events:
                continue
            mapper = self.db.events
            if mapper is None:
                raise RuntimeError(f"{self.db.source}: domain events recorded but no event mapper")
            for event in aggregate.events:
                out = mapper(aggregate, event)
                self.emit(
                    out.subject,
                    out.payload,
                    subject_id=out.subject_id,
                    actor=out.actor,
                    time=out.time,
                )
            aggregate.events.clear()

    def emit(
        self,
        subject: str,
        payload: Message,
        *,
        subject_id: str | uuid.UUID,
        actor: str | uuid.UUID | None = None,
        time: datetime | None = None,
    ) -> uuid.UUID:
        """Record an event to publish if, and only if, this unit of work commits."""
        event_id = uuid.uuid4()
        stamp = Timestamp()
        if time is None:
            stamp.FromNanoseconds(time_ns())
        else:
            stamp.FromDatetime(time)
        trace = current_trace_headers()
        envelope = Envelope(
            id=str(event_id),
            type=payload.DESCRIPTOR.full_name,
            time=stamp,
            subject=subject,
            subject_id=str(subject_id),
            actor=str(actor or self.actor or ""),
            traceparent=trace.get("traceparent", ""),
            tracestate=trace.get("tracestate", ""),
            source=self.db.source,
            payload=payload.SerializeToString(),
        )
        self._pending.append(PendingEvent(event_id, subject, str(subject_id), envelope))
        return event_id

    async def flush_events(self) -> None:
        """Write recorded events to the outbox (done by `commit`; callable earlier)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        if _statements_observed(self.db.engine):
            rows = [
                {
                    "id": p.id,
                    "subject": p.subject,
                    "subject_id": p.subject_id,
                    "envelope": p.envelope.SerializeToString(),
                    "traceparent": p.envelope.traceparent or None,
                }
                for p in pending
            ]
            await self.session.execute(outbox.insert(), rows)
        else:
            await self.run(*_outbox_insert(pending))
        self._wrote_events = True

    async def commit(self) -> None:
        """Commit the transaction with its events; inside a nested unit of work, defer to the outer."""
        if self._depth > 1:
            return
        self.collect_events()
        await self.flush_events()
        await self.session.commit()
        self.committed = True
        if self._wrote_events:
            self._wrote_events = False
            self.db.outbox_wakeup.written()  # after the commit: the relay can see the rows

    async def rows(self, statement: str, values: Parameters) -> list[Any]:
        """The rows (named tuples) of one fixed statement in psycopg's text (`%(name)s`
        parameters), run in this transaction at the driver and prepared on the server: no
        SQLAlchemy statement built, compiled or wrapped per call. While something listens to
        the engine's statements it goes through `exec_driver_sql`, the same text, so it is
        seen. A refusal is raised as SQLAlchemy raises it (`IntegrityError`, …) either way."""
        return await self._at_driver(statement, values, fetch=True)

    async def run(self, statement: str, values: Parameters) -> None:
        """One fixed statement whose rows are not wanted, as `rows` runs it."""
        await self._at_driver(statement, values, fetch=False)

    async def _at_driver(self, statement: str, values: Parameters, *, fetch: bool) -> list[Any]:
        if _statements_observed(self.db.engine):
            connection = await self.session.connection()
            result = await connection.exec_driver_sql(statement, values)
            return list(result.all()) if fetch else []
        raw = await self._raw_connection()
        cursor = raw.driver_connection.cursor(row_factory=namedtuple_row)
        try:
            await cursor.execute(statement, values, prepare=True)
            return list(await cursor.fetchall()) if fetch else []
        except psycopg.Error as error:
            raise _as_dbapi_error(error, raw) from error

    async def _raw_connection(self) -> Any:
        """The pooled DB-API connection under this unit of work's session (in its transaction)."""
        connection = await self.session.connection()
        return await connection.get_raw_connection()

    async def rollback(self) -> None:
        self._pending = []
        self._tracked = {}
        self._wrote_events = False
        await self.session.rollback()
