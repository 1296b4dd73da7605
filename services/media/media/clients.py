"""What media asks identity over gRPC: a caller's e-mail address (are they an invited
guest?) and display names (who invites).

Every call has a deadline; an unreachable identity is an UNAVAILABLE error naming it. The
channel is mutual TLS: media proves itself with its certificate and checks that the peer's
names identity; the user being served travels as their own token.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import grpc
from realty.identity.v1 import identity_pb2, identity_pb2_grpc
from servicekit.errors import Unavailable
from servicekit.grpc import call, client_channel
from servicekit.tls import TlsMaterial

IDENTITY_SERVICE = "realty.identity.v1.Identity"


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: uuid.UUID
    email: str
    display_name: str
    deleted: bool


class IdentityClient:
    def __init__(self, channel: grpc.aio.Channel, *, timeout: float) -> None:
        self.channel = channel
        self.stub = identity_pb2_grpc.IdentityStub(channel)
        self.timeout = timeout

    @classmethod
    def connect(cls, target: str, *, tls: TlsMaterial, timeout: float) -> IdentityClient:
        channel = client_channel(
            target, tls=tls, server_name="identity", retry_services=[IDENTITY_SERVICE]
        )
        return cls(channel, timeout=timeout)

    async def users(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, UserInfo]:
        wanted = sorted({str(i) for i in ids})
        if not wanted:
            return {}
        try:
            found = await call(
                self.stub.BatchGetUsers,
                identity_pb2.BatchGetUsersRequest(ids=wanted),
                timeout=self.timeout,
            )
        except Unavailable:
            raise Unavailable(
                "the identity service is unavailable; try again shortly", service="identity"
            ) from None
        users: dict[uuid.UUID, UserInfo] = {}
        for user in found.users:
            try:
                key = uuid.UUID(user.id)
            except ValueError:
                continue
            users[key] = UserInfo(key, user.email, user.display_name, user.deleted)
        return users

    async def close(self) -> None:
        await self.channel.close()
