"""Identity's domain events as bus messages: the protobuf payloads of `identity.user.*` and
`identity.session.revoked` (which every service's `servicekit.revocation.RevocationFeed`
follows to refuse the access tokens of ended sessions).

`outgoing` is the one mapper the unit of work calls at commit for every new event of every
user it tracked (`Database(..., events=outgoing)`), so no use case hands events over by
hand. Identity consumes no other service's events, so there is no incoming mapping.
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from realty.identity.v1 import identity_pb2 as pb
from servicekit.db import Outgoing
from servicekit.vocabulary import Role

from identity.domain import (
    DomainEvent,
    SessionRevoked,
    User,
    UserDeleted,
    UserEmailVerified,
    UserRegistered,
    UserUpdated,
)

REGISTERED = "identity.user.registered"
UPDATED = "identity.user.updated"
EMAIL_VERIFIED = "identity.user.email_verified"
DELETED = "identity.user.deleted"
SESSION_REVOKED = "identity.session.revoked"

ROLE_TO_PROTO = {
    Role.BUYER: pb.ROLE_BUYER,
    Role.REALTOR: pb.ROLE_REALTOR,
    Role.ADMIN: pb.ROLE_ADMIN,
}


def _stamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def outgoing(user: User, event: DomainEvent) -> Outgoing:
    """The message announcing `event` of `user`. `UserUpdated` carries the user's public
    state as committed (several changes in one transaction announce it once)."""
    match event:
        case UserRegistered():
            return Outgoing(
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
            return Outgoing(
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
            return Outgoing(
                EMAIL_VERIFIED,
                pb.UserEmailVerified(user_id=str(event.user_id)),
                subject_id=event.user_id,
            )
        case UserDeleted():
            return Outgoing(
                DELETED,
                pb.UserDeleted(user_id=str(event.user_id), deleted_at=_stamp(event.at)),
                subject_id=event.user_id,
            )
        case SessionRevoked():
            return Outgoing(
                SESSION_REVOKED,
                pb.SessionRevoked(
                    user_id=str(event.user_id),
                    session_id=str(event.session_id),
                    not_before=_stamp(event.at),
                    reason=event.reason.value,
                ),
                subject_id=event.user_id,
            )
