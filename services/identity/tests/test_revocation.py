"""Ended sessions: identity announces them (`identity.session.revoked`, through the outbox)
and refuses their access tokens itself within seconds, from the same revocation feed every
other service follows."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from identity.tables import refresh_tokens, sessions
from identity.tokens import hash_secret
from realty.identity.v1 import identity_pb2 as pb
from servicekit.bus import Bus, Event, OutboxRelay
from servicekit.revocation import RevocationFeed, RevocationList
from servicekit.tables import outbox
from sqlalchemy import select

from .conftest import PASSWORD, Identity, open_identity

ME = "{ me { id } }"
LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken }
}"""
REFRESH = (
    """mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }"""
)
LOGOUT = "mutation($t: String!) { logout(refreshToken: $t) }"
CHANGE = """mutation($c: String!, $n: String!) {
  changePassword(currentPassword: $c, newPassword: $n)
}"""
NEW_PASSWORD = "amber glacier hums below orchards"


def code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors")
    return str(errors[0]["extensions"]["code"]) if errors else None


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 10.0) -> float:
    """Poll `check` until it holds; returns how long that took (fails past the deadline)."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < within, f"not within {within} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@asynccontextmanager
async def wired(database_factory: Any, mail_catcher: Any, bus: Bus) -> AsyncIterator[Identity]:
    """Identity with its relay and revocation feed running, as its runtime runs them."""
    revocations = RevocationList(horizon=timedelta(hours=1))
    harness = await open_identity(database_factory, mail_catcher, bus=bus, revocations=revocations)
    assert harness.parts.verifier.revocations is revocations
    workers = [
        asyncio.create_task(OutboxRelay(harness.db, bus).run()),
        asyncio.create_task(RevocationFeed(bus, revocations).run()),
    ]
    try:
        yield harness
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await harness.close()


async def refused(harness: Identity, token: str) -> bool:
    return code(await harness.gql(ME, token=token)) == "UNAUTHENTICATED"


async def revocations_in_outbox(harness: Identity) -> list[pb.SessionRevoked]:
    async with harness.db.session() as s:
        rows = (
            await s.execute(
                select(outbox.c.envelope)
                .where(outbox.c.subject == "identity.session.revoked")
                .order_by(outbox.c.seq)
            )
        ).scalars()
        return [Event.from_envelope(bytes(p)).unpack(pb.SessionRevoked) for p in rows]


async def test_a_logged_out_token_is_refused_by_identity_itself_within_seconds(
    database_factory: Any, mail_catcher: Any, bus: Bus
) -> None:
    async with wired(database_factory, mail_catcher, bus) as harness:
        first = await harness.register()
        email = first["user"]["email"]
        other = (await harness.ok(LOGIN, {"email": email, "password": PASSWORD}))["login"]
        assert (await harness.ok(ME, token=first["accessToken"]))["me"]["id"]

        assert (await harness.ok(LOGOUT, {"t": first["refreshToken"]}))["logout"] is True
        took = await eventually(lambda: refused(harness, first["accessToken"]))
        assert took < 10.0
        # only that session ended: the other sign-in still works, and signing in again too
        assert "errors" not in await harness.gql(ME, token=other["accessToken"])
        again = (await harness.ok(LOGIN, {"email": email, "password": PASSWORD}))["login"]
        assert "errors" not in await harness.gql(ME, token=again["accessToken"])

        [revoked] = await revocations_in_outbox(harness)
        sid = await session_of(harness, first["refreshToken"])
        assert revoked.user_id == first["user"]["id"]
        assert revoked.session_id == str(sid)
        assert revoked.reason == "logout"


async def test_a_reused_refresh_token_ends_its_whole_session_everywhere(
    database_factory: Any, mail_catcher: Any, bus: Bus
) -> None:
    async with wired(database_factory, mail_catcher, bus) as harness:
        first = await harness.register()
        rotated = (await harness.ok(REFRESH, {"t": first["refreshToken"]}))["refreshToken"]
        assert "errors" not in await harness.gql(ME, token=rotated["accessToken"])

        assert code(await harness.gql(REFRESH, {"t": first["refreshToken"]})) == "UNAUTHENTICATED"
        await eventually(lambda: refused(harness, rotated["accessToken"]))
        assert await refused(harness, first["accessToken"])
        [revoked] = await revocations_in_outbox(harness)
        assert revoked.reason == "refresh_token_reused"


async def test_a_password_change_ends_the_other_sessions_and_keeps_the_callers(
    database_factory: Any, mail_catcher: Any, bus: Bus
) -> None:
    async with wired(database_factory, mail_catcher, bus) as harness:
        mine = await harness.register()
        email = mine["user"]["email"]
        stolen = (await harness.ok(LOGIN, {"email": email, "password": PASSWORD}))["login"]

        changed = await harness.ok(
            CHANGE, {"c": PASSWORD, "n": NEW_PASSWORD}, token=mine["accessToken"]
        )
        assert changed["changePassword"] is True
        await eventually(lambda: refused(harness, stolen["accessToken"]))
        assert "errors" not in await harness.gql(ME, token=mine["accessToken"])
        [revoked] = await revocations_in_outbox(harness)
        assert revoked.session_id == str(await session_of(harness, stolen["refreshToken"]))
        assert revoked.reason == "password_changed"


async def test_a_password_reset_ends_every_session(
    database_factory: Any, mail_catcher: Any, bus: Bus
) -> None:
    async with wired(database_factory, mail_catcher, bus) as harness:
        first = await harness.register()
        email = first["user"]["email"]
        second = (await harness.ok(LOGIN, {"email": email, "password": PASSWORD}))["login"]
        await harness.ok("mutation($e: String!) { requestPasswordReset(email: $e) }", {"e": email})
        token = await harness.link_token(email, "Reset your", "reset-password")
        await harness.ok(
            "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }",
            {"t": token, "p": NEW_PASSWORD},
        )
        for held in (first, second):
            await eventually(lambda held=held: refused(harness, held["accessToken"]))
        fresh = (await harness.ok(LOGIN, {"email": email, "password": NEW_PASSWORD}))["login"]
        assert "errors" not in await harness.gql(ME, token=fresh["accessToken"])
        revoked = await revocations_in_outbox(harness)
        assert sorted(r.session_id for r in revoked) == sorted(
            [
                str(await session_of(harness, first["refreshToken"])),
                str(await session_of(harness, second["refreshToken"])),
            ]
        )
        assert {r.reason for r in revoked} == {"password_reset"}


async def test_erasure_refuses_every_token_of_the_account(
    database_factory: Any, mail_catcher: Any, bus: Bus
) -> None:
    async with wired(database_factory, mail_catcher, bus) as harness:
        held = await harness.register()
        await harness.ok(
            "mutation($p: String!) { deleteMyAccount(password: $p) }",
            {"p": PASSWORD},
            token=held["accessToken"],
        )
        await eventually(lambda: refused(harness, held["accessToken"]))
        # the deletion itself refuses the account's tokens: no revocation per session
        assert await revocations_in_outbox(harness) == []
        revocations = harness.parts.verifier.revocations
        assert revocations is not None
        user_id, issued = uuid.UUID(held["user"]["id"]), time.time() - 1

        async def listed() -> bool:  # the feed hears identity.user.deleted
            return revocations.refuses(user_id, None, issued)

        await eventually(listed)


async def session_of(harness: Identity, refresh_token: str) -> uuid.UUID:
    async with harness.db.session() as s:
        sid: uuid.UUID = (
            await s.execute(
                select(sessions.c.id)
                .join(refresh_tokens, refresh_tokens.c.session_id == sessions.c.id)
                .where(refresh_tokens.c.token_hash == hash_secret(refresh_token))
            )
        ).scalar_one()
    return sid
