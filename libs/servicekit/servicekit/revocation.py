"""Access tokens that stop working before they expire: sign-out, deletion, suspension.

An access token is checked without calling identity, so identity announces what ended
instead: `identity.session.revoked` (one session, or every token of a user issued before a
moment) and `identity.user.deleted`. Every service and the gateway follow those two
subjects from the stream (`RevocationFeed`, an ordered push consumer starting one token
lifetime in the past, so a process that starts late still knows every revocation that can
matter) into a `RevocationList` in memory, which the `JwtVerifier` consults on every
request: two dictionary look-ups. Entries older than a token lifetime are dropped, since
every token they could refuse has expired anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from realty.identity.v1 import identity_pb2 as identity

from servicekit.bus.connection import Bus
from servicekit.bus.events import Event

log = logging.getLogger(__name__)

SESSION_REVOKED = "identity.session.revoked"
USER_DELETED = "identity.user.deleted"


class RevocationList:
    """Who may no longer use the tokens they hold (in memory, fed by the feed)."""

    def __init__(self, *, horizon: timedelta, clock: Callable[[], float] = time.time) -> None:
        self.horizon = horizon.total_seconds()
        self.clock = clock
        self._users: dict[uuid.UUID, float] = {}  # tokens issued before this are refused
        self._sessions: dict[str, float] = {}  # session id -> when it was revoked
        self._pruned_at = 0.0

    def revoke_user(self, user_id: uuid.UUID, not_before: float) -> None:
        self._users[user_id] = max(not_before, self._users.get(user_id, 0.0))

    def revoke_session(self, session_id: str, at: float) -> None:
        self._sessions[session_id] = at

    def refuses(self, user_id: uuid.UUID, session_id: str | None, issued_at: float) -> bool:
        """True when a token of this user and session, issued at `issued_at`, is revoked."""
        self._prune()
        cutoff = self._users.get(user_id)
        if cutoff is not None and issued_at <= cutoff:
            return True
        return session_id is not None and session_id in self._sessions

    def __len__(self) -> int:
        return len(self._users) + len(self._sessions)

    def _prune(self) -> None:
        now = self.clock()
        if now - self._pruned_at < 60.0:
            return
        self._pruned_at = now
        oldest = now - self.horizon
        self._users = {k: v for k, v in self._users.items() if v >= oldest}
        self._sessions = {k: v for k, v in self._sessions.items() if v >= oldest}


class RevocationFeed:
    """Keeps a `RevocationList` up to date from identity's events (run as a worker)."""

    def __init__(self, bus: Bus, revocations: RevocationList) -> None:
        self.bus = bus
        self.revocations = revocations

    def apply(self, event: Event) -> None:
        if event.type == identity.SessionRevoked.DESCRIPTOR.full_name:
            revoked = event.unpack(identity.SessionRevoked)
            user_id = uuid.UUID(revoked.user_id)
            at = revoked.not_before.ToDatetime(tzinfo=UTC).timestamp()
            if revoked.session_id:
                self.revocations.revoke_session(revoked.session_id, at)
            else:
                self.revocations.revoke_user(user_id, at)
        elif event.type == identity.UserDeleted.DESCRIPTOR.full_name:
            deleted = event.unpack(identity.UserDeleted)
            at = deleted.deleted_at.ToDatetime(tzinfo=UTC).timestamp()
            # Identity issues nothing to a deleted account, so refusing every token issued up
            # to the deletion refuses every token it can hold.
            self.revocations.revoke_user(uuid.UUID(deleted.user_id), at)

    async def run(self) -> None:
        """Follow both subjects from one token lifetime ago, forever (cancel to stop)."""
        js = await self.bus.connect()
        stream = await self.bus.ensure_stream_for(SESSION_REVOKED)
        start = datetime.now(UTC) - timedelta(seconds=self.revocations.horizon)

        async def on_message(msg: Msg) -> None:
            try:
                self.apply(Event.from_envelope(msg.data))
            except Exception as exc:  # a malformed event must not stop the feed
                log.warning("revocation event on %s ignored: %s", msg.subject, str(exc)[:200])

        subscriptions = [
            await js.subscribe(
                self.bus.subject(logical),
                stream=stream,
                cb=on_message,
                ordered_consumer=True,
                config=ConsumerConfig(
                    deliver_policy=DeliverPolicy.BY_START_TIME,
                    opt_start_time=start,
                ),
            )
            for logical in (SESSION_REVOKED, USER_DELETED)
        ]
        try:
            await asyncio.Event().wait()
        finally:
            for sub in subscriptions:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
