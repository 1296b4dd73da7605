"""What every use case of identity shares: its collaborators and settings, the request
values (`Client`, `Registration`, `AuthResult`) and the steps several use cases take
(finishing with the audit log, issuing the token pair, re-checking a password)."""

from __future__ import annotations

import hashlib
import math
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from servicekit.db import Database, UnitOfWork
from servicekit.vocabulary import BadUserInput, Principal, RateLimited, Role, Unauthenticated

from identity.audit import AuditAction, AuditEntry
from identity.breached import RangeApi
from identity.domain import User, require_live_account
from identity.keys import KeyRing
from identity.mailer import AccountMailer
from identity.passwords import PasswordHasher, PasswordPolicy, breached_password
from identity.queries import IdentityQueries
from identity.settings import Settings
from identity.store import audit_log, users
from identity.throttle import ThrottleLimits
from identity.tokens import MAX_TOKEN_LENGTH, access_token


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Client:
    """Where a request comes from (for throttling and the audit log): the address, and the
    device identifier the app sends when it has one."""

    ip: str | None = None
    device: str | None = None

    @property
    def identity(self) -> str:
        """What tells this client apart in the (account, client) sign-in counter. The device
        part is the client's own say, so changing it buys a fresh counter, but never past
        the account-wide delay that every client not known to the account waits."""
        return f"{self.ip or ''}\n{self.device or ''}"


@dataclass(frozen=True)
class Registration:
    email: str
    password: str
    display_name: str
    role: Role
    time_zone: str
    phone: str | None = None


@dataclass(frozen=True)
class AuthResult:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def throttle_key(kind: str, value: str) -> str:
    """Counter key; hashed so the table holds no email address or IP in clear."""
    return f"{kind}:{_digest(value)}"


def client_prefix(email: str) -> str:
    """What the keys of every (account, client) pair of `email` start with."""
    return f"pair:{_digest(email)}:"


def client_key(email: str, client: Client) -> str:
    """The key of one (account, client) pair, hashed like the others."""
    return client_prefix(email) + _digest(client.identity)


class UseCases:
    """The collaborators every group of use cases works with (one instance serves all)."""

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        queries: IdentityQueries,
        keys: KeyRing,
        hasher: PasswordHasher,
        mailer: AccountMailer,
        clock: Callable[[], datetime] = utcnow,
        range_api: RangeApi | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.queries = queries
        self.keys = keys
        self.hasher = hasher
        self.mail = mailer
        self.clock = clock
        self.range_api = range_api
        self.policy = PasswordPolicy(
            settings.password_min_length, settings.password_max_length, settings.password_min_score
        )
        self.client_limits = ThrottleLimits(
            free_failures=settings.login_free_failures,
            max_failures=settings.login_max_failures_client,
            delay_base=settings.login_delay_base_seconds,
            delay_max=settings.login_delay_max_seconds,
            lock_seconds=settings.login_lock_seconds,
            window_seconds=settings.login_window_seconds,
        )
        self.account_limits = ThrottleLimits(
            free_failures=settings.login_free_failures_account,
            max_failures=None,
            delay_base=settings.login_delay_base_seconds,
            delay_max=settings.login_delay_max_seconds,
            lock_seconds=settings.login_lock_seconds,
            window_seconds=settings.login_window_seconds,
        )
        self.ip_limits = ThrottleLimits(
            free_failures=settings.login_free_failures_ip,
            max_failures=settings.login_max_failures_ip,
            delay_base=settings.login_delay_base_seconds,
            delay_max=settings.login_delay_max_seconds,
            lock_seconds=settings.login_lock_seconds,
            window_seconds=settings.login_window_seconds,
        )

    async def _finish(self, uow: UnitOfWork, entries: Sequence[AuditEntry], now: datetime) -> None:
        """Audit last (it serialises writers on the chain), then commit."""
        await audit_log.append(uow, entries, now)
        await uow.commit()

    async def _signed_in(self, user: User, session_id: uuid.UUID, refresh: str) -> AuthResult:
        ttl = self.settings.access_token_ttl
        token = access_token(
            await self.keys.current(self.clock()),
            user_id=user.id,
            role=user.role,
            session_id=session_id,
            issuer=self.settings.infra.jwt_issuer,
            audience=self.settings.infra.jwt_audience,
            ttl=ttl,
            now=self.clock(),
        )
        return AuthResult(token, refresh, ttl, user)

    def _check_token_shape(self, token: str, *, field: str) -> None:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise BadUserInput("invalid or expired token", field=field, reason="INVALID_TOKEN")

    async def _not_breached_online(self, password: str, *, field: str) -> None:
        """BAD_USER_INPUT on `field` when the range API (if configured) has seen the
        password in a breach. Asked before any transaction opens, so no lock waits on the
        network; a password the policy refuses anyway (by its length) is not sent at all."""
        if self.range_api is None:
            return
        value = unicodedata.normalize("NFKC", password)
        if not self.policy.min_length <= len(value) <= self.policy.max_length:
            return
        if await self.range_api.times_seen(value):
            raise breached_password(field)

    async def _forget_sign_in_counters(self, uow: UnitOfWork, email: str) -> None:
        """The account's own counters: the account-wide one and every client pair's."""
        await users.clear_throttle(uow, throttle_key("account", email))
        await users.clear_throttle_prefix(uow, client_prefix(email))

    async def _live_user(self, uow: UnitOfWork, user_id: uuid.UUID) -> User:
        return require_live_account(await users.lock(uow, user_id))

    async def _reauthenticate(
        self,
        uow: UnitOfWork,
        who: Principal,
        password: str,
        client: Client,
        now: datetime,
        *,
        field: str,
    ) -> User:
        """The caller's account, after checking its password (the input `field`) under the
        limits of the (account, client) pair: whoever holds a token cannot guess on, and
        cannot lock the owner's other clients out either."""
        user = await self._live_user(uow, who.user_id)
        assert user.email is not None
        key = client_key(user.email, client)
        state = (await users.throttle_states(uow, [key]))[key]
        wait = state.wait_seconds(now, self.client_limits)
        if wait > 0:
            raise RateLimited(
                "too many failed password attempts; try again later",
                retryAfterSeconds=math.ceil(wait),
            )
        if not await self.hasher.verify(
            user.password_hash, password[: 4 * self.settings.password_max_length]
        ):
            locked = state.record_failure(now, self.client_limits)
            await users.save_throttle(uow, state)
            entries = [
                AuditEntry(
                    AuditAction.LOGIN_FAILED, user.id, ip=client.ip, details={"reauth": True}
                )
            ]
            if locked:
                entries.append(AuditEntry(AuditAction.LOGIN_LOCKED, user.id, ip=client.ip))
            await self._finish(uow, entries, now)
            raise Unauthenticated("current password is incorrect", field=field)
        return user
