"""Reads on the driver's own connection: prepared statements in autocommit, and a driver
error leaving as the same SQLAlchemy error any other statement raises."""

from __future__ import annotations

import pytest
from servicekit.db import Database
from sqlalchemy import text
from sqlalchemy.exc import DataError, ProgrammingError


async def test_a_prepared_read_runs_outside_any_transaction(db: Database) -> None:
    async with db.driver_reads() as conn:
        for n in range(3):
            row = await (
                await conn.execute("SELECT %(n)s::int + 1", {"n": n}, prepare=True)
            ).fetchone()
            assert row is not None
            assert row == (n + 1,)
        # No BEGIN was sent, so nothing is left open for a ROLLBACK to close.
        assert conn.autocommit
        assert conn.info.transaction_status.name == "IDLE"


async def test_driver_errors_leave_as_sqlalchemy_errors_and_the_pool_stays_usable(
    db: Database,
) -> None:
    with pytest.raises(DataError):  # SQLSTATE 22: mapped to BAD_USER_INPUT by the subgraph
        async with db.driver_reads() as conn:
            await conn.execute("SELECT %(n)s::int", {"n": 2**40})
    with pytest.raises(ProgrammingError):
        async with db.driver_reads() as conn:
            await conn.execute("SELECT no_such_column FROM outbox")
    async with db.reads() as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar() == 1
