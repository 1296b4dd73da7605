"""`servicekit.reads`: prepared statements on the pooled psycopg connection in autocommit,
the same rows whether SQLAlchemy observes them or not, driver errors as SQLAlchemy's, and
the connection handed back to the pool as the units of work expect it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from servicekit.db import Database
from servicekit.reads import fetch, fetch_each, fetch_first
from sqlalchemy import event, text
from sqlalchemy.exc import DataError, ProgrammingError

ROWS = "SELECT n, n * %(k)s::int AS times FROM generate_series(1, 3) AS n ORDER BY n"


async def test_rows_as_tuples_or_by_column_name_outside_any_transaction(db: Database) -> None:
    assert [tuple(r) for r in await fetch(db, ROWS, {"k": 2})] == [(1, 2), (2, 4), (3, 6)]
    named = await fetch(db, ROWS, {"k": 3}, named=True)
    assert [(r.n, r.times) for r in named] == [(1, 3), (2, 6), (3, 9)]
    assert (await fetch_first(db, ROWS, {"k": 5})).times == 5
    assert await fetch_first(db, ROWS + " LIMIT 0", {"k": 1}) is None
    txid = "SELECT txid_current() AS id"  # each statement its own transaction
    first, second = await fetch_each(db, [(txid, {}), (txid, {})])
    assert first[0][0] != second[0][0]
    async with db.uow() as uow:  # the pooled connection is back out of autocommit
        ids = [(await uow.session.execute(text(txid))).scalar() for _ in range(2)]
        assert ids[0] == ids[1]


async def test_an_observed_engine_sees_the_statements_and_gets_the_same_rows(
    db: Database,
) -> None:
    plain = [tuple(r) for r in await fetch(db, ROWS, {"k": 2})]
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        rows = await fetch(db, ROWS, {"k": 2}, named=True)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert [tuple(r) for r in rows] == plain
    assert [(r.n, r.times) for r in rows] == [(1, 2), (2, 4), (3, 6)]
    assert seen == [ROWS]


async def test_errors_leave_as_sqlalchemy_errors_and_the_pool_stays_usable(db: Database) -> None:
    with pytest.raises(DataError):  # SQLSTATE 22: mapped to BAD_USER_INPUT by the subgraph
        await fetch(db, "SELECT %(n)s::int", {"n": 2**40})
    with pytest.raises(ProgrammingError):
        await fetch(db, "SELECT no_such_column FROM outbox", {})
    reading = asyncio.ensure_future(fetch(db, "SELECT pg_sleep(5)", {}))
    await asyncio.sleep(0.2)  # let the statement reach the server
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    for _ in range(db.engine.pool.size() + 1):  # every pooled connection answers again
        assert [tuple(r) for r in await fetch(db, ROWS, {"k": 1})] == [(1, 1), (2, 2), (3, 3)]
