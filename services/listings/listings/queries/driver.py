"""Reads at the driver level: SQL text compiled once, run on psycopg itself, prepared.

The hot reads (a listing by id or slug, entity batches, a page with its photos, search)
cost more in SQLAlchemy's per-call work (statement building, compilation cache keys,
result wrapping, row objects) than in the database. Here a statement is compiled to
psycopg's SQL text once; servicekit's `reads` runs it on the pooled psycopg connection in
autocommit as a server-side prepared statement and returns plain tuples, in the order of
the statement's columns, with errors in SQLAlchemy's shape (`DBAPIError`).
"""

from __future__ import annotations

from servicekit.reads import fetch, fetch_each
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.sql import ClauseElement

__all__ = ["DIALECT", "driver_sql", "fetch", "fetch_each"]

DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call]


def driver_sql(statement: ClauseElement) -> str:
    """`statement` as psycopg's SQL text (`%(name)s` parameters): compile at import or once
    per statement shape, never per call."""
    return str(statement.compile(dialect=DIALECT))  # type: ignore[no-untyped-call]
