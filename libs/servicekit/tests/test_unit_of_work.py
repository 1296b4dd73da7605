"""The unit of work announces what its tracked aggregates recorded, and the bus tables are pruned."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from realty.events.v1.envelope_pb2 import Envelope
from servicekit.bus import BusRetention
from servicekit.db import Database, Outgoing
from servicekit.tables import inbox, outbox
from servicekit.testing import DatabaseFactory
from sqlalchemy import event, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError


@dataclass
class Renamed:
    name: str


@dataclass
class Item:
    id: uuid.UUID
    name: str
    events: list[Any] = field(default_factory=list)

    def rename(self, name: str) -> None:
        self.name = name
        self.events.append(Renamed(name))


def item_events(aggregate: Item, event: Any) -> Outgoing:
    match event:
        case Renamed():
            return Outgoing("demo.item.renamed", StringValue(value=event.name), aggregate.id)
    raise TypeError(f"no message for {event!r}")


@pytest.fixture
async def mapped_db(database_factory: DatabaseFactory, db: Database):  # type: ignore[no-untyped-def]
    database = Database(db.url, source="demo", events=item_events)
    yield database
    await database.dispose()


async def published(db: Database) -> list[tuple[str, str]]:
    async with db.session() as session:
        rows = (
            await session.execute(
                select(outbox.c.subject, outbox.c.envelope).order_by(outbox.c.seq)
            )
        ).all()
    out = []
    for subject, raw in rows:
        envelope = Envelope.FromString(raw)
        out.append((subject, StringValue.FromString(envelope.payload).value))
    return out


async def test_commit_writes_the_events_of_every_tracked_aggregate(mapped_db: Database) -> None:
    first, second = Item(uuid.uuid4(), "a"), Item(uuid.uuid4(), "b")
    async with mapped_db.uow() as uow:
        uow.track(first).rename("a1")
        uow.track(second).rename("b1")
        first.rename("a2")
        await uow.commit()
    assert await published(mapped_db) == [
        ("demo.item.renamed", "a1"),
        ("demo.item.renamed", "a2"),
        ("demo.item.renamed", "b1"),
    ]
    assert first.events == [] and second.events == []


async def test_events_of_a_rolled_back_unit_of_work_go_nowhere(mapped_db: Database) -> None:
    item = Item(uuid.uuid4(), "a")
    async with mapped_db.uow() as uow:
        uow.track(item).rename("never")
    async with mapped_db.uow() as uow:
        await uow.commit()  # a later unit of work does not inherit what the first tracked
    assert await published(mapped_db) == []


async def test_nested_units_of_work_announce_once_at_the_outer_commit(mapped_db: Database) -> None:
    item = Item(uuid.uuid4(), "a")
    uow = mapped_db.uow()
    async with uow:
        async with uow:
            uow.track(item).rename("inner")
            await uow.commit()
        assert await published(mapped_db) == []
        await uow.commit()
    assert await published(mapped_db) == [("demo.item.renamed", "inner")]


async def test_a_recorded_event_without_a_mapper_fails_the_commit(db: Database) -> None:
    item = Item(uuid.uuid4(), "a")
    with pytest.raises(RuntimeError, match="no event mapper"):
        async with db.uow() as uow:
            uow.track(item).rename("lost?")
            await uow.commit()
    assert await published(db) == []


async def test_retention_prunes_only_what_is_due(db: Database) -> None:
    now = datetime(2030, 1, 10, tzinfo=UTC)
    old, recent = now - timedelta(days=8), now - timedelta(hours=1)
    rows = [
        # (published_at, expected to stay)
        (old, False),
        (recent, True),
        (None, True),  # never published: kept whatever its age
    ]
    ids = [uuid.uuid4() for _ in rows]
    async with db.engine.begin() as conn:
        for event_id, (published_at, _) in zip(ids, rows, strict=True):
            await conn.execute(
                insert(outbox).values(
                    id=event_id, subject="demo.x", subject_id="s", envelope=b"", created_at=old
                )
            )
            await conn.execute(
                update(outbox).where(outbox.c.id == event_id).values(published_at=published_at)
            )
        await conn.execute(
            insert(inbox),
            [
                {
                    "consumer": "c",
                    "event_id": uuid.uuid4(),
                    "subject": "x",
                    "processed_at": now - timedelta(days=40),
                },
                {
                    "consumer": "c",
                    "event_id": uuid.uuid4(),
                    "subject": "x",
                    "processed_at": now - timedelta(days=2),
                },
            ],
        )
    retention = BusRetention(
        db,
        outbox_retention=timedelta(days=7),
        inbox_retention=timedelta(days=30),
        batch_size=1,  # several batches
        clock=lambda: now,
    )
    pruned = await retention.prune_once()
    assert (pruned.outbox, pruned.inbox) == (1, 1)
    async with db.session() as session:
        kept = set((await session.execute(select(outbox.c.id))).scalars())
        inbox_left = (await session.execute(select(func.count()).select_from(inbox))).scalar_one()
    assert kept == {i for i, (_, stays) in zip(ids, rows, strict=True) if stays}
    assert inbox_left == 1


async def outbox_rows(db: Database) -> list[tuple[uuid.UUID, str, str, Envelope, str | None]]:
    async with db.session() as session:
        query = select(
            outbox.c.id,
            outbox.c.subject,
            outbox.c.subject_id,
            outbox.c.envelope,
            outbox.c.traceparent,
        ).order_by(outbox.c.seq)
        rows = (await session.execute(query)).all()
    return [(i, s, sid, Envelope.FromString(raw), tp) for i, s, sid, raw, tp in rows]


@contextmanager
def statements_seen(db: Database, observed: bool) -> Iterator[list[str]]:
    """The statements the engine's listeners see while `observed` (none listen otherwise)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    if observed:
        event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        if observed:
            event.remove(db.engine.sync_engine, "before_cursor_execute", record)


