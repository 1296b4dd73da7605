"""HTTP routes of the public pages: `GET /homes/{slug}`, `/homes/sw.js`, `/robots.txt`.

A page is public when its listing is (COMING_SOON, ACTIVE, PENDING, CLOSED); anything else
is a real 404 page. Slugs are stable, but every slug ends with the first 10 hex of the
listing's id, so a link whose words are outdated or cut still finds its listing and is
redirected permanently (301) to the current URL.

Caching: every page carries an `ETag` (the listing's last change, see `view.entity_tag`)
and `Cache-Control` with a short browser lifetime and a long shared one for the CDN, which
`cdn.CdnPurger` invalidates when the listing changes. While photos are served as signed
GETs (no CDN in front of the bucket) both lifetimes stay under half the links' validity.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from listings.pages.cache import CachedPage, PageCache
from listings.pages.realtors import Lookup, RealtorProfiles
from listings.pages.render import Renderer, static_text
from listings.pages.view import entity_tag, page_view
from listings.pages.views import (
    VISITOR_COOKIE,
    VISITOR_COOKIE_SECONDS,
    PropertyViews,
    new_visitor,
    visitor_from,
)
from listings.queries import ListingQueries
from listings.seo import build_seo
from listings.service import utcnow

log = logging.getLogger(__name__)

ID_TAIL = re.compile(r"(?:^|-)([0-9a-f]{10})$")
HTML = "text/html; charset=utf-8"


class PhotoUrls(Protocol):
    def url_for(self, key: str) -> str: ...


@dataclass(frozen=True, slots=True)
class PagesConfig:
    """How pages link and how long they may be cached."""

    public_url: str  # origin of the public site: canonical URLs, the sitemap in robots.txt
    app_url: str  # origin of the web app "Request a tour" opens
    photo_url_lifetime: int | None = None  # seconds a signed photo URL lives; None with a CDN
    browser_max_age: int = 300
    cdn_max_age: int = 86_400

    def window_seconds(self) -> int | None:
        return None if self.photo_url_lifetime is None else max(1, self.photo_url_lifetime // 2)

    def cache_control(self) -> str:
        window = self.window_seconds()
        browser = self.browser_max_age if window is None else min(self.browser_max_age, window)
        shared = self.cdn_max_age if window is None else min(self.cdn_max_age, window)
        return f"public, max-age={browser}, s-maxage={shared}"


def robots_txt(public_url: str) -> str:
    return (
        "User-agent: *\n"
        "Allow: /homes/\n"
        "Disallow: /graphql\n"
        f"Sitemap: {public_url.rstrip('/')}/sitemap.xml\n"
    )


def matches(if_none_match: str | None, tag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2) of `If-None-Match` against the page's tag."""
    if not if_none_match:
        return False
    wanted = tag.removeprefix("W/")
    return any(
        part.strip() == "*" or part.strip().removeprefix("W/") == wanted
        for part in if_none_match.split(",")
    )


class PageSource:
    """Finds and renders the page of a slug, through the cache when it can: a miss is one
    read (`ListingQueries.public_page`) and one render, kept for the next visitor."""

    def __init__(
        self,
        queries: ListingQueries,
        photos: PhotoUrls,
        config: PagesConfig,
        *,
        cache: PageCache,
        renderer: Renderer,
        clock: Callable[[], datetime] = utcnow,
        concurrent_reads: int = 10,
        realtors: RealtorProfiles | None = None,
    ) -> None:
        self.queries = queries
        self.photos = photos
        self.config = config
        self.cache = cache
        self.renderer = renderer
        self.clock = clock
        self.realtors = realtors
        # At most this many page reads hold a database connection at once (the pool's size):
        # a burst of first renders waits here, bounded by the request's deadline, instead of
        # timing out in the pool; requests for a page being read wait for that one read.
        self._reads = asyncio.Semaphore(concurrent_reads)
        self._reading: dict[str, asyncio.Future[CachedPage | None]] = {}

    def window(self) -> int | None:
        """The photo-signing window now (None when photos come from a CDN)."""
        window = self.config.window_seconds()
        return None if window is None else int(self.clock().timestamp()) // window

    async def page(self, slug: str) -> CachedPage | None:
        """The public page of `slug`; None when no public listing has that slug."""
        window = self.window()
        cached = self.cache.get(slug, window)
        if cached is not None:
            return cached
        pending = self._reading.get(slug)
        if pending is None:
            pending = asyncio.ensure_future(self._read(slug, window))
            self._reading[slug] = pending
            pending.add_done_callback(lambda done: self._done_reading(slug, done))
        return await asyncio.shield(pending)  # a cancelled waiter leaves the read to others

    def _done_reading(self, slug: str, done: asyncio.Future[CachedPage | None]) -> None:
        self._reading.pop(slug, None)
        if not done.cancelled():
            done.exception()  # retrieved here: every waiter gets it raised on its own

    async def _read(self, slug: str, window: int | None) -> CachedPage | None:
        generation = self.cache.generation
        async with self._reads:
            found = await self.queries.public_page(slug)
        if found is None:
            return None
        listing, listing_photos = found
        lookup = (
            await self.realtors.of(listing.realtor_id)
            if self.realtors is not None
            else Lookup(None, settled=True)
        )
        urls = {p.id: self.photos.url_for(p.key) for p in listing_photos}  # gallery order
        seo = build_seo(listing, public_url=self.config.public_url, photo_urls=list(urls.values()))
        view = page_view(
            listing,
            listing_photos,
            seo=seo,
            urls=urls,
            app_url=self.config.app_url,
            realtor=lookup.profile,
        )
        body = self.renderer.render("listing.html", page=view, public_url=self.config.public_url)
        version = lookup.profile.version if lookup.profile else "0"
        rendered = CachedPage(
            listing=listing,
            tag=entity_tag(listing, f"{self.renderer.build}{version}", window),
            body=body.encode(),
            window=window,
            expires=self.cache.expires_at(),
        )
        if lookup.settled:  # without its realtor's name the page is not kept
            self.cache.put(slug, rendered, generation=generation)
        return rendered

    async def current_slug(self, slug: str) -> str | None:
        """The current slug of the listing an outdated or cut `slug` names, if exactly one."""
        tail = ID_TAIL.search(slug)
        current = await self.queries.public_slug_by_id_prefix(tail.group(1)) if tail else None
        return None if current == slug else current


