"""Sign-in limits a stranger cannot turn against the owner: failures lock the (account,
client) pair they come from, while the account as a whole is only ever slowed down, and not
for the clients it was used from before."""

from __future__ import annotations

from typing import Any

from identity.tables import audit_log, known_clients, login_throttle
from sqlalchemy import func, select

from .conftest import PASSWORD, Identity

LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken }
}"""
WRONG = "wrong wrong wrong"


def extensions(body: dict[str, Any]) -> dict[str, Any]:
    errors = body.get("errors")
    return dict(errors[0]["extensions"]) if errors else {}


def at(address: str, device: str | None = None) -> dict[str, str]:
    """The headers the gateway sends for a client at `address` (and its app's device id)."""
    headers = {"x-forwarded-for": address}
    if device:
        headers["x-device-id"] = device
    return headers


async def attempt(harness: Identity, email: str, password: str, headers: dict[str, str]) -> dict:
    return await harness.gql(LOGIN, {"email": email, "password": password}, headers=headers)


async def lock_scopes(harness: Identity) -> list[str]:
    async with harness.db.session() as s:
        rows = await s.execute(
            select(audit_log.c.details).where(audit_log.c.action == "login.locked")
        )
        return [str(details.get("scope")) for details in rows.scalars()]


async def test_a_strangers_failures_lock_the_stranger_not_the_owner(identity: Identity) -> None:
    """50 guesses from one address (waiting out each delay, as a patient attacker would):
    that client is locked for that account, the owner elsewhere signs in at once."""
    email = (await identity.register())["user"]["email"]
    attacker = at("203.0.113.9")
    outcomes = []
    for _ in range(50):
        found = extensions(await attempt(identity, email, WRONG, attacker))
        outcomes.append(found["code"])
        wait = found.get("retryAfterSeconds", 0)
        if found["code"] == "RATE_LIMITED" and wait < identity.settings.login_lock_seconds:
            identity.clock.advance(wait)  # a delay, not the lock: wait it out and go on
    limit = identity.settings.login_max_failures_client
    assert outcomes.count("UNAUTHENTICATED") == limit
    assert outcomes[-1] == "RATE_LIMITED"

    # the attacker is locked out of this account, even with the right password
    locked = extensions(await attempt(identity, email, PASSWORD, attacker))
    assert locked["code"] == "RATE_LIMITED"
    assert locked["retryAfterSeconds"] > identity.settings.login_delay_max_seconds
    # the owner signs in from another address at once, and from a phone behind the same
    # address (its own device id) as well
    assert "errors" not in await attempt(identity, email, PASSWORD, at("198.51.100.20"))
    assert "errors" not in await attempt(identity, email, PASSWORD, at("203.0.113.9", "phone-1"))
    assert await lock_scopes(identity) == ["client"]


async def test_failures_from_many_clients_only_delay_the_account(identity: Identity) -> None:
    """Guesses spread over many addresses slow the account down (never past the capped
    delay, never a lock), and not at all for a client the owner signed in from before."""
    email = (await identity.register())["user"]["email"]
    home = at("198.51.100.7", "laptop")
    assert "errors" not in await attempt(identity, email, PASSWORD, home)

    cap = identity.settings.login_delay_max_seconds
    delays = []
    for i in range(40):
        headers = at(f"203.0.113.{i + 1}")
        found = extensions(await attempt(identity, email, WRONG, headers))
        if found["code"] == "RATE_LIMITED":
            delays.append(found["retryAfterSeconds"])
            identity.clock.advance(found["retryAfterSeconds"])
            found = extensions(await attempt(identity, email, WRONG, headers))
        assert found["code"] == "UNAUTHENTICATED"
    free = identity.settings.login_free_failures_account
    assert len(delays) == 40 - free - 1  # the first guess past the free ones is not delayed
    assert delays == sorted(delays) and max(delays) == cap  # growing, capped

    # right after the last guess: the owner's usual client does not wait at all; a new
    # client waits the capped delay at most
    assert "errors" not in await attempt(identity, email, PASSWORD, home)
    elsewhere = extensions(await attempt(identity, email, PASSWORD, at("192.0.2.44")))
    assert elsewhere["code"] == "RATE_LIMITED"
    assert elsewhere["retryAfterSeconds"] <= cap
    identity.clock.advance(elsewhere["retryAfterSeconds"])
    assert "errors" not in await attempt(identity, email, PASSWORD, at("192.0.2.44"))
    assert await lock_scopes(identity) == []


async def test_a_success_forgets_the_clients_failures(identity: Identity) -> None:
    email = (await identity.register())["user"]["email"]
    client = at("198.51.100.8")
    for _ in range(identity.settings.login_free_failures + 1):
        assert extensions(await attempt(identity, email, WRONG, client))["code"] == (
            "UNAUTHENTICATED"
        )
    identity.clock.advance(identity.settings.login_delay_base_seconds)
    assert "errors" not in await attempt(identity, email, PASSWORD, client)
    # the count starts again: the free failures are free again
    for _ in range(identity.settings.login_free_failures):
        assert extensions(await attempt(identity, email, WRONG, client))["code"] == (
            "UNAUTHENTICATED"
        )
    assert "errors" not in await attempt(identity, email, PASSWORD, client)


async def test_sign_in_state_is_forgotten_once_it_no_longer_matters(identity: Identity) -> None:
    email = (await identity.register())["user"]["email"]
    home = at("198.51.100.9")
    assert "errors" not in await attempt(identity, email, PASSWORD, home)
    for i in range(3):
        await attempt(identity, email, WRONG, at(f"203.0.113.{i + 1}"))

    async def rows() -> tuple[int, int]:
        async with identity.db.session() as s:
            counters = (await s.execute(select(func.count()).select_from(login_throttle))).scalar()
            clients = (await s.execute(select(func.count()).select_from(known_clients))).scalar()
        return int(counters or 0), int(clients or 0)

    assert await rows() == (7, 1)  # 3 pairs, the account, 3 addresses; the owner's client
    assert await identity.service.prune_sign_in_state() == 0  # all of it still counts
    identity.clock.advance(identity.settings.login_window_seconds + 1)
    assert await identity.service.prune_sign_in_state() == 7
    assert await rows() == (0, 1)
    identity.clock.advance(identity.settings.login_known_client_days * 86_400)
    assert await identity.service.prune_sign_in_state() == 1
    assert await rows() == (0, 0)
