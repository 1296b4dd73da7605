"""Sessions, refresh tokens and single-use email tokens inside a unit of work: the only code
that writes `sessions`, `refresh_tokens` and `one_time_tokens`.

A session is one sign-in: a family of refresh tokens, each used once and replaced by the
next. Presenting a token that was already used means it was copied, so the whole family is
revoked (RFC 9700 §4.14.2).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from servicekit.db import UnitOfWork
from sqlalchemy import select, update

from identity.domain import RevokeReason
from identity.tables import one_time_tokens, refresh_tokens, sessions
from identity.tokens import Purpose, hash_secret, new_secret


async def open_session(
    uow: UnitOfWork, user_id: uuid.UUID, *, now: datetime, ttl: int
) -> tuple[uuid.UUID, str]:
    """A new session with its first refresh token; returns (session id, token)."""
    session_id = uuid.uuid4()
    expires = now + timedelta(seconds=ttl)
    await uow.session.execute(
        sessions.insert().values(
            id=session_id, user_id=user_id, created_at=now, expires_at=expires, last_used_at=now
        )
    )
    return session_id, await _issue_refresh(uow, session_id, now=now, expires=expires)


async def _issue_refresh(
    uow: UnitOfWork, session_id: uuid.UUID, *, now: datetime, expires: datetime
) -> str:
    token, digest = new_secret()
    await uow.session.execute(
        refresh_tokens.insert().values(
            token_hash=digest, session_id=session_id, issued_at=now, expires_at=expires
        )
    )
    return token


@dataclass(frozen=True)
class PresentedRefresh:
    token_hash: bytes
    session_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: datetime
    used: bool
    session_revoked: bool


async def find_refresh(uow: UnitOfWork, token: str) -> PresentedRefresh | None:
    """The presented token and its session, both locked for this transaction."""
    row = (
        await uow.session.execute(
            select(
                refresh_tokens.c.token_hash,
                refresh_tokens.c.session_id,
                refresh_tokens.c.expires_at,
                refresh_tokens.c.used_at,
                sessions.c.user_id,
                sessions.c.revoked_at,
            )
            .join(sessions, sessions.c.id == refresh_tokens.c.session_id)
            .where(refresh_tokens.c.token_hash == hash_secret(token))
            .with_for_update()
        )
    ).first()
    if row is None:
        return None
    return PresentedRefresh(
        token_hash=bytes(row.token_hash),
        session_id=row.session_id,
        user_id=row.user_id,
        expires_at=row.expires_at,
        used=row.used_at is not None,
        session_revoked=row.revoked_at is not None,
    )


async def rotate_refresh(
    uow: UnitOfWork, presented: PresentedRefresh, *, now: datetime, ttl: int
) -> str:
    """Spend `presented` and issue its successor in the same session (sliding expiry)."""
    expires = now + timedelta(seconds=ttl)
    await uow.session.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.token_hash == presented.token_hash)
        .values(used_at=now)
    )
    await uow.session.execute(
        update(sessions)
        .where(sessions.c.id == presented.session_id)
        .values(last_used_at=now, expires_at=expires)
    )
    return await _issue_refresh(uow, presented.session_id, now=now, expires=expires)


async def revoke_session(
    uow: UnitOfWork, session_id: uuid.UUID, *, now: datetime, reason: RevokeReason
) -> list[uuid.UUID]:
    """End one session; returns its id when it was still live (else nothing to announce)."""
    result = await uow.session.execute(
        update(sessions)
        .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason.value)
        .returning(sessions.c.id)
    )
    return list(result.scalars())


async def revoke_user_sessions(
    uow: UnitOfWork,
    user_id: uuid.UUID,
    *,
    now: datetime,
    reason: RevokeReason,
    keep: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Revoke every live session of a user except `keep`; returns the ids revoked."""
    query = (
        update(sessions)
        .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason.value)
        .returning(sessions.c.id)
    )
    if keep is not None:
        query = query.where(sessions.c.id != keep)
    return list((await uow.session.execute(query)).scalars())


# -- single-use email tokens ------------------------------------------------------------------
async def issue_one_time(
    uow: UnitOfWork, user_id: uuid.UUID, purpose: Purpose, *, now: datetime, ttl: int
) -> str:
    """A new token for `purpose`; earlier unused ones of the same purpose stop working."""
    await uow.session.execute(
        update(one_time_tokens)
        .where(
            one_time_tokens.c.user_id == user_id,
            one_time_tokens.c.purpose == purpose.value,
            one_time_tokens.c.used_at.is_(None),
        )
        .values(used_at=now)
    )
    token, digest = new_secret()
    await uow.session.execute(
        one_time_tokens.insert().values(
            token_hash=digest,
            user_id=user_id,
            purpose=purpose.value,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    return token


async def last_issued(uow: UnitOfWork, user_id: uuid.UUID, purpose: Purpose) -> datetime | None:
    row = (
        await uow.session.execute(
            select(one_time_tokens.c.created_at)
            .where(one_time_tokens.c.user_id == user_id, one_time_tokens.c.purpose == purpose.value)
            .order_by(one_time_tokens.c.created_at.desc())
            .limit(1)
        )
    ).first()
    return row.created_at if row else None


async def consume_one_time(
    uow: UnitOfWork, token: str, purpose: Purpose, *, now: datetime
) -> uuid.UUID | None:
    """Spend a valid token and return its user id; None when unknown, used or expired."""
    row = (
        await uow.session.execute(
            select(one_time_tokens)
            .where(
                one_time_tokens.c.token_hash == hash_secret(token),
                one_time_tokens.c.purpose == purpose.value,
            )
            .with_for_update()
        )
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    await uow.session.execute(
        update(one_time_tokens)
        .where(one_time_tokens.c.token_hash == row.token_hash)
        .values(used_at=now)
    )
    user_id: uuid.UUID = row.user_id
    return user_id


async def forget_user_tokens(uow: UnitOfWork, user_id: uuid.UUID) -> None:
    await uow.session.execute(one_time_tokens.delete().where(one_time_tokens.c.user_id == user_id))