async def first_bytes(request: Request, limit: int) -> bytes:
    """At most `limit` bytes of the request's body (the rest is not read)."""
    taken = b""
    async for chunk in request.stream():
        taken += chunk
        if len(taken) >= limit:
            break
    return taken[:limit]


def page_routes(source: PageSource, views: PropertyViews) -> list[BaseRoute]:
    pages = source.renderer
    config = source.config
    worker = static_text("sw.js")
    robots = robots_txt(config.public_url)
    cache_control = config.cache_control()

    def not_found() -> Response:
        body = pages.render("not_found.html", public_url=config.public_url)
        return HTMLResponse(body, status_code=404, headers={"Cache-Control": "public, max-age=60"})

    def unavailable() -> Response:
        body = pages.render("unavailable.html", public_url=config.public_url)
        headers = {"Cache-Control": "no-store", "Retry-After": "1"}
        return HTMLResponse(body, status_code=503, headers=headers)

    async def home(request: Request) -> Response:
        slug: str = request.path_params["slug"]
        try:
            found = await source.page(slug)
            current = await source.current_slug(slug) if found is None else None
        except (PoolTimeout, OperationalError, OSError):
            log.warning("page %s not served: the database is not reachable", slug)
            return unavailable()
        if found is None:
            if current is None:
                return not_found()
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(f"/homes/{current}{query}", status_code=301)
        headers = {"ETag": found.tag, "Cache-Control": cache_control}
        if matches(request.headers.get("if-none-match"), found.tag):
            return Response(status_code=304, headers=headers)
        return Response(found.body, media_type=HTML, headers=headers)

    secure_cookie = config.public_url.startswith("https:")

    async def viewed(request: Request) -> Response:
        """The page's beacon: counts a Property View (see `views`); never cached."""
        slug: str = request.path_params["slug"]
        no_store = {"Cache-Control": "no-store"}
        try:
            found = await source.page(slug)
        except (PoolTimeout, OperationalError, OSError):
            return Response(status_code=503, headers={**no_store, "Retry-After": "1"})
        if found is None:
            return Response(status_code=404, headers=no_store)
        referrer = (await first_bytes(request, 2048)).decode("utf-8", "replace")
        response = Response(status_code=204, headers=no_store)
        visitor = visitor_from(request.cookies.get(VISITOR_COOKIE))
        if visitor is None:
            visitor = new_visitor()
            response.set_cookie(
                VISITOR_COOKIE,
                visitor,
                max_age=VISITOR_COOKIE_SECONDS,
                path="/",
                secure=secure_cookie,
                httponly=True,
                samesite="lax",
            )
        views.viewed(found.listing, visitor, referrer)
        return response

    async def service_worker(request: Request) -> Response:
        return Response(
            worker,
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache"},  # a new worker reaches visitors at once
        )

    async def robots_route(request: Request) -> Response:
        return PlainTextResponse(robots, headers={"Cache-Control": "public, max-age=3600"})

    return [
        Route("/robots.txt", robots_route, methods=["GET"]),
        Route("/homes/sw.js", service_worker, methods=["GET"]),
        Route("/homes/{slug}", home, methods=["GET"]),
        Route("/homes/{slug}/viewed", viewed, methods=["POST"]),
    ]
