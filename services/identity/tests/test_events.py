"""Every domain event reaches the outbox through a real use case, in the transaction of its
change: the unit of work announces what the users it tracked recorded, and a change that
fails announces nothing."""

from __future__ import annotations

import typing
import uuid
from typing import Any

import pytest
from google.protobuf.message import Message
from identity import events
from identity.domain import (
    DomainEvent,
    SessionRevoked,
    UserDeleted,
    UserEmailVerified,
    UserRegistered,
    UserUpdated,
)
from identity.store import credentials
from identity.tables import audit_log, users
from realty.identity.v1 import identity_pb2 as pb
from servicekit.bus import Event
from servicekit.tables import outbox
from sqlalchemy import func, select

from .conftest import PASSWORD, REGISTER, Identity

# Every domain event type, the subject it goes out on and its payload type.
PUBLISHED: dict[type, tuple[str, type[Message]]] = {
    UserRegistered: (events.REGISTERED, pb.UserRegistered),
    UserUpdated: (events.UPDATED, pb.UserUpdated),
    UserEmailVerified: (events.EMAIL_VERIFIED, pb.UserEmailVerified),
    UserDeleted: (events.DELETED, pb.UserDeleted),
    SessionRevoked: (events.SESSION_REVOKED, pb.SessionRevoked),
}


async def outbox_events(identity: Identity) -> list[Event]:
    async with identity.db.session() as s:
        rows = (await s.execute(select(outbox.c.envelope).order_by(outbox.c.seq))).scalars()
        return [Event.from_envelope(bytes(envelope)) for envelope in rows]


async def count(identity: Identity, table: Any) -> int:
    async with identity.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(table))).scalar_one())


def test_every_domain_event_type_is_published() -> None:
    assert set(PUBLISHED) == set(typing.get_args(DomainEvent))


async def test_each_domain_event_goes_through_a_use_case_to_the_outbox(identity: Identity) -> None:
    registered = await identity.register(role="REALTOR")
    user_id, token = registered["user"]["id"], registered["accessToken"]
    update = """mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { displayName } }"""
    await identity.ok(
        update, {"i": {"displayName": "Renamed", "timeZone": "Asia/Tokyo"}}, token=token
    )
    link = await identity.link_token(registered["user"]["email"], "Confirm", "verify-email")
    await identity.ok("mutation($t: String!) { verifyEmail(token: $t) }", {"t": link})
    logout = "mutation($t: String!) { logout(refreshToken: $t) }"
    await identity.ok(logout, {"t": registered["refreshToken"]})
    await identity.ok(
        "mutation($p: String!) { deleteMyAccount(password: $p) }", {"p": PASSWORD}, token=token
    )

    found = await outbox_events(identity)
    order = [UserRegistered, UserUpdated, UserEmailVerified, SessionRevoked, UserDeleted]
    assert set(order) == set(PUBLISHED)
    assert [e.subject for e in found] == [PUBLISHED[kind][0] for kind in order]
    assert all(e.subject_id == user_id and e.source == "identity" for e in found)
    payloads = [e.unpack(PUBLISHED[kind][1]) for e, kind in zip(found, order, strict=True)]
    assert isinstance(payloads[0], pb.UserRegistered)
    assert payloads[0].role == pb.ROLE_REALTOR and payloads[0].display_name == "Test Person"
    assert isinstance(payloads[1], pb.UserUpdated)
    assert (payloads[1].display_name, payloads[1].time_zone) == ("Renamed", "Asia/Tokyo")
    assert isinstance(payloads[2], pb.UserEmailVerified) and payloads[2].user_id == user_id
    assert isinstance(payloads[3], pb.SessionRevoked) and payloads[3].user_id == user_id
    assert payloads[3].session_id and payloads[3].reason == "logout"
    assert isinstance(payloads[4], pb.UserDeleted) and payloads[4].user_id == user_id
    # the actor is the account itself (the unit of work's actor)
    assert {e.actor for e in found[:2]} == {user_id}


async def test_the_operator_command_announces_a_verified_account(identity: Identity) -> None:
    admin = await identity.service.create_admin(
        email="ops@example.com", display_name="Operator", password=PASSWORD
    )
    found = await outbox_events(identity)
    assert [e.subject for e in found] == [events.REGISTERED, events.EMAIL_VERIFIED]
    assert found[0].unpack(pb.UserRegistered).role == pb.ROLE_ADMIN
    assert all(e.subject_id == str(admin.id) for e in found)


async def test_registration_is_one_transaction_so_a_retry_after_a_failure_succeeds(
    identity: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account, its verification link, its session, its audit row and its event are
    written together: when the second half (the session) fails, nothing of the first half
    stays, and registering again with the same address works instead of answering CONFLICT."""
    real_open_session = credentials.open_session
    failures = iter([ConnectionResetError("the database went away")])

    async def flaky_open_session(*args: Any, **kwargs: Any) -> tuple[uuid.UUID, str]:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return await real_open_session(*args, **kwargs)

    monkeypatch.setattr(credentials, "open_session", flaky_open_session)
    account = {
        "email": "retry@example.com",
        "password": PASSWORD,
        "displayName": "Retry Person",
        "role": "BUYER",
        "timeZone": "UTC",
    }
    failed = await identity.gql(REGISTER, {"input": account})
    assert failed["data"] is None and failed["errors"][0]["extensions"]["code"] in (
        "UNAVAILABLE",
        "INTERNAL_SERVER_ERROR",
    )
    assert await count(identity, users) == 0
    assert await outbox_events(identity) == []
    actions = await count(identity, audit_log)  # the first signing key's row only
    assert actions == 1

    retried = (await identity.ok(REGISTER, {"input": account}))["register"]
    assert retried["user"]["email"] == "retry@example.com"
    assert await count(identity, users) == 1
    assert [e.subject for e in await outbox_events(identity)] == [events.REGISTERED]
    await identity.service.mail.drain()
    assert len(identity.mail.messages(to="retry@example.com")) == 1  # one link, after commit


async def test_an_erasure_is_announced_again_once_every_token_of_the_account_expired(
    identity: Identity,
) -> None:
    """The second announcement is the same fact (same deletion time): consumers sweep again
    what a token still accepted in the meantime may have created."""
    registered = await identity.register()
    await identity.ok(
        "mutation($p: String!) { deleteMyAccount(password: $p) }",
        {"p": PASSWORD},
        token=registered["accessToken"],
    )
    first = [e for e in await outbox_events(identity) if e.subject == events.DELETED]
    # an access token issued just before the deletion may still be accepted somewhere
    identity.clock.advance(identity.settings.access_token_ttl)
    assert await identity.service.confirm_erasures() == 0

    identity.clock.advance(61)
    assert await identity.service.confirm_erasures() == 1
    assert await identity.service.confirm_erasures() == 0  # once
    both = [e for e in await outbox_events(identity) if e.subject == events.DELETED]
    assert len(first) == 1 and len(both) == 2
    again = both[1].unpack(pb.UserDeleted)
    assert again == first[0].unpack(pb.UserDeleted)
    assert both[1].id != first[0].id  # a new message, so every consumer handles it
