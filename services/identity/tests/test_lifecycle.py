"""The whole account lifecycle through the subgraph, with the real database and mail."""

from __future__ import annotations

import asyncio
import uuid

from identity.tables import sessions, users
from realty.identity.v1 import identity_pb2 as pb
from servicekit.bus import Bus, Event, OutboxRelay
from servicekit.tables import outbox
from sqlalchemy import select

from .conftest import PASSWORD, Identity

ME = "{ me { id email displayName emailVerified role timeZone } }"
LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken expiresIn user { id } }
}"""
REFRESH = """mutation($t: String!) {
  refreshToken(refreshToken: $t) { accessToken refreshToken user { id } }
}"""
NEW_PASSWORD = "amber glacier hums below orchards"


def code(body: dict) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def read_events(bus: Bus, count: int) -> list[Event]:
    js = await bus.connect()
    stream = await bus.ensure_stream_for("identity.user.registered")
    sub = await js.pull_subscribe(bus.subject("identity.>"), durable=None, stream=stream)
    found: list[Event] = []
    while len(found) < count:
        for msg in await sub.fetch(count - len(found), timeout=5.0):
            found.append(Event.from_envelope(msg.data))
            await msg.ack()
    await sub.unsubscribe()
    return found


async def test_register_verify_login_refresh_reset_delete(identity: Identity, bus: Bus) -> None:
    email = f"Ada.{uuid.uuid4().hex[:6]}@Example.COM"
    normalised = email.lower()

    # register: signed in at once, address not verified yet
    first = await identity.register(email)
    assert first["user"]["email"] == normalised
    assert first["user"]["emailVerified"] is False
    assert first["expiresIn"] == 900
    user_id = first["user"]["id"]

    # verify the address with the emailed link
    token = await identity.link_token(normalised, "Confirm your email", "verify-email")
    data = await identity.ok("mutation($t: String!) { verifyEmail(token: $t) }", {"t": token})
    assert data["verifyEmail"] is True
    me = (await identity.ok(ME, token=first["accessToken"]))["me"]
    assert me == {
        "id": user_id,
        "email": normalised,
        "displayName": "Test Person",
        "emailVerified": True,
        "role": "BUYER",
        "timeZone": "Europe/Paris",
    }

    # login (a second session), me
    login = (await identity.ok(LOGIN, {"email": email.upper(), "password": PASSWORD}))["login"]
    assert (await identity.ok(ME, token=login["accessToken"]))["me"]["id"] == user_id

    # refresh rotates; presenting the spent token again revokes the whole family
    rotated = (await identity.ok(REFRESH, {"t": login["refreshToken"]}))["refreshToken"]
    assert rotated["refreshToken"] != login["refreshToken"]
    assert (await identity.ok(ME, token=rotated["accessToken"]))["me"]["id"] == user_id
    reused = await identity.gql(REFRESH, {"t": login["refreshToken"]})
    assert code(reused) == "UNAUTHENTICATED"
    assert code(await identity.gql(REFRESH, {"t": rotated["refreshToken"]})) == "UNAUTHENTICATED"

    # the first session is still alive; reset the password through the emailed link
    reset_asked = await identity.ok(
        "mutation($e: String!) { requestPasswordReset(email: $e) }", {"e": normalised}
    )
    assert reset_asked["requestPasswordReset"] is True
    reset = await identity.link_token(normalised, "Reset your", "reset-password")
    done = await identity.ok(
        "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }",
        {"t": reset, "p": NEW_PASSWORD},
    )
    assert done["resetPassword"] is True

    # old password fails, new one works, the other session was revoked, the link is spent
    old = await identity.gql(LOGIN, {"email": normalised, "password": PASSWORD})
    assert code(old) == "UNAUTHENTICATED"
    fresh = (await identity.ok(LOGIN, {"email": normalised, "password": NEW_PASSWORD}))["login"]
    assert code(await identity.gql(REFRESH, {"t": first["refreshToken"]})) == "UNAUTHENTICATED"
    again = await identity.gql(
        "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }",
        {"t": reset, "p": "another quiet harbour at noon"},
    )
    assert code(again) == "BAD_USER_INPUT"

    # delete the account: PII erased, sessions revoked, sign-in impossible, event published
    wrong = await identity.gql(
        "mutation($p: String!) { deleteMyAccount(password: $p) }",
        {"p": PASSWORD},
        token=fresh["accessToken"],
    )
    assert code(wrong) == "UNAUTHENTICATED"
    deleted = await identity.ok(
        "mutation($p: String!) { deleteMyAccount(password: $p) }",
        {"p": NEW_PASSWORD},
        token=fresh["accessToken"],
    )
    assert deleted["deleteMyAccount"] is True
    gone = await identity.gql(LOGIN, {"email": normalised, "password": NEW_PASSWORD})
    assert code(gone) == "UNAUTHENTICATED"
    assert code(await identity.gql(REFRESH, {"t": fresh["refreshToken"]})) == "UNAUTHENTICATED"
    async with identity.db.session() as s:
        row = (await s.execute(select(users).where(users.c.id == uuid.UUID(user_id)))).one()
        live = (
            await s.execute(
                select(sessions.c.id).where(
                    sessions.c.user_id == row.id, sessions.c.revoked_at.is_(None)
                )
            )
        ).all()
    assert row.email is None and row.phone is None and row.password_hash is None
    assert row.display_name == "Deleted user" and row.deleted_at is not None
    assert live == []
    # the tombstone still resolves for other services' references
    public = await identity.ok(
        "query($id: ID!) { user(id: $id) { id displayName } }", {"id": user_id}
    )
    assert public["user"] == {"id": user_id, "displayName": "Deleted user"}

    # the relay publishes the outbox to NATS, in order
    expected = [
        "identity.user.registered",
        "identity.user.email_verified",
        "identity.session.revoked",  # the reused refresh token's session
        "identity.session.revoked",  # the first session, at the password reset
        "identity.user.deleted",
    ]
    async with identity.db.session() as s:
        subjects = (await s.execute(select(outbox.c.subject).order_by(outbox.c.seq))).scalars()
        assert list(subjects) == expected
    relay = OutboxRelay(identity.db, bus)
    task = asyncio.create_task(relay.run())
    try:
        events = await read_events(bus, len(expected))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # in commit order per entity (the user; its sessions), entities side by side
    account = [e for e in events if e.subject.startswith("identity.user.")]
    ended = [e for e in events if e.subject == "identity.session.revoked"]
    assert [e.subject for e in account] == [s for s in expected if ".user." in s]
    assert all(e.subject_id == user_id for e in events)
    reasons = [e.unpack(pb.SessionRevoked).reason for e in ended]
    assert reasons == ["refresh_token_reused", "password_reset"]
    assert account[2].unpack(pb.UserDeleted).user_id == user_id
    registered = account[0].unpack(pb.UserRegistered)
    assert registered.role == pb.ROLE_BUYER and registered.time_zone == "Europe/Paris"
