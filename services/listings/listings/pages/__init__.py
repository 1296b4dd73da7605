"""The public property pages (HTTP adapter): `/homes/{slug}` rendered on the server, the
service worker that keeps visited pages offline, `/robots.txt`, and the CDN purge that
follows the listing's events. Reads through `ListingQueries` only."""

from listings.pages.cache import PageCache, PageCacheFeed
from listings.pages.cdn import CdnPurger, CloudFrontInvalidator
from listings.pages.routes import PagesConfig, PageSource, page_routes

__all__ = [
    "CdnPurger",
    "CloudFrontInvalidator",
    "PageCache",
    "PageCacheFeed",
    "PageSource",
    "PagesConfig",
    "page_routes",
]
