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

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from listings.pages.render import Renderer, static_text
from listings.pages.view import entity_tag, page_view
from listings.queries import ListingQueries
from listings.seo import build_seo
from listings.service import utcnow

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


def page_routes(
    queries: ListingQueries,
    photos: PhotoUrls,
    config: PagesConfig,
    *,
    clock: Callable[[], datetime] = utcnow,
    renderer: Renderer | None = None,
) -> list[BaseRoute]:
    pages = renderer or Renderer()
    worker = static_text("sw.js")
    robots = robots_txt(config.public_url)
    cache_control = config.cache_control()

    def not_found() -> Response:
        body = pages.render("not_found.html", public_url=config.public_url)
        return HTMLResponse(body, status_code=404, headers={"Cache-Control": "public, max-age=60"})

    async def home(request: Request) -> Response:
        slug: str = request.path_params["slug"]
        found = await queries.public_page(slug)
        if found is None:
            tail = ID_TAIL.search(slug)
            current = await queries.public_slug_by_id_prefix(tail.group(1)) if tail else None
            if current is None or current == slug:
                return not_found()
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(f"/homes/{current}{query}", status_code=301)
        listing, listing_photos = found
        window = config.window_seconds()
        signed_in = None if window is None else int(clock().timestamp()) // window
        tag = entity_tag(listing, pages.build, signed_in)
        headers = {"ETag": tag, "Cache-Control": cache_control}
        if matches(request.headers.get("if-none-match"), tag):
            return Response(status_code=304, headers=headers)
        urls = {p.id: photos.url_for(p.key) for p in listing_photos}  # gallery order
        seo = build_seo(listing, public_url=config.public_url, photo_urls=list(urls.values()))
        view = page_view(listing, listing_photos, seo=seo, urls=urls, app_url=config.app_url)
        return HTMLResponse(
            pages.render("listing.html", page=view, public_url=config.public_url), headers=headers
        )

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
    ]
