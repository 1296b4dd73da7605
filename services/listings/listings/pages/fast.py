"""The way in for a page already rendered: `GET /homes/<slug>` answered from the page cache
before the service's middleware stack, which costs several times the answer itself.

What the stack does is not needed for an answer from memory: there is no handler to cancel
(deadline) or to shed, the only request headers read are the path and `If-None-Match`, and
the request metrics are recorded here under the route's own name. Cache hits are not traced
(nothing in them crosses a process); a miss, a redirect, a 404 and every other path go down
the stack as before.
"""

from __future__ import annotations

import time

from servicekit.http import HTTP_LATENCY, HTTP_REQUESTS
from starlette.types import ASGIApp, Receive, Scope, Send

from listings.pages.cache import CachedPage
from listings.pages.routes import HTML, PageSource, matches

PREFIX = "/homes/"
ROUTE = "/homes/{slug}"
NOT_PAGES = frozenset({"sw.js"})


class CachedPagesFirst:
    """ASGI wrapper of the service's app: cached pages answered at once, the rest passed on."""

    def __init__(self, app: ASGIApp, source: PageSource, *, service: str) -> None:
        self.app = app
        self.source = source
        self.cache_control = source.config.cache_control().encode()
        self.served = {
            status: HTTP_REQUESTS.labels(service, ROUTE, str(status)) for status in (200, 304)
        }
        self.latency = HTTP_LATENCY.labels(service, ROUTE)

    def cached(self, scope: Scope) -> CachedPage | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        path: str = scope["path"]
        if not path.startswith(PREFIX):
            return None
        slug = path[len(PREFIX) :]
        if not slug or "/" in slug or slug in NOT_PAGES:
            return None
        return self.source.cache.get(slug, self.source.window())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        page = self.cached(scope)
        if page is None:
            await self.app(scope, receive, send)
            return
        tag = page.tag.encode()
        wanted = next((v for k, v in scope["headers"] if k == b"if-none-match"), None)
        headers = [(b"etag", tag), (b"cache-control", self.cache_control)]
        if wanted is not None and matches(wanted.decode("latin-1"), page.tag):
            status, body = 304, b""
        else:
            status, body = 200, page.body
            headers += [
                (b"content-type", HTML.encode()),
                (b"content-length", str(len(body)).encode()),
            ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        self.served[status].inc()
        self.latency.observe(time.perf_counter() - started)
