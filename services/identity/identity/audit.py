"""The security audit log: append-only rows, each hash-chained to the one before.

Row n stores `hash = SHA-256(prev_hash ‖ canonical(row n))`, where `prev_hash` is row n-1's
hash (32 zero bytes for the first row) and the canonical form is sorted, compact JSON of
every column but the hashes. Changing, removing or reordering any row breaks the chain from
that row on, which `verify` finds. Appends take a transaction-scoped advisory lock so rows
from concurrent transactions chain in commit order; callers append last, just before
committing, to hold that lock briefly. A trigger refuses UPDATE and DELETE on the table.

Rows hold ids and the client address, never emails or names, so erasing an account's
personal data never needs to touch this log.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from servicekit.db import Database
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.tables import audit_log

GENESIS = bytes(32)
AUDIT_LOCK_KEY = 0x1D_A0D17  # pg_advisory_xact_lock key serialising appends


class AuditAction(StrEnum):
    REGISTERED = "user.registered"
    ADMIN_CREATED = "user.admin_created"
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    LOGIN_LOCKED = "login.locked"
    REFRESH_REUSED = "session.refresh_reused"
    PASSWORD_CHANGED = "password.changed"
    PASSWORD_RESET_REQUESTED = "password.reset_requested"
    PASSWORD_RESET = "password.reset"
    EMAIL_VERIFIED = "email.verified"
    ROLE_CHANGED = "user.role_changed"
    REALTOR_VERIFICATION_CHANGED = "user.realtor_verification_changed"
    ACCOUNT_DELETED = "user.deleted"
    KEYS_ROTATED = "keys.rotated"


@dataclass(frozen=True)
class AuditEntry:
    action: AuditAction
    user_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    ip: str | None = None
    details: dict[str, str | int | bool | None] = field(default_factory=dict)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(
    *,
    seq: int,
    id: uuid.UUID,
    occurred_at: datetime,
    action: str,
    user_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    ip: str | None,
    details: dict[str, Any],
) -> bytes:
    content = {
        "seq": seq,
        "id": str(id),
        "occurred_at": _stamp(occurred_at),
        "action": action,
        "user_id": str(user_id) if user_id else None,
        "actor_id": str(actor_id) if actor_id else None,
        "ip": ip,
        "details": details,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: bytes, content: bytes) -> bytes:
    return hashlib.sha256(prev_hash + content).digest()


async def append(session: AsyncSession, entries: Sequence[AuditEntry], now: datetime) -> None:
    """Chain `entries` onto the log inside the caller's transaction."""
    if not entries:
        return
    await session.execute(select(func.pg_advisory_xact_lock(AUDIT_LOCK_KEY)))
    last = (
        await session.execute(
            select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        )
    ).first()
    seq, prev = (last.seq, bytes(last.hash)) if last else (0, GENESIS)
    rows = []
    for entry in entries:
        seq += 1
        row_id = uuid.uuid4()
        content = canonical(
            seq=seq,
            id=row_id,
            occurred_at=now,
            action=entry.action.value,
            user_id=entry.user_id,
            actor_id=entry.actor_id,
            ip=entry.ip,
            details=dict(entry.details),
        )
        digest = chain_hash(prev, content)
        rows.append(
            {
                "seq": seq,
                "id": row_id,
                "occurred_at": now,
                "action": entry.action.value,
                "user_id": entry.user_id,
                "actor_id": entry.actor_id,
                "ip": entry.ip,
                "details": dict(entry.details),
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    await session.execute(audit_log.insert(), rows)


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit log broken at seq {self.seq}: {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    rows: int
    broken: BrokenLink | None

    @property
    def ok(self) -> bool:
        return self.broken is None


async def verify(db: Database, *, batch: int = 1000) -> ChainReport:
    """Walk the whole chain in order; report the first row that does not follow from the last."""
    prev, expected_seq, count = GENESIS, 1, 0
    async with db.session() as session:
        while True:
            rows = (
                await session.execute(
                    select(audit_log)
                    .where(audit_log.c.seq >= expected_seq)
                    .order_by(audit_log.c.seq)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return ChainReport(count, None)
            for row in rows:
                if row.seq != expected_seq:
                    return ChainReport(count, BrokenLink(expected_seq, "row missing"))
                if bytes(row.prev_hash) != prev:
                    return ChainReport(count, BrokenLink(row.seq, "previous hash does not match"))
                content = canonical(
                    seq=row.seq,
                    id=row.id,
                    occurred_at=row.occurred_at,
                    action=row.action,
                    user_id=row.user_id,
                    actor_id=row.actor_id,
                    ip=row.ip,
                    details=row.details,
                )
                if chain_hash(prev, content) != bytes(row.hash):
                    return ChainReport(
                        count, BrokenLink(row.seq, "content does not match its hash")
                    )
                prev, expected_seq, count = bytes(row.hash), expected_seq + 1, count + 1
