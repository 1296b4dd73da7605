"""Domain events to outbox messages: the protobuf payloads of `identity.user.*`."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from realty.identity.v1 import identity_pb2 as pb
from servicekit.auth import Role
from servicekit.db import UnitOfWork

from identity.domain import User, UserDeleted, UserEmailVerified, UserRegistered, UserUpdated

REGISTERED = "identity.user.registered"
UPDATED = "identity.user.updated"
EMAIL_VERIFIED = "identity.user.email_verified"
DELETED = "identity.user.deleted"

ROLE_TO_PROTO = {
    Role.BUYER: pb.ROLE_BUYER,
    Role.REALTOR: pb.ROLE_REALTOR,
    Role.ADMIN: pb.ROLE_ADMIN,
}


def _stamp(value: object) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)  # type: ignore[arg-type]
    return stamp


def emit_all(uow: UnitOfWork, user: User) -> None:
    """Record the user's pending domain events on the unit of work, then clear them."""
    for event in user.events:
        match event:
            case UserRegistered():
                uow.emit(
                    REGISTERED,
                    pb.UserRegistered(
                        user_id=str(event.user_id),
                        role=ROLE_TO_PROTO[event.role],
                        display_name=event.display_name,
                        time_zone=event.time_zone,
                        registered_at=_stamp(event.at),
                    ),
                    subject_id=event.user_id,
                )
            case UserUpdated():
                uow.emit(
                    UPDATED,
                    pb.UserUpdated(
                        user_id=str(user.id),
                        role=ROLE_TO_PROTO[user.role],
                        display_name=user.display_name,
                        time_zone=user.time_zone,
                        avatar_url=user.avatar_url or "",
                        realtor_verified=bool(user.realtor and user.realtor.verified),
                    ),
                    subject_id=user.id,
                )
            case UserEmailVerified():
                uow.emit(
                    EMAIL_VERIFIED,
                    pb.UserEmailVerified(user_id=str(event.user_id)),
                    subject_id=event.user_id,
                )
            case UserDeleted():
                uow.emit(
                    DELETED,
                    pb.UserDeleted(user_id=str(event.user_id), deleted_at=_stamp(event.at)),
                    subject_id=event.user_id,
                )
    user.events.clear()
