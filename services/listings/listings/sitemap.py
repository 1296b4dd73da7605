"""`GET /sitemap.xml`: the public listings' canonical URLs for search engines (HTTP adapter).

A sitemap holds at most 50,000 URLs; beyond that `/sitemap.xml` becomes a sitemap index
whose parts are `/sitemap.xml?page=N`, most recently updated listings first. The public web
site serves this route at its own origin (`LISTINGS_PUBLIC_URL`), so the index points there.
The rows come from `ListingQueries`; this module only renders them.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from listings.queries import ListingQueries
from listings.seo import canonical_url

URLS_PER_SITEMAP = 50_000
XML = "application/xml"
NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def sitemap_route(
    queries: ListingQueries, *, public_url: str, per_sitemap: int = URLS_PER_SITEMAP
) -> Route:
    async def sitemap(request: Request) -> Response:
        total = await queries.public_listings_count()
        pages = max(1, -(-total // per_sitemap))
        raw_page = request.query_params.get("page")
        if raw_page is None and pages > 1:
            base = f"{public_url.rstrip('/')}/sitemap.xml"
            return Response(_index(base, pages), media_type=XML)
        try:
            page = int(raw_page) if raw_page is not None else 1
        except ValueError:
            return Response("page must be a number", status_code=400)
        if not 1 <= page <= pages:
            return Response("no such sitemap page", status_code=404)
        rows = await queries.public_slugs(offset=(page - 1) * per_sitemap, limit=per_sitemap)
        lines = [f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{NS}">']
        for slug, updated_at in rows:
            loc = escape(canonical_url(public_url, slug))
            lines.append(
                f"<url><loc>{loc}</loc><lastmod>{updated_at.date().isoformat()}</lastmod></url>"
            )
        lines.append("</urlset>\n")
        return Response("\n".join(lines), media_type=XML)

    return Route("/sitemap.xml", sitemap, methods=["GET"])


def _index(base: str, pages: int) -> str:
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{NS}">']
    for n in range(1, pages + 1):
        parts.append(f"<sitemap><loc>{escape(base)}?page={n}</loc></sitemap>")
    parts.append("</sitemapindex>\n")
    return "\n".join(parts)
