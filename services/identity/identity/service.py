"""Identity's use cases: one method per command or query, each one transaction.

Every command opens a unit of work, loads, lets the domain decide, writes rows, records
the outbox events and the audit entries, and commits; nothing else in the service writes.
Emails are sent after the commit, off the request path (see `mailer.py`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from servicekit.auth import Principal, Role
from servicekit.db import Database, UnitOfWork
from servicekit.errors import BadUserInput, Conflict, NotFound, RateLimited, Unauthenticated
from servicekit.pagination import decode_cursor
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from identity import audit, credentials, events, repository
from identity.audit import AuditAction, AuditEntry
from identity.domain import ProfileChanges, User, normalize_email
from identity.keys import KeyRing, new_key_row, publication_end
from identity.mailer import AccountMailer
from identity.passwords import PasswordHasher, PasswordPolicy
from identity.settings import Settings
from identity.tables import signing_keys
from identity.throttle import ThrottleLimits, ThrottleState
from identity.tokens import MAX_TOKEN_LENGTH, Purpose, access_token

log = logging.getLogger(__name__)

INVALID_CREDENTIALS = "invalid email or password"
KEY_CREATION_LOCK = 0x1D_0CE7  # advisory lock so replicas starting together create one key


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


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    limit: int
    total: int
    after: str | None


def throttle_key(kind: str, value: str) -> str:
    """Counter key; hashed so the table holds no email address or IP in clear."""
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


class IdentityService:
    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        keys: KeyRing,
        hasher: PasswordHasher,
        mailer: AccountMailer,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.settings = settings
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
        await audit.append(uow.session, entries, now)
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
        user = await repository.get_user(uow.session, user_id, for_update=True)
        if user is None or user.is_deleted:
            raise Unauthenticated("this account no longer exists")
        return user

    # -- accounts ---------------------------------------------------------------------------
    async def register(self, data: Registration, client: Client) -> AuthResult:
        if data.role not in (Role.BUYER, Role.REALTOR):
            raise BadUserInput("role must be BUYER or REALTOR", field="role")
        user, verify = await self._create_account(data, client, by_operator=False)
        assert user.email is not None and verify is not None
        now = self.clock()
        async with self.db.uow(actor=str(user.id)) as uow:
            session_id, refresh = await credentials.open_session(
                uow.session, user.id, now=now, ttl=self.settings.refresh_token_ttl
            )
            await uow.commit()
        self.mail.send_verification(user.email, user.display_name, verify)
        return await self._signed_in(user, session_id, refresh)

    async def create_admin(self, *, email: str, display_name: str, password: str) -> User:
        """Operator command: the only way an ADMIN account comes to exist. The operator
        vouches for the address, so it starts verified and no link is mailed."""
        data = Registration(email, password, display_name, Role.ADMIN, "UTC")
        user, _ = await self._create_account(data, Client(), by_operator=True)
        return user

    async def _create_account(
        self, data: Registration, client: Client, *, by_operator: bool
    ) -> tuple[User, str | None]:
        """Insert the account; returns it with its email-verification token (if any)."""
        email = normalize_email(data.email)
        password = self.policy.check(data.password, email=email, hints=(data.display_name,))
        now = self.clock()
        user = User.register(
            email=email,
            role=data.role,
            display_name=data.display_name,
            time_zone=data.time_zone,
            phone=data.phone,
            password_hash=await self.hasher.hash(password),
            now=now,
            by_operator=by_operator,
        )
        verify: str | None = None
        async with self.db.uow(actor=str(user.id)) as uow:
            if await repository.email_taken(uow.session, email):
                raise Conflict("an account with this email already exists", field="email")
            if by_operator:
                user.verify_email(now)
            await repository.insert_user(uow.session, user)
            if not by_operator:
                verify = await credentials.issue_one_time(
                    uow.session,
                    user.id,
                    Purpose.VERIFY_EMAIL,
                    now=now,
                    ttl=self.settings.verify_token_ttl,
                )
            events.emit_all(uow, user)
            action = AuditAction.ADMIN_CREATED if by_operator else AuditAction.REGISTERED
            entry = AuditEntry(action, user.id, ip=client.ip, details={"role": user.role.value})
            try:
                await self._finish(uow, [entry], now)
            except IntegrityError:  # registered concurrently with the same email
                raise Conflict("an account with this email already exists", field="email") from None
        return user, verify

    async def update_profile(self, who: Principal, changes: ProfileChanges) -> User:
        now = self.clock()
        async with self.db.uow(actor=str(who.user_id)) as uow:
            user = await self._live_user(uow, who.user_id)
            user.update_profile(changes, now)
            await repository.save_user(uow.session, user)
            events.emit_all(uow, user)
            await uow.commit()
        return user

    async def set_role(self, admin: Principal, user_id: uuid.UUID, role: Role) -> User:
        admin.require_role(Role.ADMIN)
        now = self.clock()
        async with self.db.uow(actor=str(admin.user_id)) as uow:
            user = await self._target(uow, user_id)
            before = user.role
            if user.set_role(role, now):
                await repository.save_user(uow.session, user)
                events.emit_all(uow, user)
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
        admin.require_role(Role.ADMIN)
        now = self.clock()
        async with self.db.uow(actor=str(admin.user_id)) as uow:
            user = await self._target(uow, user_id)
            if user.set_realtor_verified(verified, now):
                await repository.save_user(uow.session, user)
                events.emit_all(uow, user)
                entry = AuditEntry(
                    AuditAction.REALTOR_VERIFICATION_CHANGED,
                    user.id,
                    admin.user_id,
                    details={"verified": verified},
                )
                await self._finish(uow, [entry], now)
        return user

    async def _target(self, uow: UnitOfWork, user_id: uuid.UUID) -> User:
        user = await repository.get_user(uow.session, user_id, for_update=True)
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
            # One attempt per account at a time, so parallel guesses cannot outrun the counter.
            await uow.session.execute(
                select(func.pg_advisory_xact_lock(func.hashtextextended(account_key, 0)))
            )
            keys = [account_key] + ([ip_key] if ip_key else [])
            states = await repository.load_throttle(uow.session, keys)
            wait = max(
                states[account_key].wait_seconds(now, self.account_limits),
                states[ip_key].wait_seconds(now, self.ip_limits) if ip_key else 0.0,
            )
            if wait > 0:
                raise RateLimited(
                    "too many failed sign-in attempts; try again later",
                    retryAfterSeconds=math.ceil(wait),
                )
            user = await repository.get_user_by_email(uow.session, normalised, for_update=True)
            valid = len(password) <= 4 * self.settings.password_max_length
            stored = user.password_hash if user is not None and valid else None
            if not await self.hasher.verify(stored, password):
                await self._login_failed(uow, states, account_key, ip_key, user, client, now)
                raise Unauthenticated(INVALID_CREDENTIALS)
            assert user is not None and user.password_hash is not None
            await repository.clear_throttle(uow.session, account_key)
            if self.hasher.needs_rehash(user.password_hash):
                user.set_password_hash(await self.hasher.hash(password), now)
                await repository.save_user(uow.session, user)
            session_id, refresh = await credentials.open_session(
                uow.session, user.id, now=now, ttl=self.settings.refresh_token_ttl
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
        await repository.save_throttle(uow.session, account)
        if ip_key:
            by_ip = states[ip_key]
            if by_ip.record_failure(now, self.ip_limits):
                entries.append(
                    AuditEntry(
                        AuditAction.LOGIN_LOCKED, None, ip=client.ip, details={"scope": "ip"}
                    )
                )
            await repository.save_throttle(uow.session, by_ip)
        await self._finish(uow, entries, now)

    async def refresh(self, token: str, client: Client) -> AuthResult:
        """Spend a refresh token for a new pair; a spent token revokes its whole family."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated("invalid refresh token")
        now = self.clock()
        async with self.db.uow() as uow:
            presented = await credentials.find_refresh(uow.session, token)
            if presented is None or presented.session_revoked or presented.expires_at <= now:
                raise Unauthenticated("invalid refresh token")
            if presented.used:
                await credentials.revoke_session(
                    uow.session, presented.session_id, now=now, reason="refresh_token_reused"
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
                uow.session, presented, now=now, ttl=self.settings.refresh_token_ttl
            )
            await uow.commit()
        return await self._signed_in(user, presented.session_id, refresh)

    async def logout(self, token: str) -> bool:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated("invalid refresh token")
        now = self.clock()
        async with self.db.uow() as uow:
            presented = await credentials.find_refresh(uow.session, token)
            if presented is None:
                raise Unauthenticated("invalid refresh token")
            await credentials.revoke_session(
                uow.session, presented.session_id, now=now, reason="logout"
            )
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
            user = await repository.get_user_by_email(uow.session, normalised, for_update=True)
            if user is None or user.is_deleted:
                return
            last = await credentials.last_issued(uow.session, user.id, Purpose.RESET_PASSWORD)
            if last and (now - last).total_seconds() < self.settings.reset_mail_interval_seconds:
                return  # one mail per interval: the link already sent still works
            token = await credentials.issue_one_time(
                uow.session,
                user.id,
                Purpose.RESET_PASSWORD,
                now=now,
                ttl=self.settings.reset_token_ttl,
            )
            entry = AuditEntry(AuditAction.PASSWORD_RESET_REQUESTED, user.id, ip=client.ip)
            await self._finish(uow, [entry], now)
        await self.mail.deliver_reset(normalised, user.display_name, token)

    async def _redeem(self, uow: UnitOfWork, token: str, purpose: Purpose, now: datetime) -> User:
        """Consume an emailed one-time token and lock its (live) account for the change."""
        user_id = await credentials.consume_one_time(uow.session, token, purpose, now=now)
        user = await repository.get_user(uow.session, user_id, for_update=True) if user_id else None
        if user is None or user.is_deleted:
            raise BadUserInput("invalid or expired token", field="token", reason="INVALID_TOKEN")
        return user

    async def reset_password(self, token: str, new_password: str, client: Client) -> bool:
        """Set a new password from an emailed link; every session of the account is revoked."""
        self._check_token_shape(token, field="token")
        now = self.clock()
        async with self.db.uow() as uow:
            user = await self._redeem(uow, token, Purpose.RESET_PASSWORD, now)
            password = self.policy.check(new_password, email=user.email, hints=(user.display_name,))
            user.set_password_hash(await self.hasher.hash(password), now)
            user.verify_email(now)  # the link proved the address works
            await repository.save_user(uow.session, user)
            await credentials.revoke_user_sessions(
                uow.session, user.id, now=now, reason="password_reset"
            )
            if user.email:
                await repository.clear_throttle(uow.session, throttle_key("account", user.email))
            events.emit_all(uow, user)
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
            user = await self._reauthenticate(uow, who, current_password, client, now)
            password = self.policy.check(new_password, email=user.email, hints=(user.display_name,))
            user.set_password_hash(await self.hasher.hash(password), now)
            await repository.save_user(uow.session, user)
            await credentials.revoke_user_sessions(
                uow.session, user.id, now=now, reason="password_changed", keep=session_id
            )
            entry = AuditEntry(AuditAction.PASSWORD_CHANGED, user.id, who.user_id, ip=client.ip)
            await self._finish(uow, [entry], now)
        return True

    async def _reauthenticate(
        self, uow: UnitOfWork, who: Principal, password: str, client: Client, now: datetime
    ) -> User:
        """The caller's account, after checking its password under the sign-in limits."""
        user = await self._live_user(uow, who.user_id)
        assert user.email is not None
        key = throttle_key("account", user.email)
        state = (await repository.load_throttle(uow.session, [key]))[key]
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
            await repository.save_throttle(uow.session, state)
            entries = [
                AuditEntry(
                    AuditAction.LOGIN_FAILED, user.id, ip=client.ip, details={"reauth": True}
                )
            ]
            if locked:
                entries.append(AuditEntry(AuditAction.LOGIN_LOCKED, user.id, ip=client.ip))
            await self._finish(uow, entries, now)
            raise Unauthenticated("current password is incorrect", field="password")
        return user

    # -- email verification -----------------------------------------------------------------
    async def verify_email(self, token: str, client: Client) -> bool:
        self._check_token_shape(token, field="token")
        now = self.clock()
        async with self.db.uow() as uow:
            user = await self._redeem(uow, token, Purpose.VERIFY_EMAIL, now)
            if user.verify_email(now):
                await repository.save_user(uow.session, user)
                events.emit_all(uow, user)
                await self._finish(
                    uow, [AuditEntry(AuditAction.EMAIL_VERIFIED, user.id, ip=client.ip)], now
                )
            else:
                await uow.commit()
        return True

    async def resend_verification(self, who: Principal) -> bool:
        """Send a new verification link (the previous one stops working); False if verified."""
        now = self.clock()
        async with self.db.uow(actor=str(who.user_id)) as uow:
            user = await self._live_user(uow, who.user_id)
            if user.email_verified or user.email is None:
                return False
            token = await credentials.issue_one_time(
                uow.session,
                user.id,
                Purpose.VERIFY_EMAIL,
                now=now,
                ttl=self.settings.verify_token_ttl,
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
            user = await self._reauthenticate(uow, who, password, client, now)
            assert user.email is not None
            email_key = throttle_key("account", user.email)
            user.erase(now)
            await repository.save_user(uow.session, user)
            await credentials.revoke_user_sessions(
                uow.session, user.id, now=now, reason="account_deleted"
            )
            await credentials.forget_user_tokens(uow.session, user.id)
            await repository.clear_throttle(uow.session, email_key)
            events.emit_all(uow, user)
            await self._finish(
                uow,
                [AuditEntry(AuditAction.ACCOUNT_DELETED, user.id, who.user_id, ip=client.ip)],
                now,
            )
        return True

    # -- queries ----------------------------------------------------------------------------
    async def get_user(self, user_id: uuid.UUID) -> User | None:
        async with self.db.session() as session:
            return await repository.get_user(session, user_id)

    async def users_by_ids(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, User]:
        """One query for any number of ids (reference resolution, gRPC batch)."""
        async with self.db.session() as session:
            found = await repository.users_by_ids(session, ids)
        return {user.id: user for user in found}

    async def search_users(
        self,
        admin: Principal,
        *,
        role: Role | None,
        search: str | None,
        limit: int,
        after: str | None,
    ) -> UserPage:
        admin.require_role(Role.ADMIN)
        if search is not None and len(search) > 200:
            raise BadUserInput("search must be at most 200 characters", argument="search")
        position = decode_cursor(after)
        key: tuple[datetime, uuid.UUID] | None = None
        if position is not None:
            try:
                key = (datetime.fromisoformat(position[0]), uuid.UUID(position[1]))
            except (IndexError, TypeError, ValueError):
                raise BadUserInput("invalid cursor", argument="after") from None
        async with self.db.session() as session:
            found, total = await repository.search_users(
                session, role=role, search=(search or "").strip() or None, after=key, limit=limit
            )
        return UserPage(found, limit, total, after)

    @staticmethod
    def cursor_key(user: User) -> list[str]:
        return [user.created_at.isoformat(), str(user.id)]

    # -- signing keys -----------------------------------------------------------------------
    async def ensure_signing_key(self) -> None:
        """Create the first signing key when there is none (at start-up)."""
        now = self.clock()
        async with self.db.uow() as uow:
            await uow.session.execute(select(func.pg_advisory_xact_lock(KEY_CREATION_LOCK)))
            current = await uow.session.execute(
                select(signing_keys.c.kid).where(
                    signing_keys.c.superseded_at.is_(None), signing_keys.c.retired_at.is_(None)
                )
            )
            if current.first() is not None:
                return
            row = new_key_row(now, self.settings.signing_key_passphrase, activates_at=now)
            await uow.session.execute(signing_keys.insert().values(**row))
            entry = AuditEntry(AuditAction.KEYS_ROTATED, details={"kid": row["kid"], "first": True})
            await self._finish(uow, [entry], now)
        self.keys.invalidate()

    async def rotate_keys(self) -> tuple[str, list[str]]:
        """A new current key; the previous one keeps verifying until its tokens expire.
        Returns the new kid and the kids retired now."""
        now = self.clock()
        activates = now + timedelta(seconds=self.settings.key_cache_seconds)
        async with self.db.uow() as uow:
            await uow.session.execute(select(func.pg_advisory_xact_lock(KEY_CREATION_LOCK)))
            await uow.session.execute(
                update(signing_keys)
                .where(signing_keys.c.superseded_at.is_(None))
                .values(superseded_at=activates)
            )
            retired = [
                row.kid
                for row in (
                    await uow.session.execute(
                        select(signing_keys.c.kid, signing_keys.c.superseded_at).where(
                            signing_keys.c.retired_at.is_(None),
                            signing_keys.c.superseded_at.is_not(None),
                        )
                    )
                ).all()
                if now
                >= publication_end(
                    row.superseded_at,
                    access_ttl=self.settings.access_token_ttl,
                    cache_seconds=self.settings.key_cache_seconds,
                )
            ]
            if retired:
                await uow.session.execute(
                    update(signing_keys)
                    .where(signing_keys.c.kid.in_(retired))
                    .values(retired_at=now)
                )
            row = new_key_row(now, self.settings.signing_key_passphrase, activates_at=activates)
            await uow.session.execute(signing_keys.insert().values(**row))
            entry = AuditEntry(
                AuditAction.KEYS_ROTATED, details={"kid": row["kid"], "retired": ",".join(retired)}
            )
            await self._finish(uow, [entry], now)
        self.keys.invalidate()
        return str(row["kid"]), retired
