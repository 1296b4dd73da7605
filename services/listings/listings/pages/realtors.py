"""The realtor's public profile on a page: name and photo, asked of identity over gRPC.

Identity answers listings with public fields only (no e-mail address, no phone: its rule),
and this module keeps only the name and the photo URL. Profiles are kept in memory for
`seconds` and dropped on `identity.user.updated` / `.deleted` (the page-cache feed follows
both and drops that realtor's pages too), so a page costs no call in the common case.

A page must not wait on identity: calls have a short deadline, and after a failure identity
is not asked again for `pause` seconds. A page rendered without the profile says "a
RealtyForYou realtor" and is not kept in the page cache (`Lookup.settled` is false), so the
name appears as soon as identity answers again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from realty.identity.v1 import identity_pb2, identity_pb2_grpc
from servicekit.bus import Event
from servicekit.errors import NotFound
from servicekit.grpc import call, client_channel
from servicekit.tls import TlsMaterial

from listings.pages.view import RealtorProfile

log = logging.getLogger(__name__)

IDENTITY_SERVICE = "realty.identity.v1.Identity"
PROFILE_SUBJECTS = ("identity.user.updated", "identity.user.deleted")


@dataclass(frozen=True, slots=True)
class Lookup:
    profile: RealtorProfile | None  # None: no such realtor, or identity did not answer
    settled: bool  # False when identity did not answer: the page is not cached


def profile_of(user: identity_pb2.User) -> RealtorProfile | None:
    if user.deleted or not user.display_name:
        return None
    photo = user.avatar_url if user.avatar_url.startswith("https://") else None
    realtor = user.realtor if user.HasField("realtor") else None
    return RealtorProfile(
        name=user.display_name,
        photo_url=photo,
        brokerage=(realtor.brokerage or None) if realtor else None,
        license_number=(realtor.license_number or None) if realtor else None,
        verified=bool(realtor and realtor.verified),
    )


class RealtorProfiles:
    """Public profiles of realtors by id, from identity, kept for `seconds`."""

    def __init__(
        self,
        target: str,
        tls: TlsMaterial | Callable[[], TlsMaterial],
        *,
        timeout: float = 0.5,
        seconds: float = 300.0,
        pause: float = 5.0,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self.tls = tls
        self.timeout = timeout
        self.seconds = seconds
        self.pause = pause
        self.capacity = capacity
        self.clock = clock
        self._stub: Any = None
        self._known: dict[uuid.UUID, tuple[RealtorProfile | None, float]] = {}
        self._quiet_until = 0.0

    def stub(self) -> Any:
        if self._stub is None:
            tls = self.tls() if callable(self.tls) else self.tls
            channel = client_channel(
                self.target, tls=tls, server_name="identity", retry_services=[IDENTITY_SERVICE]
            )
            self._stub = identity_pb2_grpc.IdentityStub(channel)
        return self._stub

    async def of(self, realtor_id: uuid.UUID) -> Lookup:
        now = self.clock()
        known = self._known.get(realtor_id)
        if known is not None and known[1] > now:
            return Lookup(known[0], settled=True)
        if now < self._quiet_until:
            return Lookup(None, settled=False)
        request = identity_pb2.GetUserRequest(id=str(realtor_id))
        try:
            profile = profile_of(await call(self.stub().GetUser, request, timeout=self.timeout))
        except NotFound:
            profile = None
        except Exception as exc:  # whatever failed, the page is served without the name
            self._quiet_until = now + self.pause
            log.warning("realtor profiles unavailable for %.0fs: %s", self.pause, exc)
            return Lookup(None, settled=False)
        if len(self._known) >= self.capacity:
            self._known.clear()
        self._known[realtor_id] = (profile, now + self.seconds)
        return Lookup(profile, settled=True)

    def changed(self, event: Event) -> uuid.UUID | None:
        """The realtor an identity event names, forgotten here (the feed drops their pages)."""
        try:
            user_id = uuid.UUID(event.subject_id)
        except ValueError:
            return None
        self._known.pop(user_id, None)
        return user_id
