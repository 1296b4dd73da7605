"""The audit log is append-only and hash-chained; `verify-audit` finds tampering."""

from __future__ import annotations

import itertools

import pytest
from identity.manage import execute
from identity.tables import audit_log
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from .conftest import PASSWORD, Identity

LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken }
}"""


async def make_history(identity: Identity) -> None:
    email = (await identity.register())["user"]["email"]
    await identity.gql(LOGIN, {"email": email, "password": "wrong password here"})
    await identity.ok(LOGIN, {"email": email, "password": PASSWORD})


async def test_security_events_are_chained_and_verify(
    identity: Identity, capsys: pytest.CaptureFixture[str]
) -> None:
    await make_history(identity)
    async with identity.db.session() as s:
        rows = (await s.execute(select(audit_log).order_by(audit_log.c.seq))).all()
    assert [r.action for r in rows] == [
        "keys.rotated",
        "user.registered",
        "login.failed",
        "login.succeeded",
    ]
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    assert all(bytes(b.prev_hash) == bytes(a.hash) for a, b in itertools.pairwise(rows))
    assert rows[2].ip == "127.0.0.1" and rows[2].details == {"known_account": True}
    assert await execute(["verify-audit"], identity.settings) == 0
    assert "OK: 4 audit rows" in capsys.readouterr().out


async def test_rows_cannot_be_changed_and_tampering_is_detected(
    identity: Identity, capsys: pytest.CaptureFixture[str]
) -> None:
    await make_history(identity)
    async with identity.db.engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("UPDATE audit_log SET ip = '10.9.9.9' WHERE seq = 3"))
        await conn.rollback()
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("DELETE FROM audit_log WHERE seq = 4"))
        await conn.rollback()
    # someone with owner rights gets past the trigger; the chain still tells
    async with identity.db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await conn.execute(text("UPDATE audit_log SET ip = '10.9.9.9' WHERE seq = 3"))
        await conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    assert await execute(["verify-audit"], identity.settings) == 1
    assert capsys.readouterr().out.strip() == (
        "audit log broken at seq 3: content does not match its hash"
    )


async def test_a_removed_row_is_detected(
    identity: Identity, capsys: pytest.CaptureFixture[str]
) -> None:
    await make_history(identity)
    async with identity.db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
        await conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    assert await execute(["verify-audit"], identity.settings) == 1
    assert "seq 2: row missing" in capsys.readouterr().out
