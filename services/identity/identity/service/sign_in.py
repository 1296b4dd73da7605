"""Signing in and out: credentials under the brute-force limits, refresh-token rotation
with reuse detection, logout."""

from __future__ import annotations

import math
from datetime import datetime

from servicekit.db import UnitOfWork
from servicekit.vocabulary import BadUserInput, RateLimited, Unauthenticated

from identity.audit import AuditAction, AuditEntry
from identity.domain import RevokeReason, User
from identity.service.base import AuthResult, Client, UseCases, throttle_key
from identity.store import credentials, users
from identity.throttle import ThrottleState
from identity.tokens import MAX_TOKEN_LENGTH
from identity.values import normalize_email

INVALID_CREDENTIALS = "invalid email or password"


class SignInCases(UseCases):
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
                await self._end_session(
                    uow, presented, now=now, reason=RevokeReason.REFRESH_TOKEN_REUSED
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
            await self._end_session(uow, presented, now=now, reason=RevokeReason.LOGOUT)
            await uow.commit()
        return True

    async def _end_session(
        self,
        uow: UnitOfWork,
        presented: credentials.PresentedRefresh,
        *,
        now: datetime,
        reason: RevokeReason,
    ) -> None:
        """Revoke the presented token's session and announce it, so its access tokens are
        refused everywhere within seconds rather than at their expiry."""
        ended = await credentials.revoke_session(uow, presented.session_id, now=now, reason=reason)
        user = await users.load(uow, presented.user_id)
        if user is not None:
            user.sessions_revoked(ended, now, reason)
