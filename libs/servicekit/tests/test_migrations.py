"""Replicas that start at once migrate one after another, never into each other."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from servicekit.testing import DatabaseFactory
from sqlalchemy import create_engine, text

ENV = """
from sqlalchemy import MetaData
from servicekit.migrations import run_env
run_env(MetaData())
"""

# A first revision that finishes only once both other migrators are queued behind the
# lock it runs under (PostgreSQL shows them waiting in pg_locks). Without the lock none
# waits: each runs the revision itself, never sees the others queued, and gives up.
REVISION = """
import time
from alembic import op
import sqlalchemy as sa
revision = "0001"
down_revision = None
WAITING = sa.text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
def upgrade() -> None:
    op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))
    deadline = time.monotonic() + 60
    while op.get_bind().execute(WAITING).scalar_one() < 2:
        if time.monotonic() > deadline:
            raise RuntimeError("the other migrators never queued behind the lock")
        time.sleep(0.02)
    op.execute("INSERT INTO things (id) VALUES (1)")
"""


async def test_concurrent_migrations_of_one_database_both_succeed(
    database_factory: DatabaseFactory, tmp_path: Path
) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text(ENV)
    (tmp_path / "versions" / "0001_things.py").write_text(REVISION)
    url = await database_factory.create()
    try:
        # Separate processes, as replicas are (alembic's context is one per process).
        script = "import asyncio, sys; from servicekit.migrations import migrate; asyncio.run(migrate(sys.argv[1], sys.argv[2]))"
        procs = [
            await asyncio.create_subprocess_exec(sys.executable, "-c", script, url, str(tmp_path))
            for _ in range(3)
        ]
        assert [await p.wait() for p in procs] == [0, 0, 0]
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM things")).scalar_one() == 1
            assert (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0001"
            )
        engine.dispose()
    finally:
        await database_factory.drop(url)