@pytest.mark.parametrize("observed", [False, True], ids=["driver", "through-sqlalchemy"])
@pytest.mark.parametrize("count", [1, 5])
async def test_the_outbox_rows_are_the_emitted_events_in_emitting_order(
    db: Database, observed: bool, count: int
) -> None:
    """Written at the driver (one prepared statement) or, while something
    listens to the engine's statements, through SQLAlchemy: the same rows either way."""
    with statements_seen(db, observed) as statements:
        moment = datetime(2031, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
        before = datetime.now(UTC)
        async with db.uow(actor="someone") as uow:
            ids = [
                uow.emit(
                    f"demo.item.n{n}",
                    StringValue(value=str(n)),
                    subject_id=f"item-{n % 2}",
                    time=moment if n == 0 else None,
                )
                for n in range(count)
            ]
            await uow.commit()
    assert uow.committed
    assert any("INSERT INTO outbox" in s for s in statements) == observed
    rows = await outbox_rows(db)
    assert [r[0] for r in rows] == ids
    for n, (event_id, subject, subject_id, envelope, traceparent) in enumerate(rows):
        assert (subject, subject_id) == (f"demo.item.n{n}", f"item-{n % 2}")
        assert (envelope.id, envelope.subject, envelope.subject_id) == (
            str(event_id),
            subject,
            subject_id,
        )
        assert (envelope.actor, envelope.source) == ("someone", "demo")
        assert StringValue.FromString(envelope.payload).value == str(n)
        assert traceparent is None  # no span here: no trace context to carry
    assert rows[0][3].time.ToDatetime(tzinfo=UTC) == moment
    if count > 1:  # the others stamped when emitted
        assert before <= rows[1][3].time.ToDatetime(tzinfo=UTC) <= datetime.now(UTC)


async def test_a_commit_that_fails_writes_no_event_and_raises_sqlalchemys_error(
    db: Database,
) -> None:
    """A deferred constraint fails the COMMIT after the outbox insert: the error is
    SQLAlchemy's, the unit of work is not committed, the relay is not woken, and the pooled
    connection serves the next unit of work."""
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE checked (n int, CONSTRAINT unique_n UNIQUE (n) "
                "DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    woken = db.outbox_wakeup.written_here
    woken.clear()
    with pytest.raises(IntegrityError, match="unique_n"):
        async with db.uow() as uow:
            await uow.session.execute(text("INSERT INTO checked VALUES (1), (1)"))
            uow.emit("demo.item.changed", StringValue(value="never"), subject_id="a")
            await uow.commit()
    assert not uow.committed
    assert not woken.is_set()
    assert await outbox_rows(db) == []
    async with db.uow() as uow:
        uow.emit("demo.item.changed", StringValue(value="kept"), subject_id="a")
        await uow.commit()
    assert woken.is_set()
    assert [r[1] for r in await outbox_rows(db)] == ["demo.item.changed"]


async def test_an_outbox_insert_that_fails_at_the_driver_raises_sqlalchemys_error(
    db: Database,
) -> None:
    """The driver's error leaves as SQLAlchemy's, as from any other statement of the unit
    of work (here: the transaction was already aborted by a statement the caller caught)."""
    with pytest.raises(DBAPIError, match="current transaction is aborted"):
        async with db.uow() as uow:
            with pytest.raises(DBAPIError, match="division by zero"):
                await uow.session.execute(text("SELECT 1 / 0"))
            uow.emit("demo.item.changed", StringValue(value="never"), subject_id="a")
            await uow.commit()
    assert not uow.committed
    assert await outbox_rows(db) == []


INSERT_EFFECT = "INSERT INTO effects (event_id, body) VALUES (%(id)s, %(body)s)"
EFFECT_BODY = "SELECT body FROM effects WHERE event_id = %(id)s"


@pytest.mark.parametrize("observed", [False, True], ids=["driver", "through-sqlalchemy"])
async def test_driver_statements_run_in_the_unit_of_works_transaction(
    db: Database, observed: bool
) -> None:
    with statements_seen(db, observed) as seen:
        kept, dropped = uuid.uuid4(), uuid.uuid4()
        async with db.uow() as uow:
            await uow.run(INSERT_EFFECT, {"id": kept, "body": "kept"})
            # A statement of the same transaction sees the row; `rows` names the columns.
            (row,) = await uow.rows(EFFECT_BODY, {"id": kept})
            assert row.body == "kept"
            await uow.commit()
        async with db.uow() as uow:
            await uow.run(INSERT_EFFECT, {"id": dropped, "body": "dropped"})
            # A duplicate key is refused as SQLAlchemy refuses it, driver or not.
            with pytest.raises(IntegrityError):
                await uow.run(INSERT_EFFECT, {"id": kept, "body": "again"})
        async with db.uow() as uow:
            assert [r.body for r in await uow.rows(EFFECT_BODY, {"id": kept})] == ["kept"]
            assert await uow.rows(EFFECT_BODY, {"id": dropped}) == []  # rolled back
    assert any(s == INSERT_EFFECT for s in seen) == observed
