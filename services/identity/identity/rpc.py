"""gRPC `realty.identity.v1.Identity`: contact details of users for other services
(notifications, projections). Thin: parse, call the service, shape the reply.

Every reply carries personal data (e-mail address, phone), so only the services that mail
people may call: scheduling (tour confirmations, reminders)."""

from __future__ import annotations

import grpc
from realty.identity.v1 import identity_pb2 as pb
from realty.identity.v1 import identity_pb2_grpc as pb_grpc
from servicekit.access import Access, allow
from servicekit.errors import BadUserInput, NotFound, parse_id

from identity.domain import User
from identity.events import ROLE_TO_PROTO
from identity.service import IdentityService

MAX_BATCH = 1000

MAILS_PEOPLE = allow("scheduling")

ACCESS = Access(
    "realty.identity.v1.Identity",
    {
        "GetUser": MAILS_PEOPLE,
        "BatchGetUsers": MAILS_PEOPLE,
    },
)


def to_proto(user: User) -> pb.User:
    """Erased accounts come back with `deleted` set and no personal data."""
    return pb.User(
        id=str(user.id),
        email=user.email or "",
        display_name=user.display_name,
        role=ROLE_TO_PROTO[user.role],
        time_zone=user.time_zone,
        email_verified=user.email_verified,
        deleted=user.is_deleted,
        phone=user.phone or "",
        avatar_url=user.avatar_url or "",
    )


class IdentityServicer(pb_grpc.IdentityServicer):
    def __init__(self, service: IdentityService) -> None:
        self.service = service

    async def GetUser(
        self, request: pb.GetUserRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.User:
        user = await self.service.get_user(parse_id(request.id))
        if user is None:
            raise NotFound("no such user", id=request.id)
        return to_proto(user)

    async def BatchGetUsers(
        self, request: pb.BatchGetUsersRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.BatchGetUsersResponse:
        if len(request.ids) > MAX_BATCH:
            raise BadUserInput(f"at most {MAX_BATCH} ids per call")
        found = await self.service.users_by_ids([parse_id(i, "ids") for i in request.ids])
        return pb.BatchGetUsersResponse(users=[to_proto(u) for u in found.values()])
