"""gRPC `realty.identity.v1.Identity`: contact details of users for other services
(notifications, projections). Thin: parse, read through the queries, shape the reply.

Personal data (e-mail address, phone) goes only to the services that mail people: scheduling
(tour confirmations, reminders) and media (guest invitations, recognising an invited guest by
the address they signed in with). listings may call too, for the realtor's public profile on
its pages, and gets the public fields only."""

from __future__ import annotations

import grpc
from realty.identity.v1 import identity_pb2 as pb
from realty.identity.v1 import identity_pb2_grpc as pb_grpc
from servicekit.access import Access, allow, current_caller
from servicekit.errors import BadUserInput, NotFound, Unauthenticated, parse_id

from identity.domain import TOMBSTONE_TIME_ZONE, InternalService, User, can_see_private_fields
from identity.events import ROLE_TO_PROTO
from identity.queries import IdentityQueries

MAX_BATCH = 1000

MAILS_PEOPLE = allow("scheduling", "media")
# listings shows a realtor's public profile (name, photo) on its public pages: public fields only
READS_PUBLIC_PROFILES = allow(*MAILS_PEOPLE, "listings")

ACCESS = Access(
    "realty.identity.v1.Identity",
    {
        "GetUser": READS_PUBLIC_PROFILES,
        "BatchGetUsers": READS_PUBLIC_PROFILES,
    },
)


def to_proto(user: User, viewer: InternalService) -> pb.User:
    """What the calling service may see (the domain's rule); erased accounts come back with
    `deleted` set and no personal data."""
    private = user.private_fields(viewer) if can_see_private_fields(user, viewer) else None
    return pb.User(
        id=str(user.id),
        email=private.email if private else "",
        display_name=user.display_name,
        role=ROLE_TO_PROTO[user.role],
        time_zone=private.time_zone if private else TOMBSTONE_TIME_ZONE,
        email_verified=bool(private and private.email_verified),
        deleted=user.is_deleted,
        phone=(private.phone if private else None) or "",
        avatar_url=user.avatar_url or "",
        realtor=_realtor_profile(user),
    )


def _realtor_profile(user: User) -> pb.RealtorProfile | None:
    """The realtor's public profile: public in the API too (`User.realtorProfile`)."""
    profile = user.realtor
    if profile is None or user.is_deleted:
        return None
    return pb.RealtorProfile(
        license_number=profile.license_number or "",
        brokerage=profile.brokerage or "",
        bio=profile.bio or "",
        verified=profile.verified,
    )


def calling_service() -> InternalService:
    """The service the admission check let through (named by its certificate)."""
    caller = current_caller.get()
    if caller is None:
        raise Unauthenticated("no calling service")
    return InternalService(caller.service, reaches_people=caller.service in MAILS_PEOPLE)


class IdentityServicer(pb_grpc.IdentityServicer):
    def __init__(self, queries: IdentityQueries) -> None:
        self.queries = queries

    async def GetUser(
        self, request: pb.GetUserRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.User:
        user = await self.queries.user(parse_id(request.id))
        if user is None:
            raise NotFound("no such user", field="id")
        return to_proto(user, calling_service())

    async def BatchGetUsers(
        self, request: pb.BatchGetUsersRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.BatchGetUsersResponse:
        if len(request.ids) > MAX_BATCH:
            raise BadUserInput(f"at most {MAX_BATCH} ids per call", field="ids")
        found = await self.queries.users_by_ids([parse_id(i, "ids") for i in request.ids])
        viewer = calling_service()
        return pb.BatchGetUsersResponse(users=[to_proto(u, viewer) for u in found.values()])
