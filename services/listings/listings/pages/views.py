"""Property Views: a page shown to a visitor, announced on the bus as `listings.listing.viewed`
at most once per visitor and listing per 30 minutes.

The page itself is the same for everyone (a CDN and browsers cache it), so it sets no
cookie and counts nothing: once shown, its script posts a beacon to
`/homes/<slug>/viewed`, which is never cached. So a page served by CloudFront, by the
browser's cache after a 304 or by the origin counts the same, once; a page opened from the
service worker without a connection is not counted (nothing reached us), and neither is a
client that runs no script (most crawlers).

The visitor is a first-party cookie (`rfy_visitor`: a random id, HttpOnly, SameSite=Lax, one
year), never a person's id. `ViewCounter` remembers, in memory, when each visitor's view of
each listing was last counted; another process may count the same visitor again within the
window, so consumers fold repeats by the same rule (the proto says so).

`ViewRecorder` keeps the beacon off the database: counted views are buffered and written to
the outbox in batches (one transaction per batch, every `interval` seconds or `batch_size`
views), and the outbox relay publishes them. A clean shutdown writes what is buffered (a
shutdown hook, before the database closes); a crash loses at most the views buffered since
the last batch (about `interval` seconds). A batch that cannot be written stays buffered and
is tried again; past `max_buffered` views the oldest are dropped and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from servicekit.db import Database, Outgoing

from listings.domain import Listing
from listings.events import listing_viewed

log = logging.getLogger(__name__)

VISITOR_COOKIE = "rfy_visitor"
VISITOR_COOKIE_SECONDS = 365 * 24 * 3600
VISITOR_ID = re.compile(r"^[0-9a-f]{32}$")
WINDOW = timedelta(minutes=30)


def visitor_from(cookie: str | None) -> str | None:
    """The visitor id a cookie carries, if it is one we could have set."""
    return cookie if cookie is not None and VISITOR_ID.match(cookie) else None


def new_visitor() -> str:
    return uuid.uuid4().hex


def referrer_host(referrer: str) -> str:
    """The host of the page the visitor came from ("" when none or not a web address)."""
    try:
        url = urlsplit(referrer.strip()[:2048])
    except ValueError:
        return ""
    return (url.hostname or "") if url.scheme in ("http", "https") else ""


class ViewCounter:
    """Whether a view counts: the first of a visitor and listing, or the first again once 30
    minutes have passed since the last counted one. Entries live in insertion order, which
    is the order they were counted in, so expired ones are pruned from the front."""

    def __init__(self, *, window: timedelta = WINDOW, max_entries: int = 200_000) -> None:
        self.window = window
        self.max_entries = max_entries
        self._counted: dict[tuple[str, uuid.UUID], datetime] = {}

    def __len__(self) -> int:
        return len(self._counted)

    def counts(self, visitor: str, listing_id: uuid.UUID, now: datetime) -> bool:
        key = (visitor, listing_id)
        last = self._counted.get(key)
        if last is not None and now - last < self.window:
            return False
        self._counted.pop(key, None)
        self._counted[key] = now
        self._prune(now)
        return True

    def _prune(self, now: datetime) -> None:
        horizon = now - self.window
        while self._counted:
            key, at = next(iter(self._counted.items()))
            if at > horizon and len(self._counted) <= self.max_entries:
                return
            del self._counted[key]  # expired, or the oldest past the memory bound


class ViewRecorder:
    """Buffers counted views and writes them to the outbox in batches (a worker)."""

    def __init__(
        self,
        db: Database,
        *,
        interval: float = 1.0,
        batch_size: int = 500,
        max_buffered: int = 100_000,
    ) -> None:
        self.db = db
        self.interval = interval
        self.batch_size = batch_size
        self.max_buffered = max_buffered
        self.dropped = 0
        self._buffer: list[Outgoing] = []
        self._full = asyncio.Event()
        self._writing = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._buffer)

    def add(self, view: Outgoing) -> None:
        self._buffer.append(view)
        if len(self._buffer) > self.max_buffered:
            excess = len(self._buffer) - self.max_buffered
            del self._buffer[:excess]
            self.dropped += excess
            log.warning("%d property views dropped: the outbox is not being written", excess)
        if len(self._buffer) >= self.batch_size:
            self._full.set()

    async def flush(self) -> int:
        """Write every buffered view to the outbox; the number written."""
        written = 0
        async with self._writing:
            while self._buffer:
                batch = self._buffer[: self.batch_size]
                async with self.db.uow() as uow:
                    for view in batch:
                        uow.emit(
                            view.subject, view.payload, subject_id=view.subject_id, time=view.time
                        )
                    await uow.commit()
                del self._buffer[: len(batch)]  # only once committed: a failure keeps them
                written += len(batch)
        return written

    async def run(self) -> None:
        """Flush every `interval` seconds, or at once when a batch is full (cancel to stop)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.interval)
            self._full.clear()
            try:
                await self.flush()
            except Exception as exc:  # the database refused or is away: keep them, retry
                log.warning("property views not written yet (%s); retrying", str(exc)[:200])

    async def close(self) -> None:
        """The shutdown hook: what is still buffered goes to the outbox."""
        written = await self.flush()
        if written:
            log.info("%d buffered property views written at shutdown", written)


class PropertyViews:
    """The beacon's use of the two: count a visitor's view of a listing, buffer its event."""

    def __init__(
        self,
        recorder: ViewRecorder,
        *,
        clock: Callable[[], datetime],
        counter: ViewCounter | None = None,
    ) -> None:
        self.recorder = recorder
        self.counter = counter or ViewCounter()
        self.clock = clock

    def viewed(self, listing: Listing, visitor: str, referrer: str) -> bool:
        """Record the view unless this visitor's view of this listing was counted lately."""
        now = self.clock()
        if not self.counter.counts(visitor, listing.id, now):
            return False
        self.recorder.add(listing_viewed(listing, visitor, now, referrer_host(referrer)))
        return True
