"""A stand-in for identity's gRPC service, for the services that ask it who people are.

It serves the real `realty.identity.v1.Identity` contract from a dictionary of people, and
records who called (the calling service and user, as the mutual-TLS server saw them) so a
test can check that a call was made, how often, and on whose behalf.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import grpc
from realty.identity.v1 import identity_pb2, identity_pb2_grpc

from servicekit.access import Caller, current_caller
from servicekit.vocabulary import Role


@dataclass
class Person:
    id: uuid.UUID
    email: str
    name: str
    role: Role
    time_zone: str = "UTC"


class FakeIdentity(identity_pb2_grpc.IdentityServicer):
    def __init__(self) -> None:
        self.users: dict[str, Person] = {}
        self.calls = 0  # BatchGetUsers calls
        self.callers: list[Caller | None] = []

    def add(self, person: Person) -> Person:
        self.users[str(person.id)] = person
        return person

    @staticmethod
    def _user(person: Person) -> identity_pb2.User:
        return identity_pb2.User(
            id=str(person.id),
            email=person.email,
            display_name=person.name,
            role=identity_pb2.Role.Value(f"ROLE_{person.role.value}"),
            time_zone=person.time_zone,
            email_verified=True,
        )

    async def GetUser(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        person = self.users.get(request.id)
        if person is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "user not found")
        return self._user(person)  # type: ignore[arg-type]

    async def BatchGetUsers(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.calls += 1
        self.callers.append(current_caller.get())
        return identity_pb2.BatchGetUsersResponse(
            users=[self._user(self.users[i]) for i in request.ids if i in self.users]
        )
