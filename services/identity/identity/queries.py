"""Identity's read models: users by id (entities, gRPC), the admin directory of accounts,
the published signing keys and the audit chain. SQL that only reads, outside any unit of
work; who may read what is decided before these are called (`service.py`, `domain.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from servicekit.db import Database
from servicekit.reads import driver_sql, fetch, fetch_first
from servicekit.vocabulary import BadUserInput, Role
from sqlalchemy import and_, bindparam, func, literal, or_, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.sql.elements import ColumnElement

from identity.audit import AuditRecord, ChainCheck, ChainReport
from identity.domain import User
from identity.keys import StoredKey
from identity.store.users import user_from_row
from identity.tables import audit_log, signing_keys, users

SEARCH_MAX = 200


USER_BY_ID = driver_sql(select(users).where(users.c.id == bindparam("key")))
USERS_BY_IDS = driver_sql(
    select(users).where(users.c.id == func.any(bindparam("keys", type_=ARRAY(UUID(as_uuid=True)))))
)


@dataclass(frozen=True)
class UserPage:
    """Up to `limit + 1` users of the directory (the extra one tells a next page exists)
    and how many match in all."""

    users: list[User]
    total: int


def cursor_key(user: User) -> list[str]:
    """The directory's sort key of a user: creation time, then id."""
    return [user.created_at.isoformat(), str(user.id)]


def _parse_key(position: list[Any] | None) -> tuple[datetime, uuid.UUID] | None:
    if position is None:
        return None
    try:
        stamp, ident = position
        return datetime.fromisoformat(str(stamp)), uuid.UUID(str(ident))
    except (TypeError, ValueError):
        raise BadUserInput("invalid cursor", field="after") from None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class IdentityQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def user(self, user_id: uuid.UUID) -> User | None:
        row = await fetch_first(self.db, USER_BY_ID, {"key": user_id})
        return user_from_row(row) if row else None

    async def users_by_ids(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, User]:
        """One query for any number of ids (reference resolution, gRPC batch)."""
        if not ids:
            return {}
        rows = await fetch(self.db, USERS_BY_IDS, {"keys": list(set(ids))}, named=True)
        return {row.id: user_from_row(row) for row in rows}

    async def search_users(
        self,
        *,
        role: Role | None,
        search: str | None,
        position: list[Any] | None,
        limit: int,
    ) -> tuple[list[User], int]:
        """Live accounts by creation (oldest first) after the decoded cursor `position`,
        filtered by role and by text in the email or name; also the filtered total.
        `limit + 1` rows come back so the caller knows whether a next page exists."""
        if search is not None and len(search) > SEARCH_MAX:
            raise BadUserInput(f"search must be at most {SEARCH_MAX} characters", field="search")
        after = _parse_key(position)
        text = (search or "").strip()
        conditions: list[ColumnElement[bool]] = [users.c.deleted_at.is_(None)]
        if role is not None:
            conditions.append(users.c.role == role.value)
        if text:
            pattern = _like(text)
            conditions.append(
                or_(
                    users.c.email.ilike(pattern, escape="\\"),
                    users.c.display_name.ilike(pattern, escape="\\"),
                )
            )
        where = and_(*conditions)
        query = select(users).where(where)
        if after is not None:
            query = query.where(
                tuple_(users.c.created_at, users.c.id)
                > tuple_(literal(after[0]), literal(after[1]))
            )
        async with self.db.session() as session:
            total = (
                await session.execute(select(func.count()).select_from(users).where(where))
            ).scalar_one()
            rows = (
                await session.execute(
                    query.order_by(users.c.created_at, users.c.id).limit(limit + 1)
                )
            ).all()
        return [user_from_row(row) for row in rows], int(total)

    async def published_keys(self) -> list[StoredKey]:
        """Every signing key not retired, newest activation first (for the `KeyRing`)."""
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(signing_keys)
                    .where(signing_keys.c.retired_at.is_(None))
                    .order_by(signing_keys.c.activates_at.desc())
                )
            ).all()
        return [
            StoredKey(
                kid=row.kid,
                algorithm=row.algorithm,
                private_pem=bytes(row.private_key),
                public_jwk=dict(row.public_jwk),
                created_at=row.created_at,
                activates_at=row.activates_at,
                superseded_at=row.superseded_at,
            )
            for row in rows
        ]

    async def audit_chain(self, *, batch: int = 1000) -> ChainReport:
        """Walk the whole audit log in order; the report names the first row that does not
        follow from the one before."""
        check = ChainCheck()
        async with self.db.session() as session:
            while True:
                rows = (
                    await session.execute(
                        select(audit_log)
                        .where(audit_log.c.seq >= check.expected_seq)
                        .order_by(audit_log.c.seq)
                        .limit(batch)
                    )
                ).all()
                if not rows:
                    return check.report()
                for row in rows:
                    record = AuditRecord(
                        seq=row.seq,
                        id=row.id,
                        occurred_at=row.occurred_at,
                        action=row.action,
                        user_id=row.user_id,
                        actor_id=row.actor_id,
                        ip=row.ip,
                        details=row.details,
                        prev_hash=bytes(row.prev_hash),
                        hash=bytes(row.hash),
                    )
                    if not check.feed(record):
                        return check.report()
