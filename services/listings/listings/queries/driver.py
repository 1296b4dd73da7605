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

    The engine's statement events (`before_cursor_execute`, `after_cursor_execute`) are
    fired when anything listens, so statement counters and SQL tracing see these reads as
    they see SQLAlchemy's; with no listener they cost nothing."""
    async with db.reads() as conn:
        raw = await conn.get_raw_connection()
        driver = cast(psycopg.AsyncConnection[Any], raw.driver_connection)
        sync = conn.sync_connection
        assert sync is not None
        dispatch = sync.dispatch
        observed = bool(dispatch.before_cursor_execute) or bool(dispatch.after_cursor_execute)
        found: list[Sequence[Row]] = []
        for sql, params in statements:
            cursor = driver.cursor()
            context = Execution() if observed else None
            if observed:
                dispatch.before_cursor_execute(sync, cursor, sql, params, context, False)
            try:
                await cursor.execute(sql, params, prepare=True)
                found.append(await cursor.fetchall())
            except psycopg.Error as exc:
                broken = driver.broken or driver.closed
                if broken:
                    await conn.invalidate(exc)
                raise DBAPIError.instance(
                    sql, dict(params), exc, psycopg.Error, connection_invalidated=broken
                ) from exc
            finally:
                await cursor.close()
            if observed:
                dispatch.after_cursor_execute(sync, cursor, sql, params, context, False)
        return found
