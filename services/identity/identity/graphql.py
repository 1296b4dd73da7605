# mypy: disable-error-code="untyped-decorator"
"""Identity's subgraph: the `User` entity, sign-in and account operations. Thin by design:
parse the input, call `IdentityService` or `IdentityQueries`, shape the answer.

Who sees the private fields of a `User` (`email`, `phone`, `timeZone`, `emailVerified`) is
the domain's rule (`domain.can_see_private_fields`); here a refused field fails with
FORBIDDEN rather than answering null, so a client learns at once that it asked for
something private instead of mistaking it for missing data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import strawberry
from servicekit.auth import bearer_token
from servicekit.graphql import Context, SubgraphSchema, references_by_id
from servicekit.pagination import Connection, build_connection, decode_cursor, page_size
from servicekit.vocabulary import Principal, ServiceError, parse_id
from servicekit.vocabulary import Role as AuthRole
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from identity import domain
from identity.queries import IdentityQueries, cursor_key
from identity.service import AuthResult, Client, IdentityService, Registration
from identity.tokens import session_id_of


@dataclass(frozen=True)
class Services:
    """What resolvers reach through `info.context.services` (built by `app.assemble`)."""

    identity: IdentityService
    queries: IdentityQueries


Role = strawberry.enum(AuthRole, description="What a user is on the platform.")
GqlInfo = Info[Context, None]


def _services(info: GqlInfo) -> Services:
    services: Services = info.context.services
    return services


def _service(info: GqlInfo) -> IdentityService:
    return _services(info).identity


@contextmanager
def fields_under(argument: str) -> Iterator[None]:
    """Errors naming a field of an input object name it by its path in the operation
    (`displayName` of `input` is `input.displayName`)."""
    try:
        yield
    except ServiceError as error:
        if error.field is not None:
            error.field = f"{argument}.{error.field}"
        raise


DEVICE_HEADER = "x-device-id"
DEVICE_COOKIE = "device_id"
DEVICE_MAX = 128


def client_of(info: GqlInfo) -> Client:
    """The client: its address (first hop of `X-Forwarded-For` when present, else the peer)
    and the device identifier the app keeps (`X-Device-Id`, or the `device_id` cookie), so
    that sign-in limits tell apart two people behind one address."""
    request = info.context.request
    device = request.headers.get(DEVICE_HEADER) or request.cookies.get(DEVICE_COOKIE)
    device = (device.strip()[:DEVICE_MAX] or None) if device else None
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        first = forwarded.split(",", 1)[0].strip()
        if first:
            return Client(ip=first[:64], device=device)
    return Client(ip=request.client.host if request.client else None, device=device)


def _users_loader(queries: IdentityQueries) -> DataLoader[uuid.UUID, domain.User | None]:
    async def load(ids: list[uuid.UUID]) -> list[domain.User | None]:
        found = await queries.users_by_ids(ids)
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


def users_loader(info: GqlInfo) -> DataLoader[uuid.UUID, domain.User | None]:
    return info.context.loader("identity.users", lambda: _users_loader(_services(info).queries))


@strawberry.type(description="A realtor's professional details, public to everyone.")
class RealtorProfile:
    license_number: str | None = strawberry.field(description="Real-estate licence number.")
    brokerage: str | None = strawberry.field(description="The brokerage the realtor works for.")
    bio: str | None = strawberry.field(description="A short presentation written by the realtor.")
    verified: bool = strawberry.field(description="True once an admin has checked the licence.")


@strawberry.federation.type(keys=["id"], description="A person with an account.")
class User:
    id: strawberry.ID = strawberry.field(description="Stable identifier of the account.")
    account: strawberry.Private[domain.User]
    # Who looks, when not the request's caller: the account itself answering its own
    # sign-in (the caller has no token yet).
    viewer: strawberry.Private[Principal | None] = None

    @classmethod
    def of(cls, user: domain.User, *, viewer: Principal | None = None) -> User:
        """The public fields are copied as plain attributes: read by the default resolver,
        they cost no Python resolver call each (an `_entities` batch reads many)."""
        r = user.realtor
        return cls(
            id=strawberry.ID(str(user.id)),
            account=user,
            viewer=viewer,
            role=user.role,
            display_name=user.display_name,
            avatar_url=user.avatar_url,
            realtor_profile=None
            if r is None
            else RealtorProfile(
                license_number=r.license_number,
                brokerage=r.brokerage,
                bio=r.bio,
                verified=r.verified,
            ),
            created_at=user.created_at,
        )

    @classmethod
    async def resolve_reference(cls, info: GqlInfo, id: strawberry.ID) -> User | None:
        """Batched: every reference of one `_entities` call costs a single query together."""
        try:
            key = uuid.UUID(str(id))
        except ValueError:
            return None
        user = await users_loader(info).load(key)
        return cls.of(user) if user else None

    @classmethod
    async def resolve_references(
        cls, info: GqlInfo, references: list[dict[str, strawberry.ID]]
    ) -> list[User | Exception | None]:
        """Every reference of one `_entities` call at once (servicekit calls this instead of
        `resolve_reference` per item): the users' one query, no coroutine or task per item."""
        return await references_by_id(references, _services(info).queries.users_by_ids, cls.of)

    async def _private(self, info: GqlInfo) -> domain.PrivateFields:
        viewer = self.viewer or await info.context.principal()
        return domain.require_visible(self.account.private_fields(viewer))

    @strawberry.field(description="Sign-in and contact address (self or admin only).")
    async def email(self, info: GqlInfo) -> str:
        return (await self._private(info)).email

    role: Role = strawberry.field(  # type: ignore[valid-type]
        description="What the user is on the platform."
    )
    display_name: str = strawberry.field(description="Name shown to other users.")

    @strawberry.field(description="Phone number in E.164 form (self or admin only).")
    async def phone(self, info: GqlInfo) -> str | None:
        return (await self._private(info)).phone

    avatar_url: str | None = strawberry.field(description="URL of the user's picture.")

    @strawberry.field(description="The user's IANA time zone, e.g. Europe/Paris (self or admin).")
    async def time_zone(self, info: GqlInfo) -> str:
        return (await self._private(info)).time_zone

    @strawberry.field(description="True once the user opened the emailed link (self or admin).")
    async def email_verified(self, info: GqlInfo) -> bool:
        return (await self._private(info)).email_verified

    realtor_profile: RealtorProfile | None = strawberry.field(
        description="Professional details; present for realtors only."
    )
    created_at: datetime = strawberry.field(description="When the account was created.")


