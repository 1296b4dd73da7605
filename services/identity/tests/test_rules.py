"""Domain rules alone: values, the account aggregate, throttling, passwords, the chain."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from identity import audit
from identity.domain import (
    InternalService,
    PrivateFields,
    ProfileChanges,
    RealtorProfileChanges,
    User,
    UserDeleted,
    UserEmailVerified,
    UserRegistered,
    UserUpdated,
    can_see_private_fields,
    require_visible,
)
from identity.passwords import Argon2Parameters, PasswordHasher, PasswordPolicy
from identity.settings import meets_owasp_minimum
from identity.throttle import ThrottleLimits, ThrottleState
from identity.values import normalize_email
from servicekit.vocabulary import BadUserInput, Forbidden, NotFound, Principal, Role

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def new_user(role: Role = Role.BUYER) -> User:
    return User.register(
        email="Ada@Example.com",
        role=role,
        display_name="Ada",
        time_zone="Europe/London",
        phone=None,
        password_hash="h",
        now=NOW,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"),
        ("user+tag@sub.example.org", "user+tag@sub.example.org"),
        ("jose@bücher.example", "jose@xn--bcher-kva.example"),
    ],
)
def test_emails_are_normalised(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "plain", "a@b", "a..b@example.com", "@example.com", "a@-x.com"]
)
def test_invalid_emails_are_refused(raw: str) -> None:
    with pytest.raises(BadUserInput):
        normalize_email(raw)


def test_registration_records_an_event_and_admins_are_not_self_service() -> None:
    user = new_user(Role.REALTOR)
    assert user.email == "ada@example.com" and user.realtor is not None
    assert [type(e) for e in user.events] == [UserRegistered]
    with pytest.raises(Forbidden):
        User.register(
            email="x@example.com",
            role=Role.ADMIN,
            display_name="X",
            time_zone="UTC",
            phone=None,
            password_hash="h",
            now=NOW,
        )


def test_profile_update_verification_and_erasure() -> None:
    user = new_user()
    user.events.clear()
    user.update_profile(ProfileChanges(display_name=" Ada  L ", phone="+44 20 7946 0958"), NOW)
    assert (user.display_name, user.phone) == ("Ada L", "+442079460958")
    assert user.verify_email(NOW) is True and user.verify_email(NOW) is False
    user.erase(NOW)
    assert user.email is None and user.phone is None and user.password_hash is None
    assert [type(e) for e in user.events] == [UserUpdated, UserEmailVerified, UserDeleted]
    with pytest.raises(Forbidden):
        user.update_profile(ProfileChanges(display_name="back"), NOW)


def test_private_fields_are_for_the_user_admins_and_the_services_that_mail_people() -> None:
    user = new_user()
    own = Principal(user.id, Role.BUYER)
    admin = Principal(uuid.uuid4(), Role.ADMIN)
    other = Principal(uuid.uuid4(), Role.REALTOR)
    notifier = InternalService("scheduling")
    for viewer in (own, admin, notifier):
        assert can_see_private_fields(user, viewer)
        assert user.private_fields(viewer) == PrivateFields(
            "ada@example.com", None, "Europe/London", False
        )
    for stranger in (other, None, InternalService("listings", reaches_people=False)):
        assert not can_see_private_fields(user, stranger)
        with pytest.raises(Forbidden):
            user.private_fields(stranger)
    user.erase(NOW)
    assert user.private_fields(own) is None and user.private_fields(notifier) is None
    with pytest.raises(NotFound):
        require_visible(user.private_fields(admin))
    with pytest.raises(Forbidden):  # erased or not, a stranger learns nothing more
        user.private_fields(other)


def test_only_admins_manage_roles_and_realtor_verification() -> None:
    realtor = new_user(Role.REALTOR)
    for who in (Principal(realtor.id, Role.REALTOR), Principal(uuid.uuid4(), Role.BUYER)):
        with pytest.raises(Forbidden):
            realtor.set_role(Role.BUYER, NOW, by=who)
        with pytest.raises(Forbidden):
            realtor.set_realtor_verified(True, NOW, by=who)
    admin = Principal(uuid.uuid4(), Role.ADMIN)
    assert realtor.set_realtor_verified(True, NOW, by=admin) is True
    assert realtor.set_role(Role.BUYER, NOW, by=admin) is True
    with pytest.raises(Forbidden):  # ADMIN is the operator's alone
        realtor.set_role(Role.ADMIN, NOW, by=admin)


def test_realtor_profile_errors_name_the_nested_field() -> None:
    realtor = new_user(Role.REALTOR)
    with pytest.raises(BadUserInput) as refused:
        realtor.update_profile(ProfileChanges(realtor=RealtorProfileChanges(bio="b" * 5000)), NOW)
    assert refused.value.field == "realtorProfile.bio"
    assert refused.value.message == "bio must be at most 4000 characters"


LIMITS = ThrottleLimits(
    free_failures=2,
    max_failures=5,
    delay_base=1.0,
    delay_max=3.0,
    lock_seconds=60,
    window_seconds=300,
)


def test_throttle_delays_grow_then_lock_then_forget() -> None:
    state = ThrottleState("k")
    t = NOW
    waits = []
    for _ in range(4):
        assert state.record_failure(t, LIMITS) is False
        waits.append(state.wait_seconds(t, LIMITS))
    assert waits == [0.0, 0.0, 1.0, 2.0]
    assert state.record_failure(t, LIMITS) is True
    assert state.locked(t) and state.wait_seconds(t, LIMITS) == 60.0
    later = t + timedelta(seconds=61)
    assert state.wait_seconds(later, LIMITS) == 0.0
    assert state.record_failure(later, LIMITS) is False and state.failures == 1
    quiet = later + timedelta(seconds=301)
    assert state.wait_seconds(quiet, LIMITS) == 0.0


def test_delay_is_capped() -> None:
    state = ThrottleState("k", failures=4, last_failure_at=NOW)
    big = ThrottleLimits(2, 50, 1.0, 3.0, 60, 300)
    state.failures = 20
    assert state.delay(big) == 3.0


@pytest.mark.parametrize(
    ("password", "email"),
    [
        ("short", None),
        ("passwordpassword", None),
        ("123456789012", None),
        ("ada.lovelace.forever", "ada.lovelace@example.com"),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            None,
        ),
    ],
)
def test_weak_passwords_are_refused(password: str, email: str | None) -> None:
    with pytest.raises(BadUserInput) as refused:
        PasswordPolicy().check(password, email=email)
    assert refused.value.details["reason"] == "WEAK_PASSWORD"


def test_a_long_passphrase_without_composition_rules_is_accepted() -> None:
    assert PasswordPolicy().check("violet tractor sings at dawn", email="ada@example.com")


async def test_hasher_verifies_and_tells_when_to_rehash() -> None:
    weak = PasswordHasher(Argon2Parameters(1024, 1, 1))
    stored = await weak.hash("violet tractor sings at dawn")
    assert stored.startswith("$argon2id$")
    assert await weak.verify(stored, "violet tractor sings at dawn")
    assert not await weak.verify(stored, "something else entirely")
    assert not await weak.verify(None, "anything")
    assert not weak.needs_rehash(stored)
    assert PasswordHasher(Argon2Parameters(2048, 2, 1)).needs_rehash(stored)


def test_owasp_floor() -> None:
    assert meets_owasp_minimum(19456, 2) and meets_owasp_minimum(47104, 1)
    assert not meets_owasp_minimum(19456, 1) and not meets_owasp_minimum(1024, 1)


def test_production_refuses_weak_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    from identity.settings import Settings
    from pydantic import ValidationError

    monkeypatch.setenv("REALTY_ENV", "production")
    monkeypatch.setenv("IDENTITY_ARGON2_MEMORY_COST", "1024")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.delenv("IDENTITY_ARGON2_MEMORY_COST")
    assert Settings().argon2_memory_cost == 19456


def test_chain_hash_depends_on_previous_hash_and_content() -> None:
    row = {
        "seq": 1,
        "id": uuid.uuid4(),
        "occurred_at": NOW,
        "action": "login.failed",
        "user_id": None,
        "actor_id": None,
        "ip": "127.0.0.1",
        "details": {"b": 1, "a": True},
    }
    content = audit.canonical(**row)  # type: ignore[arg-type]
    assert b'"details":{"a":true,"b":1}' in content
    first = audit.chain_hash(audit.GENESIS, content)
    assert first != audit.chain_hash(b"\x01" * 32, content)
    assert first != audit.chain_hash(audit.GENESIS, audit.canonical(**{**row, "ip": "10.0.0.1"}))  # type: ignore[arg-type]


def test_the_domain_loads_no_infrastructure() -> None:
    """`import identity.domain` in a fresh interpreter loads no database, transport, token
    or settings library (what `.importlinter` checks statically, observed at run time)."""
    import subprocess
    import sys

    script = (
        "import sys, identity.domain; "
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = set(
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        .stdout.strip()
        .split(",")
    )
    infrastructure = {
        "sqlalchemy", "psycopg", "grpc", "google", "realty", "httpx", "jwt", "alembic",
        "strawberry", "starlette", "pydantic", "nats",
    }  # fmt: skip
    assert loaded & infrastructure == set()
    assert "servicekit" in loaded  # the vocabulary, and only it
