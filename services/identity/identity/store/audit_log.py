"""The audit log inside a unit of work: the only code that writes `audit_log`.

Appends take a transaction-scoped advisory lock, so rows from concurrent transactions chain
in commit order; use cases append last, just before committing, to hold it briefly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

from servicekit.db import UnitOfWork
from sqlalchemy import func, select

from identity.audit import GENESIS, AuditEntry, link
from identity.tables import audit_log

APPEND_LOCK = 0x1D_A0D17  # pg_advisory_xact_lock key serialising appends


async def append(uow: UnitOfWork, entries: Sequence[AuditEntry], now: datetime) -> None:
    """Chain `entries` onto the log inside the unit of work's transaction."""
    if not entries:
        return
    session = uow.session
    await session.execute(select(func.pg_advisory_xact_lock(APPEND_LOCK)))
    last = (
        await session.execute(
            select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        )
    ).first()
    last_seq, last_hash = (last.seq, bytes(last.hash)) if last else (0, GENESIS)
    records = link(entries, last_seq=last_seq, last_hash=last_hash, now=now)
    await session.execute(audit_log.insert(), [asdict(record) for record in records])