@strawberry.type(description="The result of signing in: tokens and the signed-in user.")
class AuthPayload:
    access_token: str = strawberry.field(
        description="JWT for `Authorization: Bearer`, valid `expiresIn` seconds."
    )
    refresh_token: str = strawberry.field(
        description="Opaque, single-use token for `refreshToken`; keep it secret."
    )
    expires_in: int = strawberry.field(description="Lifetime of the access token in seconds.")
    user: User = strawberry.field(description="The signed-in user.")


@strawberry.input(description="A new account.")
class RegisterInput:
    email: str = strawberry.field(description="Sign-in address (case-insensitive, unique).")
    password: str = strawberry.field(description="At least 12 characters, not a common password.")
    display_name: str = strawberry.field(description="Name shown to other users.")
    role: Role = strawberry.field(description="BUYER or REALTOR.")  # type: ignore[valid-type]
    time_zone: str = strawberry.field(description="IANA time zone, e.g. America/New_York.")
    phone: str | None = strawberry.field(default=None, description="E.164 phone number.")


@strawberry.input(description="Changes to a realtor profile; omitted fields stay as they are.")
class RealtorProfileInput:
    license_number: str | None = strawberry.field(default=None, description="Licence number.")
    brokerage: str | None = strawberry.field(default=None, description="Brokerage name.")
    bio: str | None = strawberry.field(default=None, description="Short presentation.")


@strawberry.input(description="Profile changes; omitted fields stay, empty strings clear.")
class UpdateProfileInput:
    display_name: str | None = strawberry.field(default=None, description="Name shown to others.")
    phone: str | None = strawberry.field(default=None, description="E.164 phone number.")
    avatar_url: str | None = strawberry.field(default=None, description="http(s) picture URL.")
    time_zone: str | None = strawberry.field(default=None, description="IANA time zone.")
    realtor_profile: RealtorProfileInput | None = strawberry.field(
        default=None, description="Realtor details (realtors only)."
    )


def _payload(result: AuthResult) -> AuthPayload:
    return AuthPayload(
        access_token=result.access_token,
        refresh_token=result.refresh_token,
        expires_in=result.expires_in,
        user=User.of(result.user, viewer=Principal(result.user.id, result.user.role)),
    )


async def _me(info: GqlInfo) -> Principal:
    return await info.context.user()


@strawberry.type(description="Reading accounts.")
class Query:
    @strawberry.field(description="The signed-in user; null when anonymous.")
    async def me(self, info: GqlInfo) -> User | None:
        who = await info.context.principal()
        if who is None:
            return None
        user = await users_loader(info).load(who.user_id)
        return User.of(domain.require_live_account(user))

    @strawberry.field(description="A user by id (public fields only unless self or admin).")
    async def user(self, info: GqlInfo, id: strawberry.ID) -> User | None:
        user = await users_loader(info).load(parse_id(id))
        return User.of(user) if user else None

    @strawberry.field(description="Accounts, oldest first, filtered by role and text (ADMIN).")
    async def users(
        self,
        info: GqlInfo,
        role: Annotated[Role | None, strawberry.argument(description="Only this role.")] = None,  # type: ignore[valid-type]
        search: Annotated[
            str | None, strawberry.argument(description="Part of the email or display name.")
        ] = None,
        first: Annotated[
            int | None, strawberry.argument(description="Page size (max 100).")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="Cursor of the item to start after.")
        ] = None,
    ) -> Connection[User]:
        who = await info.context.user()
        limit = page_size(first)
        page = await _service(info).search_users(
            who, role=role, search=search, position=decode_cursor(after), limit=limit
        )
        return build_connection(
            page.users,
            limit=limit,
            key=cursor_key,
            node=User.of,
            after=after,
            total_count=page.total,
        )


