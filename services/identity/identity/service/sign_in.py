"""Signing in and out: credentials under the brute-force limits, refresh-token rotation
with reuse detection, logout."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from servicekit import values
from servicekit.db import UnitOfWork
from servicekit.vocabulary import BadUserInput, RateLimited, Unauthenticated

from identity.audit import AuditAction, AuditEntry
from identity.domain import RevokeReason, User
from identity.service.base import AuthResult, Client, UseCases, client_key, throttle_key
from identity.store import credentials, users
from identity.throttle import ThrottleLimits, ThrottleState
from identity.tokens import MAX_TOKEN_LENGTH
from identity.values import EMAIL_MAX, normalize_email

INVALID_CREDENTIALS = "invalid email or password"


@dataclass(frozen=True)
class Counter:
    """One key a sign-in failure counts against, with its limits."""

    scope: str  # "client" (the account, client pair), "account" or "ip"
    state: ThrottleState
    limits: ThrottleLimits


class SignInCases(UseCases):
    async def login(self, email: str, password: str, client: Client) -> AuthResult:
        """Check credentials under the brute-force limits; the same answer for unknown emails.

        Failures count against three keys: the (account, client) pair, which delays and then
        locks only this client for this account; the account from every client, which only
        delays, and not the clients that signed in to it before (a stranger's guesses never
        keep the owner out); and this client's address across accounts."""
        # Text no account can have (a NUL byte, control characters) is refused as input;
        # that says nothing about which accounts exist.
        values.text(email, "email", max_length=EMAIL_MAX, multiline=False)
        try:
            normalised = normalize_email(email)
        except BadUserInput:
            normalised = email.strip().lower()[:EMAIL_MAX]
        pair_key = client_key(normalised, client)
        account_key = throttle_key("account", normalised)
        limit_ip = client.ip and self.settings.login_max_failures_ip > 0
        ip_key = throttle_key("ip", client.ip) if limit_ip and client.ip else None
        async with self.hasher.admission:
            return await self._login(normalised, password, client, pair_key, account_key, ip_key)

    async def _login(
        self,
        normalised: str,
        password: str,
        client: Client,
        pair_key: str,
        account_key: str,
        ip_key: str | None,
    ) -> AuthResult:
        now = self.clock()
        async with self.db.uow() as uow:
            await users.lock_attempts(uow, account_key)
            keys = [pair_key, account_key] + ([ip_key] if ip_key else [])
            states = await users.throttle_states(uow, keys)
            counters = [
                Counter("client", states[pair_key], self.client_limits),
                Counter("account", states[account_key], self.account_limits),
            ]
            if ip_key:
                counters.append(Counter("ip", states[ip_key], self.ip_limits))
            known_since = now - timedelta(days=self.settings.login_known_client_days)
            known = await users.is_known_client(uow, pair_key, since=known_since)
            wait = max(
                c.state.wait_seconds(now, c.limits)
                for c in counters
                if not (known and c.scope == "account")  # the owner's usual client
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
                await self._login_failed(uow, counters, user, client, now)
                raise Unauthenticated(INVALID_CREDENTIALS)
            assert user is not None and user.password_hash is not None
            # The account-wide count stays: the owner signing in does not end an attack
            # spread over other clients (it fades after a quiet window).
            await users.clear_throttle(uow, pair_key)
            await users.remember_client(uow, pair_key, user.id, now)
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
        counters: list[Counter],
        user: User | None,
        client: Client,
        now: datetime,
    ) -> None:
        """Count the failure on every counter; audit it, and any lock it causes."""
        user_id = user.id if user else None
        entries = [
            AuditEntry(
                AuditAction.LOGIN_FAILED,
                user_id,
                ip=client.ip,
                details={"known_account": user is not None},
            )
        ]
        for counter in counters:
            if counter.state.record_failure(now, counter.limits):
                locked_user = None if counter.scope == "ip" else user_id
                entries.append(
                    AuditEntry(
                        AuditAction.LOGIN_LOCKED,
                        locked_user,
                        ip=client.ip,
                        details={"scope": counter.scope},
                    )
                )
            await users.save_throttle(uow, counter.state)
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

    async def prune_sign_in_state(self) -> int:
        """Forget counters past their quiet window (they would count from zero anyway) and
        clients not seen within `LOGIN_KNOWN_CLIENT_DAYS` (no longer spared): the tables
        stay as large as the recent traffic, whatever an attacker spreads over addresses."""
        now = self.clock()
        async with self.db.uow() as uow:
            pruned = await users.prune_sign_in_state(
                uow,
                failures_before=now - timedelta(seconds=self.settings.login_window_seconds),
                clients_before=now - timedelta(days=self.settings.login_known_client_days),
                now=now,
            )
            await uow.commit()
        return pruned
