"""Tokens stop working when their session ends, not when they expire; tokens that lie about
their algorithm or lifetime never work."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from google.protobuf.timestamp_pb2 import Timestamp
from realty.identity.v1 import identity_pb2 as identity
from servicekit.auth import Role
from servicekit.bus import Bus, OutboxRelay
from servicekit.db import Database
from servicekit.errors import Unauthenticated
from servicekit.revocation import RevocationFeed, RevocationList
from servicekit.testing import TokenIssuer


def stamp(at: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(at)
    return value


async def test_a_token_whose_alg_does_not_fit_its_key_is_unauthenticated(
    token_issuer: TokenIssuer,
) -> None:
    rsa = generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"sub": str(uuid.uuid4()), "role": "BUYER", "iss": token_issuer.issuer,
              "aud": token_issuer.audience, "iat": now, "exp": now + 60}  # fmt: skip
    # Signed with RS256 but naming the issuer's Ed25519 key.
    forged = jwt.encode(claims, rsa, algorithm="RS256", headers={"kid": token_issuer.current_kid})
    with pytest.raises(Unauthenticated):
        await token_issuer.verifier().verify(forged)


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "tomorrow"},
        {"exp": True},
        {"iat": "now"},
        {"iat": int(time.time()), "exp": int(time.time()) + 30 * 24 * 3600},  # a month-long token
    ],
)
async def test_tokens_with_odd_or_overlong_lifetimes_are_refused(
    token_issuer: TokenIssuer, claims: dict[str, object]
) -> None:
    token = token_issuer.token(uuid.uuid4(), Role.BUYER, **claims)
    with pytest.raises(Unauthenticated):
        await token_issuer.verifier(max_lifetime_seconds=3600).verify(token)


async def test_a_revoked_session_or_user_is_refused_even_when_remembered(
    token_issuer: TokenIssuer,
) -> None:
    now = [1000.0]
    revocations = RevocationList(horizon=timedelta(hours=1), clock=lambda: now[0])
    verifier = token_issuer.verifier(revocations=revocations)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    alice_token = token_issuer.token(alice, Role.BUYER, sid="s-alice")
    bob_token = token_issuer.token(bob, Role.REALTOR, sid="s-bob")
    assert (await verifier.verify(alice_token)).user_id == alice  # now remembered
    assert (await verifier.verify(bob_token)).user_id == bob

    revocations.revoke_session("s-alice", at=now[0])
    with pytest.raises(Unauthenticated, match="session ended"):
        await verifier.verify(alice_token)
    assert (await verifier.verify(bob_token)).user_id == bob  # others unaffected

    revocations.revoke_user(bob, not_before=time.time() + 1)
    with pytest.raises(Unauthenticated, match="session ended"):
        await verifier.verify(bob_token)


def test_revocations_are_forgotten_once_every_token_they_refuse_has_expired() -> None:
    now = [0.0]
    revocations = RevocationList(horizon=timedelta(minutes=15), clock=lambda: now[0])
    user = uuid.uuid4()
    revocations.revoke_user(user, not_before=0.0)
    revocations.revoke_session("s", at=0.0)
    assert revocations.refuses(user, None, issued_at=-5.0)
    now[0] = 16 * 60.0
    assert not revocations.refuses(user, "s", issued_at=-5.0)
    assert len(revocations) == 0


async def test_the_feed_follows_identity_events_from_one_token_lifetime_ago(
    db: Database, bus: Bus
) -> None:
    ended, deleted, kept = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    at = datetime.now(UTC)
    async with db.uow() as uow:  # published before the feed starts: it must still see them
        uow.emit(
            "identity.session.revoked",
            identity.SessionRevoked(
                user_id=str(ended), session_id="s1", not_before=stamp(at), reason="sign-out"
            ),
            subject_id=ended,
        )
        await uow.commit()
    relay = asyncio.create_task(OutboxRelay(db, bus).run())
    revocations = RevocationList(horizon=timedelta(minutes=15))
    feed = asyncio.create_task(RevocationFeed(bus, revocations).run())
    try:
        async with db.uow() as uow:  # and live ones
            uow.emit(
                "identity.user.deleted",
                identity.UserDeleted(user_id=str(deleted), deleted_at=stamp(at)),
                subject_id=deleted,
            )
            await uow.commit()
        deadline = asyncio.get_running_loop().time() + 30
        while len(revocations) < 2:
            assert asyncio.get_running_loop().time() < deadline, "revocations not received"
            await asyncio.sleep(0.02)
    finally:
        for task in (relay, feed):
            task.cancel()
        await asyncio.gather(relay, feed, return_exceptions=True)
    issued = (at - timedelta(minutes=1)).timestamp()
    assert revocations.refuses(ended, "s1", issued)
    assert not revocations.refuses(ended, "s2", issued)  # their other device still works
    assert revocations.refuses(deleted, "any", issued)
    assert not revocations.refuses(kept, "s3", issued)
