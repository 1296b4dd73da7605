"""Accounts and sign-in counters inside a unit of work: the only code that writes `users`
and `login_throttle`.

Every user loaded or added here is tracked by the unit of work, which writes the user's
new domain events to the outbox when it commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import errors as pg_errors
from servicekit.db import UnitOfWork
from servicekit.vocabulary import Conflict, Role
from sqlalchemy import Row, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from identity.domain import RealtorProfile, User
from identity.tables import known_clients, login_throttle, users
from identity.throttle import ThrottleState

EMAIL_UNIQUE = "users_email_key"


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
        erasure_confirmed_at=row.erasure_confirmed_at,
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
        "erasure_confirmed_at": user.erasure_confirmed_at,
    }


def _taken() -> Conflict:
    return Conflict("an account with this email already exists", field="email")


def _is_email_taken(exc: IntegrityError) -> bool:
    orig = exc.orig
    return (
        isinstance(orig, pg_errors.UniqueViolation)
        and orig.diag is not None
        and orig.diag.constraint_name == EMAIL_UNIQUE
    )


async def add(uow: UnitOfWork, user: User) -> User:
    """Insert a new account; CONFLICT when its email is taken (checked first, and by the
    unique index for accounts registered at the same moment)."""
    if await email_taken(uow, user.email):
        raise _taken()
    try:
        await uow.session.execute(users.insert().values(id=user.id, **_values(user)))
    except IntegrityError as exc:
        if _is_email_taken(exc):
            raise _taken() from None
        raise
    return uow.track(user)


async def save(uow: UnitOfWork, user: User) -> None:
    await uow.session.execute(users.update().where(users.c.id == user.id).values(**_values(user)))


async def lock(uow: UnitOfWork, user_id: uuid.UUID) -> User | None:
    """The account, locked for this transaction and tracked."""
    query = select(users).where(users.c.id == user_id).with_for_update()
    row = (await uow.session.execute(query)).first()
    return uow.track(user_from_row(row)) if row else None


async def load(uow: UnitOfWork, user_id: uuid.UUID) -> User | None:
    """The account, tracked but not locked: for use cases that only record events on it
    after locking something else first (a session), where locking the account as well
    would take the two locks in the opposite order of a password change."""
    row = (await uow.session.execute(select(users).where(users.c.id == user_id))).first()
    return uow.track(user_from_row(row)) if row else None


async def claim_unconfirmed_erasures(
    uow: UnitOfWork, *, deleted_before: datetime, limit: int
) -> list[User]:
    """Erased accounts, deleted before `deleted_before`, whose erasure was not confirmed
    yet; locked with SKIP LOCKED (replicas share the work, each account once) and tracked."""
    query = (
        select(users)
        .where(
            users.c.deleted_at.is_not(None),
            users.c.deleted_at < deleted_before,
            users.c.erasure_confirmed_at.is_(None),
        )
        .order_by(users.c.deleted_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = (await uow.session.execute(query)).all()
    return [uow.track(user_from_row(row)) for row in rows]


async def lock_by_email(uow: UnitOfWork, email: str) -> User | None:
    """The account with this (normalised) email, locked for this transaction and tracked."""
    query = select(users).where(users.c.email == email).with_for_update()
    row = (await uow.session.execute(query)).first()
    return uow.track(user_from_row(row)) if row else None


async def email_taken(uow: UnitOfWork, email: str | None) -> bool:
    if email is None:
        return False
    found = await uow.session.execute(select(users.c.id).where(users.c.email == email))
    return found.first() is not None


# -- sign-in throttle -----------------------------------------------------------------------
async def lock_attempts(uow: UnitOfWork, key: str) -> None:
    """Serialise sign-in attempts on one counter key until this transaction ends, so
    parallel guesses cannot outrun the counter."""
    await uow.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


async def throttle_states(uow: UnitOfWork, keys: Sequence[str]) -> dict[str, ThrottleState]:
    rows = (
        await uow.session.execute(select(login_throttle).where(login_throttle.c.key.in_(keys)))
    ).all()
    found = {
        row.key: ThrottleState(row.key, row.failures, row.last_failure_at, row.locked_until)
        for row in rows
    }
    return {key: found.get(key, ThrottleState(key)) for key in keys}


async def save_throttle(uow: UnitOfWork, state: ThrottleState) -> None:
    values = {
        "failures": state.failures,
        "last_failure_at": state.last_failure_at,
        "locked_until": state.locked_until,
    }
    statement = insert(login_throttle).values(key=state.key, **values)
    await uow.session.execute(
        statement.on_conflict_do_update(index_elements=[login_throttle.c.key], set_=values)
    )


async def clear_throttle(uow: UnitOfWork, key: str) -> None:
    await uow.session.execute(login_throttle.delete().where(login_throttle.c.key == key))


async def clear_throttle_prefix(uow: UnitOfWork, prefix: str) -> None:
    """Drop every counter whose key starts with `prefix` (an account's client pairs)."""
    await uow.session.execute(
        login_throttle.delete().where(login_throttle.c.key.startswith(prefix, autoescape=True))
    )


async def is_known_client(uow: UnitOfWork, key: str, *, since: datetime) -> bool:
    """True when this (account, client) pair signed in successfully since `since`."""
    query = select(known_clients.c.key).where(
        known_clients.c.key == key, known_clients.c.last_signed_in_at >= since
    )
    return (await uow.session.execute(query)).first() is not None


async def remember_client(uow: UnitOfWork, key: str, user_id: uuid.UUID, now: datetime) -> None:
    statement = insert(known_clients).values(key=key, user_id=user_id, last_signed_in_at=now)
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[known_clients.c.key],
            set_={"user_id": user_id, "last_signed_in_at": now},
        )
    )


async def prune_sign_in_state(
    uow: UnitOfWork, *, failures_before: datetime, clients_before: datetime, now: datetime
) -> int:
    """Drop counters whose last failure is older than `failures_before` and that hold no
    lock, and known clients last seen before `clients_before`; returns how many rows."""
    counters = await uow.session.execute(
        login_throttle.delete().where(
            login_throttle.c.last_failure_at < failures_before,
            or_(login_throttle.c.locked_until.is_(None), login_throttle.c.locked_until <= now),
        )
    )
    clients = await uow.session.execute(
        known_clients.delete().where(known_clients.c.last_signed_in_at < clients_before)
    )
    return sum(int(getattr(r, "rowcount", 0) or 0) for r in (counters, clients))


async def forget_clients(uow: UnitOfWork, user_id: uuid.UUID) -> None:
    await uow.session.execute(known_clients.delete().where(known_clients.c.user_id == user_id))
