"""Signing keys inside a unit of work: the only code that writes `signing_keys`.

Key changes are serialised with a transaction-scoped advisory lock, so replicas starting
together create one first key and two rotations never both supersede the same key.
"""

from __future__ import annotations

from datetime import datetime

from servicekit.db import UnitOfWork
from sqlalchemy import func, select, update

from identity.keys import StoredKey
from identity.tables import signing_keys

KEY_CHANGE_LOCK = 0x1D_0CE7  # pg_advisory_xact_lock key


async def lock(uow: UnitOfWork) -> None:
    """Hold the key-change lock until this transaction ends."""
    await uow.session.execute(select(func.pg_advisory_xact_lock(KEY_CHANGE_LOCK)))


async def has_current(uow: UnitOfWork) -> bool:
    """True when a key is neither superseded nor retired."""
    found = await uow.session.execute(
        select(signing_keys.c.kid).where(
            signing_keys.c.superseded_at.is_(None), signing_keys.c.retired_at.is_(None)
        )
    )
    return found.first() is not None


async def add(uow: UnitOfWork, key: StoredKey) -> None:
    await uow.session.execute(
        signing_keys.insert().values(
            kid=key.kid,
            algorithm=key.algorithm,
            private_key=key.private_pem,
            public_jwk=key.public_jwk,
            created_at=key.created_at,
            activates_at=key.activates_at,
            superseded_at=key.superseded_at,
        )
    )


async def supersede_current(uow: UnitOfWork, at: datetime) -> None:
    """The key signing now stops signing at `at` (when its successor activates)."""
    await uow.session.execute(
        update(signing_keys).where(signing_keys.c.superseded_at.is_(None)).values(superseded_at=at)
    )


async def superseded(uow: UnitOfWork) -> list[tuple[str, datetime]]:
    """(kid, superseded at) of every superseded key still published."""
    rows = await uow.session.execute(
        select(signing_keys.c.kid, signing_keys.c.superseded_at).where(
            signing_keys.c.retired_at.is_(None), signing_keys.c.superseded_at.is_not(None)
        )
    )
    return [(row.kid, row.superseded_at) for row in rows.all()]


async def retire(uow: UnitOfWork, kids: list[str], at: datetime) -> None:
    """Take keys out of the JWKS: no token they signed can still be valid."""
    if kids:
        await uow.session.execute(
            update(signing_keys).where(signing_keys.c.kid.in_(kids)).values(retired_at=at)
        )