@strawberry.type(description="Changing accounts and sessions.")
class Mutation:
    @strawberry.mutation(description="Create a BUYER or REALTOR account and sign in.")
    async def register(self, info: GqlInfo, input: RegisterInput) -> AuthPayload:
        data = Registration(
            email=input.email,
            password=input.password,
            display_name=input.display_name,
            role=input.role,
            time_zone=input.time_zone,
            phone=input.phone,
        )
        with fields_under("input"):
            return _payload(await _service(info).register(data, client_of(info)))

    @strawberry.mutation(description="Sign in with email and password.")
    async def login(self, info: GqlInfo, email: str, password: str) -> AuthPayload:
        return _payload(await _service(info).login(email, password, client_of(info)))

    @strawberry.mutation(description="New tokens for a refresh token; each one works once.")
    async def refresh_token(self, info: GqlInfo, refresh_token: str) -> AuthPayload:
        return _payload(await _service(info).refresh(refresh_token, client_of(info)))

    @strawberry.mutation(description="End the session the refresh token belongs to.")
    async def logout(self, info: GqlInfo, refresh_token: str) -> bool:
        return await _service(info).logout(refresh_token)

    @strawberry.mutation(description="Email a reset link if the account exists; always true.")
    async def request_password_reset(self, info: GqlInfo, email: str) -> bool:
        return await _service(info).request_password_reset(email, client_of(info))

    @strawberry.mutation(
        description="Set a new password with the emailed token; ends all sessions."
    )
    async def reset_password(self, info: GqlInfo, token: str, new_password: str) -> bool:
        return await _service(info).reset_password(token, new_password, client_of(info))

    @strawberry.mutation(description="Confirm the email address with the emailed token.")
    async def verify_email(self, info: GqlInfo, token: str) -> bool:
        return await _service(info).verify_email(token, client_of(info))

    @strawberry.mutation(description="Email a new verification link; false when already verified.")
    async def resend_verification_email(self, info: GqlInfo) -> bool:
        return await _service(info).resend_verification(await _me(info))

    @strawberry.mutation(description="Change the signed-in user's profile.")
    async def update_profile(self, info: GqlInfo, input: UpdateProfileInput) -> User:
        r = input.realtor_profile
        changes = domain.ProfileChanges(
            display_name=input.display_name,
            phone=input.phone,
            avatar_url=input.avatar_url,
            time_zone=input.time_zone,
            realtor=domain.RealtorProfileChanges(r.license_number, r.brokerage, r.bio)
            if r
            else None,
        )
        who = await _me(info)
        with fields_under("input"):
            return User.of(await _service(info).update_profile(who, changes))

    @strawberry.mutation(description="Change password; every other session is signed out.")
    async def change_password(
        self, info: GqlInfo, current_password: str, new_password: str
    ) -> bool:
        who = await _me(info)
        token = bearer_token(info.context.request.headers.get("authorization"))
        return await _service(info).change_password(
            who,
            current_password,
            new_password,
            session_id=session_id_of(token) if token else None,
            client=client_of(info),
        )

    @strawberry.mutation(description="Erase the account (password required); cannot be undone.")
    async def delete_my_account(self, info: GqlInfo, password: str) -> bool:
        return await _service(info).delete_account(await _me(info), password, client_of(info))

    @strawberry.mutation(description="Make a user a BUYER or a REALTOR (ADMIN).")
    async def set_user_role(self, info: GqlInfo, user_id: strawberry.ID, role: Role) -> User:  # type: ignore[valid-type]
        who = await info.context.user()
        target = parse_id(user_id, "userId")
        return User.of(await _service(info).set_role(who, target, role))

    @strawberry.mutation(description="Mark a realtor's licence as checked or not (ADMIN).")
    async def set_realtor_verified(
        self, info: GqlInfo, user_id: strawberry.ID, verified: bool
    ) -> User:
        who = await info.context.user()
        target = parse_id(user_id, "userId")
        return User.of(await _service(info).set_realtor_verified(who, target, verified))


def build_schema() -> strawberry.federation.Schema:
    return SubgraphSchema(query=Query, mutation=Mutation, types=[User])
