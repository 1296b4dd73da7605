"""Rows to aggregates and back: the only module that knows the shape of `users`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from servicekit.auth import Role
from sqlalchemy import Row, and_, func, literal, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from identity.domain import RealtorProfile, User
from identity.tables import login_throttle, users
from identity.throttle import ThrottleState


def user_from_row(row: Row[Any]) -> User:
    role = Role(row.role)
    realtor = (
        RealtorProfile(
            license_number=row.realtor_license,
            brokerage=row.realtor_brokerage,
            bio=row.realtor_bio,
            verified=row.realtor_verified,
        )
        if role is Role.REALTOR
        else None
    )
    return User(
        id=row.id,
        email=row.email,
        role=role,
        display_name=row.display_name,
        time_zone=row.time_zone,
        password_hash=row.password_hash,
        created_at=row.created_at,
        updated_at=row.updated_at,
        phone=row.phone,
        avatar_url=row.avatar_url,
        email_verified_at=row.email_verified_at,
        realtor=realtor,
        deleted_at=row.deleted_at,
    )


def _values(user: User) -> dict[str, Any]:
    realtor = user.realtor
    return {
        "email": user.email,
        "role": user.role.value,
        "display_name": user.display_name,
        "time_zone": user.time_zone,
        "phone": user.phone,
        "avatar_url": user.avatar_url,
        "password_hash": user.password_hash,
        "email_verified_at": user.email_verified_at,
        "realtor_license": realtor.license_number if realtor else None,
        "realtor_brokerage": realtor.brokerage if realtor else None,
        "realtor_bio": realtor.bio if realtor else None,
        "realtor_verified": realtor.verified if realtor else False,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "deleted_at": user.deleted_at,
    }


async def insert_user(session: AsyncSession, user: User) -> None:
    await session.execute(users.insert().values(id=user.id, **_values(user)))


async def save_user(session: AsyncSession, user: User) -> None:
    await session.execute(users.update().where(users.c.id == user.id).values(**_values(user)))


async def get_user(
    session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False
) -> User | None:
    query = select(users).where(users.c.id == user_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return user_from_row(row) if row else None


async def get_user_by_email(
    session: AsyncSession, email: str, *, for_update: bool = False
) -> User | None:
    query = select(users).where(users.c.email == email)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return user_from_row(row) if row else None


async def email_taken(session: AsyncSession, email: str) -> bool:
    found = await session.execute(select(users.c.id).where(users.c.email == email))
    return found.first() is not None


async def users_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[User]:
    if not ids:
        return []
    rows = (await session.execute(select(users).where(users.c.id.in_(set(ids))))).all()
    return [user_from_row(row) for row in rows]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_users(
    session: AsyncSession,
    *,
    role: Role | None,
    search: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> tuple[list[User], int]:
    """Live accounts by creation (oldest first), filtered; also the filtered total."""
    conditions: list[ColumnElement[bool]] = [users.c.deleted_at.is_(None)]
    if role is not None:
        conditions.append(users.c.role == role.value)
    if search:
        pattern = _like(search)
        conditions.append(
            or_(
                users.c.email.ilike(pattern, escape="\\"),
                users.c.display_name.ilike(pattern, escape="\\"),
            )
        )
    where = and_(*conditions)
    total = (
        await session.execute(select(func.count()).select_from(users).where(where))
    ).scalar_one()
    query = select(users).where(where)
    if after is not None:
        query = query.where(
            tuple_(users.c.created_at, users.c.id) > tuple_(literal(after[0]), literal(after[1]))
        )
    rows = (
        await session.execute(query.order_by(users.c.created_at, users.c.id).limit(limit + 1))
    ).all()
    return [user_from_row(row) for row in rows], int(total)


# -- sign-in throttle -----------------------------------------------------------------------
async def load_throttle(session: AsyncSession, keys: Sequence[str]) -> dict[str, ThrottleState]:
    rows = (
        await session.execute(select(login_throttle).where(login_throttle.c.key.in_(keys)))
    ).all()
    found = {
        row.key: ThrottleState(row.key, row.failures, row.last_failure_at, row.locked_until)
        for row in rows
    }
    return {key: found.get(key, ThrottleState(key)) for key in keys}


async def save_throttle(session: AsyncSession, state: ThrottleState) -> None:
    values = {
        "failures": state.failures,
        "last_failure_at": state.last_failure_at,
        "locked_until": state.locked_until,
    }
    statement = insert(login_throttle).values(key=state.key, **values)
    await session.execute(
        statement.on_conflict_do_update(index_elements=[login_throttle.c.key], set_=values)
    )


async def clear_throttle(session: AsyncSession, key: str) -> None:
    await session.execute(login_throttle.delete().where(login_throttle.c.key == key))
