"""The security audit log: append-only rows, each hash-chained to the one before.

Row n stores `hash = SHA-256(prev_hash ‖ canonical(row n))`, where `prev_hash` is row n-1's
hash (32 zero bytes for the first row) and the canonical form is sorted, compact JSON of
every column but the hashes. Changing, removing or reordering any row breaks the chain from
that row on, which `ChainCheck` finds. This module is the arithmetic of the chain, pure;
the store appends (under a transaction-scoped advisory lock, so rows from concurrent
transactions chain in commit order; use cases append last, just before committing, to
hold that lock briefly) and the queries read the log back to check it. A trigger refuses
UPDATE and DELETE on the table.

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

GENESIS = bytes(32)


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


@dataclass(frozen=True)
class AuditRecord:
    """One row of the log, as stored."""

    seq: int
    id: uuid.UUID
    occurred_at: datetime
    action: str
    user_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    ip: str | None
    details: dict[str, Any]
    prev_hash: bytes
    hash: bytes

    def content(self) -> bytes:
        return canonical(
            seq=self.seq,
            id=self.id,
            occurred_at=self.occurred_at,
            action=self.action,
            user_id=self.user_id,
            actor_id=self.actor_id,
            ip=self.ip,
            details=self.details,
        )


def link(
    entries: Sequence[AuditEntry], *, last_seq: int, last_hash: bytes, now: datetime
) -> list[AuditRecord]:
    """The records that chain `entries` after the row (`last_seq`, `last_hash`); (0,
    GENESIS) for an empty log."""
    seq, prev = last_seq, last_hash
    records = []
    for entry in entries:
        seq += 1
        row_id = uuid.uuid4()
        details: dict[str, Any] = dict(entry.details)
        content = canonical(
            seq=seq,
            id=row_id,
            occurred_at=now,
            action=entry.action.value,
            user_id=entry.user_id,
            actor_id=entry.actor_id,
            ip=entry.ip,
            details=details,
        )
        digest = chain_hash(prev, content)
        records.append(
            AuditRecord(
                seq,
                row_id,
                now,
                entry.action.value,
                entry.user_id,
                entry.actor_id,
                entry.ip,
                details,
                prev,
                digest,
            )
        )
        prev = digest
    return records


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


class ChainCheck:
    """Walks the records in `seq` order and stops at the first that does not follow."""

    def __init__(self) -> None:
        self.prev = GENESIS
        self.expected_seq = 1
        self.count = 0
        self.broken: BrokenLink | None = None

    def feed(self, record: AuditRecord) -> bool:
        """Check the next record; False once the chain is broken (stop reading)."""
        if record.seq != self.expected_seq:
            self.broken = BrokenLink(self.expected_seq, "row missing")
        elif record.prev_hash != self.prev:
            self.broken = BrokenLink(record.seq, "previous hash does not match")
        elif chain_hash(self.prev, record.content()) != record.hash:
            self.broken = BrokenLink(record.seq, "content does not match its hash")
        if self.broken is not None:
            return False
        self.prev, self.expected_seq, self.count = record.hash, record.seq + 1, self.count + 1
        return True

    def report(self) -> ChainReport:
        return ChainReport(self.count, self.broken)
