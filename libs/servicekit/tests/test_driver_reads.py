"""Reads on the driver's own connection: prepared statements in autocommit, the same rows
whether SQLAlchemy observes them or not, and driver errors as SQLAlchemy's errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from servicekit.db import Database
from sqlalchemy import event, text
from sqlalchemy.exc import DataError, ProgrammingError

ROWS = "SELECT n, n * %(k)s::int AS times FROM generate_series(1, 3) AS n ORDER BY n"


@contextmanager
def observed(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_rows_come_by_column_name_outside_any_transaction(db: Database) -> None:
    async with db.driver_reads() as reads:
        for k in range(3):
            rows = await reads.all(ROWS, {"k": k})
            assert [(r.n, r.times) for r in rows] == [(1, k), (2, 2 * k), (3, 3 * k)]
        assert (await reads.first(ROWS, {"k": 5})).times == 5
        assert await reads.first(ROWS + " LIMIT 0", {"k": 1}) is None


async def test_an_observed_engine_sees_the_statements_and_gets_the_same_rows(
    db: Database,
) -> None:
    async with db.driver_reads() as reads:
        plain = [tuple(r) for r in await reads.all(ROWS, {"k": 2})]
    with observed(db) as seen:
        async with db.driver_reads() as reads:
            rows = await reads.all(ROWS, {"k": 2})
    assert [tuple(r) for r in rows] == plain
    assert [(r.n, r.times) for r in rows] == [(1, 2), (2, 4), (3, 6)]
    assert seen == [ROWS]


async def test_driver_errors_leave_as_sqlalchemy_errors_and_the_pool_stays_usable(
    db: Database,
) -> None:
    with pytest.raises(DataError):  # SQLSTATE 22: mapped to BAD_USER_INPUT by the subgraph
        async with db.driver_reads() as reads:
            await reads.all("SELECT %(n)s::int", {"n": 2**40})
    with pytest.raises(ProgrammingError):
        async with db.driver_reads() as reads:
            await reads.all("SELECT no_such_column FROM outbox", {})
    async with db.reads() as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar() == 1
