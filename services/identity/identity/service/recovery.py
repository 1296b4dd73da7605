"""Recovery and proof of address: password reset by emailed link, password change,
email verification and its resend."""

from __future__ import annotations

import uuid
from datetime import datetime

from servicekit.db import UnitOfWork
from servicekit.vocabulary import BadUserInput, Principal

from identity.audit import AuditAction, AuditEntry
from identity.domain import RevokeReason, User
from identity.service.base import Client, UseCases
from identity.store import credentials, users
from identity.tokens import Purpose
from identity.values import normalize_email


class RecoveryCases(UseCases):
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
        await self._not_breached_online(new_password, field="newPassword")
        now = self.clock()
        async with self.db.uow() as uow:
            user = await self._redeem(uow, token, Purpose.RESET_PASSWORD, now)
            password = self._new_password(user, new_password)
            user.set_password_hash(await self.hasher.hash(password), now)
            user.verify_email(now)  # the link proved the address works
            await users.save(uow, user)
            reason = RevokeReason.PASSWORD_RESET
            ended = await credentials.revoke_user_sessions(uow, user.id, now=now, reason=reason)
            user.sessions_revoked(ended, now, reason)
            if user.email:
                await self._forget_sign_in_counters(uow, user.email)
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
        await self._not_breached_online(new_password, field="newPassword")
        now = self.clock()
        async with self.db.uow(actor=str(who.user_id)) as uow:
            user = await self._reauthenticate(
                uow, who, current_password, client, now, field="currentPassword"
            )
            password = self._new_password(user, new_password)
            user.set_password_hash(await self.hasher.hash(password), now)
            await users.save(uow, user)
            reason = RevokeReason.PASSWORD_CHANGED
            ended = await credentials.revoke_user_sessions(
                uow, user.id, now=now, reason=reason, keep=session_id
            )
            user.sessions_revoked(ended, now, reason)
            entry = AuditEntry(AuditAction.PASSWORD_CHANGED, user.id, who.user_id, ip=client.ip)
            await self._finish(uow, [entry], now)
        return True

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
