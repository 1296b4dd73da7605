"""Reads at the driver level: SQL text compiled once, run on psycopg itself, prepared.

The hot reads (a listing by id or slug, entity batches, a page with its photos, search)
cost more in SQLAlchemy's per-call work (statement building, compilation cache keys,
result wrapping, row objects) than in the database. Here a statement is compiled to
psycopg's SQL text once, and each call borrows a pooled connection from the service's
engine (`Database.reads()`: autocommit, so no BEGIN/ROLLBACK), runs the text on the
psycopg connection underneath as a server-side prepared statement and returns plain
tuples, in the order of the statement's columns.

Errors keep SQLAlchemy's shape (`DBAPIError` subclasses wrapping the psycopg error), so a
refused value is still BAD_USER_INPUT and a lost database still UNAVAILABLE wherever the
service maps them; a connection the error broke is dropped from the pool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import psycopg
from servicekit.db import Database
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.util import greenlet_spawn

DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call]

Row = tuple[Any, ...]


def driver_sql(statement: ClauseElement) -> str:
    """`statement` as psycopg's SQL text (`%(name)s` parameters): compile at import or once
    per statement shape, never per call."""
    return str(statement.compile(dialect=DIALECT))  # type: ignore[no-untyped-call]


async def fetch(db: Database, sql: str, params: Mapping[str, Any]) -> Sequence[Row]:
    """Every row of one prepared statement, as tuples."""
    (rows,) = await fetch_each(db, [(sql, params)])
    return rows


class Execution:
    """The `context` a statement's listeners get: they may keep their own state on it
    between before and after (tracing does), as on SQLAlchemy's own execution context."""


async def fetch_each(
    db: Database, statements: Sequence[tuple[str, Mapping[str, Any]]]
) -> list[Sequence[Row]]:
    """The rows of each statement, run one after the other on one connection.

    The connection is borrowed from the engine's pool without a SQLAlchemy `Connection`
    around it (that wrapper, its execution options and their reset cost several times the
    statement itself) and put in autocommit for the reads, then back. When something
    listens to the engine's statement events (statement counters, SQL tracing), the reads
    go through a `Connection` instead and fire `before_cursor_execute` and
    `after_cursor_execute`, so listeners see them as they see SQLAlchemy's own."""
    if db.engine.sync_engine.dispatch.before_cursor_execute or (
        db.engine.sync_engine.dispatch.after_cursor_execute
    ):
        return await _observed(db, statements)
    try:
        fairy = await db.engine.raw_connection()
    except psycopg.Error as exc:  # the database cannot be reached: as `Engine.connect` says it
        raise DBAPIError.instance(None, None, exc, psycopg.Error) from exc
    driver = cast(psycopg.AsyncConnection[Any], fairy.driver_connection)
    try:
        await driver.set_autocommit(True)
        found = [await _run(driver, sql, params) for sql, params in statements]
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


async def _run(driver: psycopg.AsyncConnection[Any], sql: str, params: Mapping[str, Any]) -> Any:
    try:
        cursor = await driver.execute(sql, params, prepare=True)
        return await cursor.fetchall()
    except psycopg.Error as exc:
        broken = driver.broken or driver.closed
        raise DBAPIError.instance(
            sql, dict(params), exc, psycopg.Error, connection_invalidated=broken
        ) from exc


async def _observed(
    db: Database, statements: Sequence[tuple[str, Mapping[str, Any]]]
) -> list[Sequence[Row]]:
    async with db.reads() as conn:
        raw = await conn.get_raw_connection()
        driver = cast(psycopg.AsyncConnection[Any], raw.driver_connection)
        sync = conn.sync_connection
        assert sync is not None
        dispatch = sync.dispatch
        found: list[Sequence[Row]] = []
        for sql, params in statements:
            context = Execution()
            dispatch.before_cursor_execute(sync, driver, sql, params, context, False)
            try:
                found.append(await _run(driver, sql, params))
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    await conn.invalidate(exc)
                raise
            dispatch.after_cursor_execute(sync, driver, sql, params, context, False)
        return found
