"""Hot reads at the driver level: statements compiled once to psycopg's SQL text, run on
the pooled psycopg connection itself, prepared on the server.

A lookup by key costs more in SQLAlchemy's per-call work (a `Connection`, its execution
options and their reset on return, statement compilation, result and row objects) than in
the database. `fetch_each` borrows the pooled connection without a `Connection` around it,
puts it in autocommit for the reads (no BEGIN/ROLLBACK round trips) and back, and returns
psycopg's rows: tuples in the statement's column order, or named tuples (`named=True`) for
code that reads columns by name.

While something listens to the engine's statement events (SQL tracing, a test counting
round trips), the reads go through a SQLAlchemy `Connection` and fire
`before_cursor_execute` and `after_cursor_execute`, so listeners see them as they see every
other statement. Errors keep SQLAlchemy's shape (`DBAPIError` subclasses wrapping the
psycopg error), so a refused value is still BAD_USER_INPUT and a lost database still
UNAVAILABLE; a connection the error broke, or one left mid-statement by a cancellation,
is dropped from the pool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.util import greenlet_spawn

from servicekit.db import Database

Statement = tuple[str, Mapping[str, Any]]

_DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call]


def driver_sql(statement: ClauseElement) -> str:
    """`statement` as psycopg's SQL text (`%(name)s` parameters, typed casts), for `fetch`
    and `UnitOfWork.rows`/`run`: compile it at import, or once per statement shape, never
    per call. The text is the same on every call, so psycopg prepares it on the server."""
    return str(statement.compile(dialect=_DIALECT))  # type: ignore[no-untyped-call]


async def fetch(
    db: Database, sql: str, params: Mapping[str, Any], *, named: bool = False
) -> Sequence[Any]:
    """Every row of one prepared statement."""
    (rows,) = await fetch_each(db, [(sql, params)], named=named)
    return rows


async def fetch_first(db: Database, sql: str, params: Mapping[str, Any]) -> Any | None:
    """The first row of one prepared statement, its columns as attributes; None if none."""
    rows = await fetch(db, sql, params, named=True)
    return rows[0] if rows else None


class Execution:
    """The `context` a statement's listeners get: they may keep their own state on it
    between before and after (tracing does), as on SQLAlchemy's own execution context."""


async def fetch_each(
    db: Database, statements: Sequence[Statement], *, named: bool = False
) -> list[Sequence[Any]]:
    """The rows of each statement, run one after the other on one connection (so several
    reads of one request cost one checkout)."""
    dispatch = db.engine.sync_engine.dispatch
    if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
        return await _observed(db, statements, named)
    try:
        fairy = await db.engine.raw_connection()
    except psycopg.Error as exc:  # the database cannot be reached: as `Engine.connect` says it
        raise DBAPIError.instance(None, None, exc, psycopg.Error) from exc
    driver = cast(psycopg.AsyncConnection[Any], fairy.driver_connection)
    try:
        await driver.set_autocommit(True)
        found = [await _run(driver, sql, params, named) for sql, params in statements]
        await driver.set_autocommit(False)
        return found
    except BaseException as exc:
        if driver.broken or driver.closed or not isinstance(exc, DBAPIError):
            # lost, or left mid-statement (cancelled): not for the next borrower
            await greenlet_spawn(fairy.invalidate, exc)
        else:
            await driver.set_autocommit(False)
        raise
    finally:
        await greenlet_spawn(fairy.close)


async def _run(
    driver: psycopg.AsyncConnection[Any], sql: str, params: Mapping[str, Any], named: bool
) -> Any:
    try:
        if named:
            cursor: Any = driver.cursor(row_factory=namedtuple_row)
            await cursor.execute(sql, params, prepare=True)
        else:
            cursor = await driver.execute(sql, params, prepare=True)
        return await cursor.fetchall()
    except psycopg.Error as exc:
        broken = driver.broken or driver.closed
        raise DBAPIError.instance(
            sql, dict(params), exc, psycopg.Error, connection_invalidated=broken
        ) from exc


async def _observed(
    db: Database, statements: Sequence[Statement], named: bool
) -> list[Sequence[Any]]:
    async with db.reads() as conn:
        raw = await conn.get_raw_connection()
        driver = cast(psycopg.AsyncConnection[Any], raw.driver_connection)
        sync = conn.sync_connection
        assert sync is not None
        dispatch = sync.dispatch
        found: list[Sequence[Any]] = []
        for sql, params in statements:
            context = Execution()
            dispatch.before_cursor_execute(sync, driver, sql, params, context, False)
            try:
                found.append(await _run(driver, sql, params, named))
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    await conn.invalidate(exc)
                raise
            dispatch.after_cursor_execute(sync, driver, sql, params, context, False)
        return found
