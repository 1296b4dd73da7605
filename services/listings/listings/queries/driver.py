"""Reads at the driver level: SQL text compiled once, run on psycopg itself, prepared.

The hot reads (a listing by id or slug, entity batches, a page with its photos, search)
cost more in SQLAlchemy's per-call work (statement building, compilation cache keys,
result wrapping, row objects) than in the database. Here a statement is compiled to
psycopg's SQL text once; servicekit's `reads` runs it on the pooled psycopg connection in
autocommit as a server-side prepared statement and returns plain tuples, in the order of
the statement's columns, with errors in SQLAlchemy's shape (`DBAPIError`).
"""

from __future__ import annotations

from servicekit.reads import DIALECT, driver_sql, fetch, fetch_each

__all__ = ["DIALECT", "driver_sql", "fetch", "fetch_each"]
