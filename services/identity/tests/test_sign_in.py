"""Sign-in security: no account enumeration, growing delays and a temporary lock."""

from __future__ import annotations

import uuid
from collections.abc import Coroutine
from typing import Any

import pytest
from identity.tables import audit_log, users
from sqlalchemy import event, select

from .conftest import PASSWORD, Identity

LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken }
}"""
RESET = "mutation($e: String!) { requestPasswordReset(email: $e) }"


def error(body: dict) -> dict:
    """The parts of an error a client sees (locations and path are the same by construction)."""
    (only,) = body["errors"]
    return {"message": only["message"], "extensions": only["extensions"], "data": body["data"]}


async def test_login_failure_is_identical_for_known_and_unknown_email(identity: Identity) -> None:
    known = (await identity.register())["user"]["email"]
    unknown = f"nobody-{uuid.uuid4().hex[:6]}@example.com"
    wrong = await identity.gql(LOGIN, {"email": known, "password": "not the password at all"})
    missing = await identity.gql(LOGIN, {"email": unknown, "password": "not the password at all"})
    assert error(wrong) == error(missing)
    assert error(wrong)["extensions"] == {"code": "UNAUTHENTICATED"}
    assert error(wrong)["message"] == "invalid email or password"


async def test_password_reset_answers_the_same_way_doing_the_same_work(
    identity: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a caller can time is the request path: it must not depend on the account
    existing. So it is observed directly: the answer, the SQL run before answering (none)
    and the work left for after (one job, whatever the address); then the jobs run and only
    the known address gets mail. No stopwatch: a busy machine cannot make this flaky."""
    known = (await identity.register())["user"]["email"]
    await identity.service.mail.drain()
    unknown = f"nobody-{uuid.uuid4().hex[:6]}@example.com"
    held: list[Coroutine[Any, Any, None]] = []
    monkeypatch.setattr(identity.service.mail, "run", held.append)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = identity.db.engine.sync_engine
    answered: dict[str, tuple[dict[str, Any], list[str], int]] = {}
    event.listen(engine, "before_cursor_execute", record)
    try:
        for email in (known, unknown):
            statements.clear()
            jobs_before = len(held)
            body = await identity.gql(RESET, {"e": email})
            answered[email] = (body, list(statements), len(held) - jobs_before)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert answered[known] == answered[unknown] == ({"data": {"requestPasswordReset": True}}, [], 1)
    await identity.gql(RESET, {"e": known})  # asked again within the mail interval

    monkeypatch.undo()
    for job in held:
        identity.service.mail.run(job)
    await identity.service.mail.drain()
    # verification + one reset: the second request within the interval sends nothing more
    assert len(identity.mail.messages(to=known)) == 2
    assert identity.mail.messages(to=unknown) == []


async def test_failures_bring_delays_then_a_lock_for_known_and_unknown_alike(
    identity: Identity,
) -> None:
    email = (await identity.register())["user"]["email"]
    unknown = f"nobody-{uuid.uuid4().hex[:6]}@example.com"
    limits = identity.settings  # free 2, lock at 4, base delay 5 s, lock 600 s

    async def attempt(address: str, password: str = "wrong wrong wrong") -> dict:
        return await identity.gql(LOGIN, {"email": address, "password": password})

    for address in (email, unknown):
        codes = []
        for _ in range(limits.login_free_failures):
            codes.append(error(await attempt(address))["extensions"]["code"])
        assert codes == ["UNAUTHENTICATED"] * 2
        # third failure comes at once: allowed (the delay starts after it)
        assert error(await attempt(address))["extensions"]["code"] == "UNAUTHENTICATED"
        # now a delay applies, even to the right password
        early = error(await attempt(address, PASSWORD))
        assert early["extensions"] == {"code": "RATE_LIMITED", "retryAfterSeconds": 5}
        identity.clock.advance(5)
        # the fourth failure locks the key
        assert error(await attempt(address))["extensions"]["code"] == "UNAUTHENTICATED"
        locked = error(await attempt(address, PASSWORD))
        assert locked["extensions"]["code"] == "RATE_LIMITED"
        assert locked["extensions"]["retryAfterSeconds"] == 600

    identity.clock.advance(601)
    assert "errors" not in await attempt(email, PASSWORD)
    async with identity.db.session() as s:
        actions = list((await s.execute(select(audit_log.c.action))).scalars())
    assert actions.count("login.locked") == 2
    assert actions.count("login.failed") == 8


async def test_failures_from_one_address_are_limited_across_accounts(
    database_factory, mail_catcher
) -> None:
    from .conftest import open_identity

    harness = await open_identity(
        database_factory,
        mail_catcher,
        login_max_failures_ip=4,
        login_free_failures_ip=2,
        login_max_failures_client=100,
        login_delay_base_seconds=0.0,
    )
    try:
        attacker = {"x-forwarded-for": "203.0.113.7, 10.0.0.1"}
        for i in range(4):
            body = await harness.gql(
                LOGIN,
                {"email": f"victim{i}@example.com", "password": "guess guess guess"},
                headers=attacker,
            )
            assert error(body)["extensions"]["code"] == "UNAUTHENTICATED"
        blocked = await harness.gql(
            LOGIN, {"email": "victim9@example.com", "password": "x"}, headers=attacker
        )
        assert error(blocked)["extensions"]["code"] == "RATE_LIMITED"
        other = await harness.gql(
            LOGIN,
            {"email": "victim9@example.com", "password": "x"},
            headers={"x-forwarded-for": "198.51.100.2"},
        )
        assert error(other)["extensions"]["code"] == "UNAUTHENTICATED"
    finally:
        await harness.close()


async def test_login_rehashes_when_parameters_change(database_factory, mail_catcher) -> None:
    from identity.passwords import Argon2Parameters, PasswordHasher

    from .conftest import open_identity

    harness = await open_identity(database_factory, mail_catcher)
    try:
        email = (await harness.register())["user"]["email"]
        async with harness.db.session() as s:
            before = (await s.execute(select(users.c.password_hash))).scalar_one()
        assert "m=1024,t=1" in before
        harness.service.hasher = PasswordHasher(Argon2Parameters(2048, 2, 1))
        assert "errors" not in await harness.gql(LOGIN, {"email": email, "password": PASSWORD})
        async with harness.db.session() as s:
            after = (await s.execute(select(users.c.password_hash))).scalar_one()
        assert "m=2048,t=2" in after
        assert "errors" not in await harness.gql(LOGIN, {"email": email, "password": PASSWORD})
    finally:
        await harness.close()
