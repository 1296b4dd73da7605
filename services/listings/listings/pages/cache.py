"""Rendered pages kept in the process, so a page asked for again costs neither a database
read nor a render, and a revalidation (`If-None-Match`) is answered before any I/O.

A cached page is trusted only while its invalidations can be heard: `PageCacheFeed` follows
the listing's own events (`updated`, `status_changed`, `deleted`, from every replica, through
an ordered consumer of this process alone) and drops the page they name. While the feed is
not subscribed or the bus is disconnected, the cache is emptied and bypassed, so a page is
never older than the last event this process could have missed. Entries also expire after
`seconds` (a bound for an event still waiting in another replica's outbox) and the least
recently used go first past `capacity`.

A render that started before an invalidation is not stored (the generation moved on), so a
read racing a change cannot put the old page back after its event arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from servicekit.bus import Bus, Event

from listings.domain import Listing
from listings.events import SUBJECT_DELETED, SUBJECT_STATUS_CHANGED, SUBJECT_UPDATED

log = logging.getLogger(__name__)

INVALIDATING = (SUBJECT_UPDATED, SUBJECT_STATUS_CHANGED, SUBJECT_DELETED)


@dataclass(frozen=True, slots=True)
class CachedPage:
    """One rendered page and what a Property View of it reports."""

    listing: Listing
    tag: str  # the page's ETag
    body: bytes  # the rendered HTML, UTF-8
    window: int | None  # the photo-signing window it was rendered in (None with a CDN)
    expires: float  # monotonic seconds


class PageCache:
    """Least recently used pages by slug, each for at most `seconds`; off when `seconds` or
    `capacity` is 0. `usable` says whether invalidations are being heard right now."""

    def __init__(
        self,
        *,
        capacity: int = 10_000,
        seconds: float = 300.0,
        usable: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.seconds = seconds
        self.usable = usable
        self.clock = clock
        self.generation = 0  # moves on every invalidation
        self._pages: OrderedDict[str, CachedPage] = OrderedDict()
        self._slugs: dict[uuid.UUID, str] = {}

    @property
    def enabled(self) -> bool:
        return self.capacity > 0 and self.seconds > 0

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, slug: str, window: int | None) -> CachedPage | None:
        if not self._pages:
            return None
        if not self.usable():
            self.clear()  # invalidations may be missed from now on
            return None
        page = self._pages.get(slug)
        if page is None:
            return None
        if page.window != window or page.expires <= self.clock():
            self._drop(slug)
            return None
        self._pages.move_to_end(slug)
        return page

    def put(self, slug: str, page: CachedPage, *, generation: int) -> None:
        """Keep `page` unless an invalidation happened since its read began (`generation`)."""
        if not self.enabled or generation != self.generation or not self.usable():
            return
        self._drop(slug)
        self._pages[slug] = page
        self._slugs[page.listing.id] = slug
        while len(self._pages) > self.capacity:
            self._drop(next(iter(self._pages)))

    def expires_at(self) -> float:
        return self.clock() + self.seconds

    def invalidate(self, listing_id: uuid.UUID) -> None:
        self.generation += 1
        slug = self._slugs.get(listing_id)
        if slug is not None:
            self._drop(slug)

    def invalidate_realtor(self, realtor_id: uuid.UUID) -> None:
        """Drop every page of one realtor (their public profile is on each)."""
        self.generation += 1
        for slug in [s for s, p in self._pages.items() if p.listing.realtor_id == realtor_id]:
            self._drop(slug)

    def clear(self) -> None:
        self.generation += 1
        self._pages.clear()
        self._slugs.clear()

    def _drop(self, slug: str) -> None:
        page = self._pages.pop(slug, None)
        if page is not None and self._slugs.get(page.listing.id) == slug:
            del self._slugs[page.listing.id]


class PageCacheFeed:
    """Keeps a `PageCache` true to the listings' events (a worker; every process runs its
    own, because every process holds its own pages)."""

    def __init__(
        self,
        bus: Bus,
        cache: PageCache,
        *,
        realtor_subjects: tuple[str, ...] = (),
        realtor_of: Callable[[Event], uuid.UUID | None] = lambda event: None,
    ) -> None:
        self.bus = bus
        self.cache = cache
        self.realtor_subjects = realtor_subjects  # events that change a realtor's profile
        self.realtor_of = realtor_of
        self.subscribed = False

    def usable(self) -> bool:
        return self.subscribed and self.bus.connected

    def apply(self, event: Event) -> None:
        logical = self.bus.logical(event.subject)
        if logical in INVALIDATING:
            self.cache.invalidate(uuid.UUID(event.subject_id))
        elif logical in self.realtor_subjects:
            realtor = self.realtor_of(event)
            if realtor is not None:
                self.cache.invalidate_realtor(realtor)

    async def run(self) -> None:
        """Follow the invalidating subjects from now on, forever (cancel to stop)."""
        js = await self.bus.connect()

        async def on_message(msg: Msg) -> None:
            try:
                self.apply(Event.from_envelope(msg.data))
            except Exception as exc:  # a malformed event must not stop the feed
                self.cache.clear()
                log.warning("page cache event on %s: %s", msg.subject, str(exc)[:200])

        subscriptions = []
        try:
            for logical in (*INVALIDATING, *self.realtor_subjects):
                stream = await self.bus.ensure_stream_for(logical)
                subscriptions.append(
                    await js.subscribe(
                        self.bus.subject(logical),
                        stream=stream,
                        cb=on_message,
                        ordered_consumer=True,
                        config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW),
                    )
                )
            self.cache.clear()  # nothing cached before now was watched
            self.subscribed = True
            await asyncio.Event().wait()
        finally:
            self.subscribed = False
            self.cache.clear()
            for sub in subscriptions:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
