"""Accounts: registration, the operator's admin accounts, profile changes, what admins
manage (roles, realtor verification, the directory) and erasure."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from servicekit.db import UnitOfWork
from servicekit.vocabulary import BadUserInput, NotFound, Principal, Role

from identity.audit import AuditAction, AuditEntry
from identity.domain import ProfileChanges, RevokeReason, User, require_account_manager
from identity.queries import UserPage
from identity.service.base import AuthResult, Client, Registration, UseCases
from identity.store import credentials, users
from identity.tokens import Purpose
from identity.values import normalize_email

# Seconds past the access-token lifetime before an erasure is confirmed: more than any
# verifier's leeway plus the clock skew between hosts.
ERASURE_CONFIRM_MARGIN = 60


class AccountCases(UseCases):
    async def _new_user(self, data: Registration, *, by_operator: bool) -> User:
        """The account to add (its password checked and hashed, outside any transaction)."""
        email = normalize_email(data.email)
        password = self.policy.check(data.password, email=email, hints=(data.display_name,))
        await self._not_breached_online(password, field="password")
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
            raise NotFound("no such user", field="userId")
        return user

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

    async def delete_account(self, who: Principal, password: str, client: Client) -> bool:
        """Erase the account's personal data, keep a tombstone, revoke every session, and
        announce `identity.user.deleted` so other services erase what they hold."""
        now = self.clock()
        async with self.db.uow(actor=str(who.user_id)) as uow:
            user = await self._reauthenticate(uow, who, password, client, now, field="password")
            assert user.email is not None
            email = user.email
            user.erase(now)
            await users.save(uow, user)
            await credentials.revoke_user_sessions(
                uow, user.id, now=now, reason=RevokeReason.ACCOUNT_DELETED
            )
            await credentials.forget_user_tokens(uow, user.id)
            await self._forget_sign_in_counters(uow, email)
            await users.forget_clients(uow, user.id)
            await self._finish(
                uow,
                [AuditEntry(AuditAction.ACCOUNT_DELETED, user.id, who.user_id, ip=client.ip)],
                now,
            )
        return True

    async def confirm_erasures(self, limit: int = 100) -> int:
        """Announce again the erasures whose every access token has expired (see
        `User.confirm_erasure`); returns how many. The margin covers the verifiers' leeway
        and clock skew."""
        now = self.clock()
        horizon = timedelta(seconds=self.settings.access_token_ttl + ERASURE_CONFIRM_MARGIN)
        async with self.db.uow() as uow:
            due = await users.claim_unconfirmed_erasures(
                uow, deleted_before=now - horizon, limit=limit
            )
            confirmed = [user for user in due if user.confirm_erasure(now)]
            for user in confirmed:
                await users.save(uow, user)
            await uow.commit()
        return len(confirmed)
