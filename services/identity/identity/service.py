"""Identity's use cases: one method per command or query, each command one unit of work.

Every command opens a unit of work, loads through the store, lets the domain decide, writes,
appends its audit entries and commits; the unit of work writes the events of the users it
tracked to the outbox in the same transaction. Emails are sent after the commit, off the
request path (see `mailer.py`). No SQL here: it lives in `store/` and `queries.py`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from servicekit.db import Database, UnitOfWork
from servicekit.vocabulary import (
    BadUserInput,
    NotFound,
    Principal,
    RateLimited,
    Role,
    Unauthenticated,
)

from identity.audit import AuditAction, AuditEntry
from identity.domain import ProfileChanges, User, normalize_email, require_account_manager
from identity.keys import KeyRing, new_key, publication_end
from identity.mailer import AccountMailer
from identity.passwords import PasswordHasher, PasswordPolicy
from identity.queries import IdentityQueries, UserPage
from identity.settings import Settings
from identity.store import audit_log, credentials, signing_keys, users
from identity.throttle import ThrottleLimits, ThrottleState
from identity.tokens import MAX_TOKEN_LENGTH, Purpose, access_token

log = logging.getLogger(__name__)

INVALID_CREDENTIALS = "invalid email or password"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Client:
    """Where a request comes from (for throttling and the audit log)."""

    ip: str | None = None


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


def throttle_key(kind: str, value: str) -> str:
    """Counter key; hashed so the table holds no email address or IP in clear."""
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


class IdentityService:
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
    ) -> None:
        self.db = db
        self.settings = settings
        self.queries = queries
        self.keys = keys
        self.hasher = hasher
        self.mail = mailer
        self.clock = clock
        self.policy = PasswordPolicy(
            settings.password_min_length, settings.password_max_length, settings.password_min_score
        )
        self.account_limits = ThrottleLimits(
            free_failures=settings.login_free_failures,
            max_failures=settings.login_max_failures_account,
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

    # -- helpers ----------------------------------------------------------------------------
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

    async def _live_user(self, uow: UnitOfWork, user_id: uuid.UUID) -> User:
        user = await users.lock(uow, user_id)
        if user is None or user.is_deleted:
            raise Unauthenticated("this account no longer exists")
        return user

    async def _new_user(self, data: Registration, *, by_operator: bool) -> User:
        """The account to add (its password checked and hashed, outside any transaction)."""
        email = normalize_email(data.email)
        password = self.policy.check(data.password, email=email, hints=(data.display_name,))
        return User.register(
            email=email,
            role=data.role,
            display_name=data.display_name,
            time_zone=data.time_zone,
            phone=data.phone,
            password_hash=await self.hasher.hash(password),
            now=self.clock(),
            by_operator=by_operator,
        )

    # -- accounts ---------------------------------------------------------------------------
    async def register(self, data: Registration, client: Client) -> AuthResult:
        """The account, its verification link and its first session in ONE transaction: a
        failure anywhere leaves no account behind, so trying again succeeds."""
        if data.role not in (Role.BUYER, Role.REALTOR):
            raise BadUserInput("role must be BUYER or REALTOR", field="role")
        user = await self._new_user(data, by_operator=False)
        assert user.email is not None
        now = self.clock()
        async with self.db.uow(actor=str(user.id)) as uow:
            await users.add(uow, user)
            verify = await credentials.issue_one_time(
                uow, user.id, Purpose.VERIFY_EMAIL, now=now, ttl=self.settings.verify_token_ttl
            )
            session_id, refresh = await credentials.open_session(
                uow, user.id, now=now, ttl=self.settings.refresh_token_ttl
            )
            entry = AuditEntry(
                AuditAction.REGISTERED, user.id, ip=client.ip, details={"role": user.role.value}
            )
            await self._finish(uow, [entry], now)
        self.mail.send_verification(user.email, user.display_name, verify)
        return await self._signed_in(user, session_id, refresh)

    async def create_admin(self, *, email: str, display_name: str, password: str) -> User:
        """Operator command: the only way an ADMIN account comes to exist. The operator
        vouches for the address, so it starts verified and no link is mailed."""
        data = Registration(email, password, display_name, Role.ADMIN, "UTC")
        user = await self._new_user(data, by_operator=True)
        now = self.clock()
        async with self.db.uow(actor=str(user.id)) as uow:
            user.verify_email(now)
            await users.add(uow, user)
            entry = AuditEntry(
                AuditAction.ADMIN_CREATED, user.id, details={"role": user.role.value}
            )
            await self._finish(uow, [entry], now)
        return user

    async def update_profile(self, who: Principal, changes: ProfileChanges) -> User:
        now = self.clock()
        async with self.db.uow(actor=str(who.user_id)) as uow:
            user = await self._live_user(uow, who.user_id)
            user.update_profile(changes, now)
            await users.save(uow, user)
            await uow.commit()
        return user

    async def set_role(self, admin: Principal, user_id: uuid.UUID, role: Role) -> User:
        now = self.clock()
        async with self.db.uow(actor=str(admin.user_id)) as uow:
            user = await self._target(uow, admin, user_id)
            before = user.role
            if user.set_role(role, now, by=admin):
                await users.save(uow, user)
                entry = AuditEntry(
                    AuditAction.ROLE_CHANGED,
                    user.id,
                    admin.user_id,
                    details={"from": before.value, "to": role.value},
                )
                await self._finish(uow, [entry], now)
        return user

    async def set_realtor_verified(
        self, admin: Principal, user_id: uuid.UUID, verified: bool
    ) -> User:
        now = self.clock()
        async with self.db.uow(actor=str(admin.user_id)) as uow:
            user = await self._target(uow, admin, user_id)
            if user.set_realtor_verified(verified, now, by=admin):
                await users.save(uow, user)
                entry = AuditEntry(
                    AuditAction.REALTOR_VERIFICATION_CHANGED,
                    user.id,
                    admin.user_id,
                    details={"verified": verified},
                )
                await self._finish(uow, [entry], now)
        return user

    async def _target(self, uow: UnitOfWork, admin: Principal, user_id: uuid.UUID) -> User:
        """The account an admin acts on; only an account manager learns whether it exists."""
        require_account_manager(admin)
        user = await users.lock(uow, user_id)
        if user is None or user.is_deleted:
            raise NotFound("no such user", id=str(user_id))
        return user

    # -- sign-in ----------------------------------------------------------------------------
    async def login(self, email: str, password: str, client: Client) -> AuthResult:
        """Check credentials under the brute-force limits; the same answer for unknown emails."""
        try:
            normalised = normalize_email(email)
        except BadUserInput:
            normalised = email.strip().lower()[:320]
        account_key = throttle_key("account", normalised)
        limit_ip = client.ip and self.settings.login_max_failures_ip > 0
        ip_key = throttle_key("ip", client.ip) if limit_ip and client.ip else None
        now = self.clock()
        async with self.db.uow() as uow:
            await users.lock_attempts(uow, account_key)
            keys = [account_key] + ([ip_key] if ip_key else [])
            states = await users.throttle_states(uow, keys)
            wait = max(
                states[account_key].wait_seconds(now, self.account_limits),
                states[ip_key].wait_seconds(now, self.ip_limits) if ip_key else 0.0,
            )
            if wait > 0:
                raise RateLimited(
                    "too many failed sign-in attempts; try again later",
                    retryAfterSeconds=math.ceil(wait),
                )
            user = await users.lock_by_email(uow, normalised)
            valid = len(password) <= 4 * self.settings.password_max_length
            stored = user.password_hash if user is not None and valid else None
            if not await self.hasher.verify(stored, password):
                await self._login_failed(uow, states, account_key, ip_key, user, client, now)
                raise Unauthenticated(INVALID_CREDENTIALS)
            assert user is not None and user.password_hash is not None
            await users.clear_throttle(uow, account_key)
            if self.hasher.needs_rehash(user.password_hash):
                user.set_password_hash(await self.hasher.hash(password), now)
                await users.save(uow, user)
            session_id, refresh = await credentials.open_session(
                uow, user.id, now=now, ttl=self.settings.refresh_token_ttl
            )
            entry = AuditEntry(AuditAction.LOGIN_SUCCEEDED, user.id, ip=client.ip)
            await self._finish(uow, [entry], now)
        return await self._signed_in(user, session_id, refresh)

    async def _login_failed(
        self,
        uow: UnitOfWork,
        states: dict[str, ThrottleState],
        account_key: str,
        ip_key: str | None,
        user: User | None,
        client: Client,
        now: datetime,
    ) -> None:
        user_id = user.id if user else None
        entries = [
            AuditEntry(
                AuditAction.LOGIN_FAILED,
                user_id,
                ip=client.ip,
                details={"known_account": user is not None},
            )
        ]
        account = states[account_key]
        if account.record_failure(now, self.account_limits):
            entries.append(AuditEntry(AuditAction.LOGIN_LOCKED, user_id, ip=client.ip))
        await users.save_throttle(uow, account)
        if ip_key:
            by_ip = states[ip_key]
            if by_ip.record_failure(now, self.ip_limits):
                entries.append(
                    AuditEntry(
                        AuditAction.LOGIN_LOCKED, None, ip=client.ip, details={"scope": "ip"}
                    )
                )
            await users.save_throttle(uow, by_ip)
        await self._finish(uow, entries, now)

    async def refresh(self, token: str, client: Client) -> AuthResult:
        """Spend a refresh token for a new pair; a spent token revokes its whole family."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated("invalid refresh token")
        now = self.clock()
        async with self.db.uow() as uow:
            presented = await credentials.find_refresh(uow, token)
            if presented is None or presented.session_revoked or presented.expires_at <= now:
                raise Unauthenticated("invalid refresh token")
            if presented.used:
                await credentials.revoke_session(
                    uow, presented.session_id, now=now, reason="refresh_token_reused"
                )
                entry = AuditEntry(
                    AuditAction.REFRESH_REUSED,
                    presented.user_id,
                    ip=client.ip,
                    details={"session": str(presented.session_id)},
                )
                await self._finish(uow, [entry], now)
                raise Unauthenticated("refresh token already used; this session has been revoked")
            user = await self._live_user(uow, presented.user_id)
            refresh = await credentials.rotate_refresh(
                uow, presented, now=now, ttl=self.settings.refresh_token_ttl
            )
            await uow.commit()
        return await self._signed_in(user, presented.session_id, refresh)

    async def logout(self, token: str) -> bool:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated("invalid refresh token")
        now = self.clock()
        async with self.db.uow() as uow:
            presented = await credentials.find_refresh(uow, token)
            if presented is None:
                raise Unauthenticated("invalid refresh token")
            await credentials.revoke_session(uow, presented.session_id, now=now, reason="logout")
            await uow.commit()
        return True

    # -- passwords --------------------------------------------------------------------------
    async def request_password_reset(self, email: str, client: Client) -> bool:
        """Always True at once: the lookup and the mail happen after the answer, identically
        whether the account exists or not, so neither content nor timing reveals it."""
        self.mail.run(self._send_reset(email, client))
        return True

    async def _send_reset(self, email: str, client: Client) -> None:
        try:
            normalised = normalize_email(email)
        except BadUserInput:
            return
        now = self.clock()
        async with self.db.uow() as uow:
            user = await users.lock_by_email(uow, normalised)
            if user is None or user.is_deleted:
                return
            last = await credentials.last_issued(uow, user.id, Purpose.RESET_PASSWORD)
            if last and (now - last).total_seconds() < self.settings.reset_mail_interval_seconds:
                return  # one mail per interval: the link already sent still works
            token = await credentials.issue_one_time(
                uow, user.id, Purpose.RESET_PASSWORD, now=now, ttl=self.settings.reset_token_ttl
            )
            entry = AuditEntry(AuditAction.PASSWORD_RESET_REQUESTED, user.id, ip=client.ip)
            await self._finish(uow, [entry], now)
        await self.mail.deliver_reset(normalised, user.display_name, token)

    async def _redeem(self, uow: UnitOfWork, token: str, purpose: Purpose, now: datetime) -> User:
        """Consume an emailed one-time token and lock its (live) account for the change."""
        user_id = await credentials.consume_one_time(uow, token, purpose, now=now)
        user = await users.lock(uow, user_id) if user_id else None
        if user is None or user.is_deleted:
            raise BadUserInput("invalid or expired token", field="token", reason="INVALID_TOKEN")
        return user

    def _new_password(self, user: User, password: str) -> str:
        return self.policy.check(
            password, email=user.email, hints=(user.display_name,), field="newPassword"
        )

    async def reset_password(self, token: str, new_password: str, client: Client) -> bool:
        """Set a new password from an emailed link; every session of the account is revoked."""
        self._check_token_shape(token, field="token")
        now = self.clock()
        async with self.db.uow() as uow:
            user = await self._redeem(uow, token, Purpose.RESET_PASSWORD, now)
            password = self._new_password(user, new_password)
            user.set_password_hash(await self.hasher.hash(password), now)
            user.verify_email(now)  # the link proved the address works
            await users.save(uow, user)
            await credentials.revoke_user_sessions(uow, user.id, now=now, reason="password_reset")
            if user.email:
                await users.clear_throttle(uow, throttle_key("account", user.email))
            await self._finish(
                uow, [AuditEntry(AuditAction.PASSWORD_RESET, user.id, ip=client.ip)], now
            )
        return True

    async def change_password(
        self,
        who: Principal,
        current_password: str,
        new_password: str,
        *,
        session_id: uuid.UUID | None,
        client: Client,
    ) -> bool:
        """Needs the current password; every other session of the account is revoked."""
        now = self.clock()
        async with self.db.uow(actor=str(who.user_id)) as uow:
            user = await self._reauthenticate(
                uow, who, current_password, client, now, field="currentPassword"
            )
            password = self._new_password(user, new_password)
            user.set_password_hash(await self.hasher.hash(password), now)
            await users.save(uow, user)
            await credentials.revoke_user_sessions(
                uow, user.id, now=now, reason="password_changed", keep=session_id
            )
            entry = AuditEntry(AuditAction.PASSWORD_CHANGED, user.id, who.user_id, ip=client.ip)
            await self._finish(uow, [entry], now)
        return True

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
        sign-in limits."""
        user = await self._live_user(uow, who.user_id)
        assert user.email is not None
        key = throttle_key("account", user.email)
        state = (await users.throttle_states(uow, [key]))[key]
        wait = state.wait_seconds(now, self.account_limits)
        if wait > 0:
            raise RateLimited(
                "too many failed password attempts; try again later",
                retryAfterSeconds=math.ceil(wait),
            )
        if not await self.hasher.verify(
            user.password_hash, password[: 4 * self.settings.password_max_length]
        ):
            locked = state.record_failure(now, self.account_limits)
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

    # -- email verification -----------------------------------------------------------------
    async def verify_email(self, token: str, client: Client) -> bool:
        self._check_token_shape(token, field="token")
        now = self.clock()
        async with self.db.uow() as uow:
            user = await self._redeem(uow, token, Purpose.VERIFY_EMAIL, now)
            entries: list[AuditEntry] = []
            if user.verify_email(now):
                await users.save(uow, user)
                entries.append(AuditEntry(AuditAction.EMAIL_VERIFIED, user.id, ip=client.ip))
            await self._finish(uow, entries, now)
        return True

    async def resend_verification(self, who: Principal) -> bool:
        """Send a new verification link (the previous one stops working); False if verified."""
        now = self.clock()
        async with self.db.uow(actor=str(who.user_id)) as uow:
            user = await self._live_user(uow, who.user_id)
            if user.email_verified or user.email is None:
                return False
            token = await credentials.issue_one_time(
                uow, user.id, Purpose.VERIFY_EMAIL, now=now, ttl=self.settings.verify_token_ttl
            )
            await uow.commit()
        self.mail.send_verification(user.email, user.display_name, token)
        return True

    # -- privacy ----------------------------------------------------------------------------
    async def delete_account(self, who: Principal, password: str, client: Client) -> bool:
        """Erase the account's personal data, keep a tombstone, revoke every session, and
        announce `identity.user.deleted` so other services erase what they hold."""
        now = self.clock()
        async with self.db.uow(actor=str(who.user_id)) as uow:
            user = await self._reauthenticate(uow, who, password, client, now, field="password")
            assert user.email is not None
            email_key = throttle_key("account", user.email)
            user.erase(now)
            await users.save(uow, user)
            await credentials.revoke_user_sessions(uow, user.id, now=now, reason="account_deleted")
            await credentials.forget_user_tokens(uow, user.id)
            await users.clear_throttle(uow, email_key)
            await self._finish(
                uow,
                [AuditEntry(AuditAction.ACCOUNT_DELETED, user.id, who.user_id, ip=client.ip)],
                now,
            )
        return True

    # -- queries ----------------------------------------------------------------------------
    async def search_users(
        self,
        who: Principal,
        *,
        role: Role | None,
        search: str | None,
        position: list[Any] | None,
        limit: int,
    ) -> UserPage:
        """The directory of accounts after the decoded cursor `position`: for account
        managers only (`domain.require_account_manager`)."""
        require_account_manager(who)
        found, total = await self.queries.search_users(
            role=role, search=search, position=position, limit=limit
        )
        return UserPage(found, total)

    async def jwks(self) -> dict[str, Any]:
        """The public keys access tokens verify with, as published now."""
        return await self.keys.jwks(self.clock())

    # -- signing keys -----------------------------------------------------------------------
    async def ensure_signing_key(self) -> None:
        """Create the first signing key when there is none (at start-up)."""
        now = self.clock()
        async with self.db.uow() as uow:
            await signing_keys.lock(uow)
            if await signing_keys.has_current(uow):
                return
            key = new_key(now, self.settings.signing_key_passphrase, activates_at=now)
            await signing_keys.add(uow, key)
            entry = AuditEntry(AuditAction.KEYS_ROTATED, details={"kid": key.kid, "first": True})
            await self._finish(uow, [entry], now)
        self.keys.invalidate()

    async def rotate_keys(self) -> tuple[str, list[str]]:
        """A new current key; the previous one keeps verifying until its tokens expire.
        Returns the new kid and the kids retired now."""
        now = self.clock()
        activates = now + timedelta(seconds=self.settings.key_cache_seconds)
        async with self.db.uow() as uow:
            await signing_keys.lock(uow)
            await signing_keys.supersede_current(uow, activates)
            retired = [
                kid
                for kid, superseded_at in await signing_keys.superseded(uow)
                if now
                >= publication_end(
                    superseded_at,
                    access_ttl=self.settings.access_token_ttl,
                    cache_seconds=self.settings.key_cache_seconds,
                )
            ]
            await signing_keys.retire(uow, retired, now)
            key = new_key(now, self.settings.signing_key_passphrase, activates_at=activates)
            await signing_keys.add(uow, key)
            entry = AuditEntry(
                AuditAction.KEYS_ROTATED, details={"kid": key.kid, "retired": ",".join(retired)}
            )
            await self._finish(uow, [entry], now)
        self.keys.invalidate()
        return key.kid, retired
