"""The public pages over HTTP (ASGI): what a person and a crawler get at `/homes/{slug}`,
the 404 and 301 answers, caching headers, robots.txt, and the CDN purge."""

from __future__ import annotations

import json
import re
import struct
import uuid
import xml.etree.ElementTree as ET
import zlib
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import httpx
from botocore.stub import Stubber
from listings.domain import Listing, ListingStatus, Photo
from listings.pages import CdnPurger, CloudFrontInvalidator, PagesConfig
from listings.pages.render import Renderer
from listings.pages.view import page_view, price_label
from listings.seo import build_seo
from listings.values import Money
from realty.listings.v1 import listings_pb2
from servicekit.auth import Role
from servicekit.bus import Event
from servicekit.vocabulary import Principal

PUBLIC_URL = "https://www.realty.test"
SEO = "query($id: ID!) { listing(id: $id) { slug seo { title description canonicalUrl jsonLd } } }"
UPDATE = "mutation($id: ID!, $input: UpdateListingInput!) { updateListing(id: $id, input: $input) { slug } }"


REQUEST_UPLOAD = """
mutation($l: ID!) { requestPhotoUpload(listingId: $l, contentType: "image/png", fileName: "p.png")
  { id url fields } }
"""
CONFIRM = "mutation($l: ID!, $u: ID!) { confirmPhotoUpload(listingId: $l, uploadId: $u) { id } }"


def png_bytes(width: int = 1, height: int = 1) -> bytes:
    """A real PNG of one green colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress((b"\x00" + b"\x2e\x8b\x57" * width) * height)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def add_photo(api: Any, who: Any, listing_id: str, content: bytes) -> str:
    """Upload a PNG to S3 as a browser would, confirm it; the photo's id."""
    ticket = (await api.data(REQUEST_UPLOAD, {"l": listing_id}, who=who))["requestPhotoUpload"]
    async with httpx.AsyncClient() as s3:
        response = await s3.post(
            ticket["url"], data=ticket["fields"], files={"file": ("p.png", content, "image/png")}
        )
    assert response.status_code in (200, 201, 204), response.text
    confirmed = await api.data(CONFIRM, {"l": listing_id, "u": ticket["id"]}, who=who)
    photo_id: str = confirmed["confirmPhotoUpload"]["id"]
    return photo_id


class Document(HTMLParser):
    """The parts of a page a crawler reads: meta tags, links, JSON-LD, images, text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.images: list[dict[str, str]] = []
        self.scripts: list[tuple[str, str]] = []
        self.title = ""
        self._in: str | None = None
        self._script_type = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "meta" and ("name" in a or "property" in a):
            self.meta[a.get("name") or a["property"]] = a.get("content", "")
        elif tag == "link":
            self.links[a["rel"]] = a["href"]
        elif tag == "img":
            self.images.append(a)
        elif tag in ("title", "script"):
            self._in = tag
            self._script_type = a.get("type", "")

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
        elif self._in == "script":
            self.scripts.append((self._script_type, data))

    def json_ld(self) -> Any:
        (body,) = [text for kind, text in self.scripts if kind == "application/ld+json"]
        return json.loads(body)


async def page(api, slug: str, **headers: str) -> httpx.Response:
    return await api.client.get(f"/homes/{slug}", headers=headers)


async def test_a_public_page_has_the_listing_and_complete_metadata(api, realtor):
    listing = await api.create_listing(realtor)
    seo = (await api.data(SEO, {"id": listing["id"]}))["listing"]["seo"]
    response = await page(api, listing["slug"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    doc = Document(html)
    assert doc.title == seo["title"]
    assert doc.meta["description"] == seo["description"]
    assert doc.links["canonical"] == seo["canonicalUrl"] == f"{PUBLIC_URL}/homes/{listing['slug']}"
    assert doc.meta["og:title"] == seo["title"]
    assert doc.meta["og:url"] == seo["canonicalUrl"]
    assert doc.meta["og:description"] == seo["description"]
    assert doc.meta["twitter:card"] == "summary"  # no photo yet
    assert "og:image" not in doc.meta
    assert doc.json_ld() == seo["jsonLd"]
    assert "<h1>Sunny craftsman bungalow with garden</h1>" in html
    assert "$450,000" in html
    for fact in ("3 bedrooms", "2.5 bathrooms", "1,850 sq ft", "Home"):
        assert f"<li>{fact}</li>" in html
    assert "1421 Maple Avenue, Portland, OR 97214" in html
    tour = f'href="{PUBLIC_URL}/tours/new?listing={listing["id"]}"'
    assert tour in html and "Request a tour" in html
    assert f"/realtors/{realtor[0]}" in html
    assert 'id="offline-note"' in html and "Saved for offline" in html
    assert "/homes/sw.js" in html
    css = re.search(r"<style>(.*?)</style>", html, re.S)
    assert css is not None and len(css.group(1)) < 4096  # inline and small
    assert '<link rel="stylesheet"' not in html


async def test_photos_cover_first_lazy_below_the_fold_and_in_the_cards(api, realtor):
    listing = await api.create_listing(realtor)
    ids = [await add_photo(api, realtor, listing["id"], png_bytes()) for _ in range(3)]
    await api.data(
        "mutation($l: ID!, $p: ID!) { setCoverPhoto(listingId: $l, photoId: $p) { id } }",
        {"l": listing["id"], "p": ids[2]},
        who=realtor,
    )
    doc = Document((await page(api, listing["slug"])).text)
    assert len(doc.images) == 3
    cover, *rest = doc.images
    assert "loading" not in cover and cover["fetchpriority"] == "high"
    assert all(img["loading"] == "lazy" for img in rest)
    assert all(img["srcset"].startswith(img["src"]) and img["alt"] for img in doc.images)
    assert cover["alt"].endswith("photo 1 of 3")
    assert doc.meta["og:image"] == cover["src"] == doc.meta["twitter:image"]
    assert doc.meta["twitter:card"] == "summary_large_image"
    photos = (
        await api.data(
            "query($id: ID!) { listing(id: $id) { photos { id url isCover } } }",
            {"id": listing["id"]},
        )
    )["listing"]["photos"]
    (cover_photo,) = [p for p in photos if p["isCover"]]
    assert cover_photo["id"] == ids[2]
    assert cover["src"].split("?")[0] == cover_photo["url"].split("?")[0]
    assert [i.split("?")[0] for i in doc.json_ld()["image"]] == [
        p["url"].split("?")[0] for p in photos
    ]


async def test_a_page_that_is_not_public_is_404_and_an_outdated_slug_301(api, realtor):
    draft = await api.create_listing(realtor, status="DRAFT")
    response = await page(api, draft["slug"])
    assert response.status_code == 404
    doc = Document(response.text)
    assert doc.meta["robots"] == "noindex"
    assert "This home is not listed" in response.text
    active = await api.create_listing(realtor)
    await api.data(UPDATE, {"id": active["id"], "input": {"status": "WITHDRAWN"}}, who=realtor)
    assert (await page(api, active["slug"])).status_code == 404
    assert (await page(api, "no-such-home")).status_code == 404
    # an outdated slug redirects permanently to the current page
    listing = await api.create_listing(realtor)
    slug = listing["slug"]
    renamed = await api.data(
        UPDATE, {"id": listing["id"], "input": {"title": "Renovated loft"}}, who=realtor
    )
    assert renamed["updateListing"]["slug"] == slug  # slugs are stable across title edits
    tail = slug.rsplit("-", 1)[1]
    for old in (f"sunny-bungalow-portland-or-{tail}", tail):
        response = await api.client.get(f"/homes/{old}?utm_source=chat")
        assert response.status_code == 301
        assert response.headers["location"] == f"/homes/{slug}?utm_source=chat"
    draft = await api.create_listing(realtor, status="DRAFT")
    draft_tail = draft["slug"].rsplit("-", 1)[1]
    assert (await page(api, f"old-words-{draft_tail}")).status_code == 404


async def test_pages_are_cacheable_and_revalidate_with_their_etag(api, realtor, parts):
    listing = await api.create_listing(realtor)
    first = await page(api, listing["slug"])
    tag = first.headers["etag"]
    assert tag.startswith('W/"')
    assert first.headers["cache-control"] == parts.pages.cache_control()
    assert "s-maxage=" in first.headers["cache-control"]
    again = await page(api, listing["slug"], **{"if-none-match": tag})
    assert again.status_code == 304 and again.headers["etag"] == tag and not again.content
    await api.data(UPDATE, {"id": listing["id"], "input": {"bedrooms": 4}}, who=realtor)
    changed = await page(api, listing["slug"], **{"if-none-match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    assert "<li>4 bedrooms</li>" in changed.text
    # no distribution configured: nothing purges a CDN, nothing subscribes for it
    assert parts.settings.cdn_distribution_id is None and parts.cdn_purger is None


def test_cache_lifetimes_stay_under_half_a_signed_photo_url():
    with_cdn = PagesConfig(public_url=PUBLIC_URL, app_url=PUBLIC_URL)
    assert with_cdn.cache_control() == "public, max-age=300, s-maxage=86400"
    signed = PagesConfig(public_url=PUBLIC_URL, app_url=PUBLIC_URL, photo_url_lifetime=3600)
    assert signed.cache_control() == "public, max-age=300, s-maxage=1800"
    short = PagesConfig(public_url=PUBLIC_URL, app_url=PUBLIC_URL, photo_url_lifetime=120)
    assert short.cache_control() == "public, max-age=60, s-maxage=60"


async def test_robots_txt_sitemap_and_service_worker_are_served(api, realtor):
    response = await api.client.get("/homes/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    assert 'addEventListener("fetch"' in response.text
    robots = await api.client.get("/robots.txt")
    assert robots.status_code == 200
    assert f"Sitemap: {PUBLIC_URL}/sitemap.xml" in robots.text.splitlines()
    assert "Disallow: /homes/" not in robots.text
    made = [await api.create_listing(realtor, title=f"Home number {n}") for n in range(2)]
    await api.create_listing(realtor, status="DRAFT")
    sitemap = ET.fromstring((await api.client.get("/sitemap.xml")).text)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = sorted(e.text or "" for e in sitemap.findall("s:url/s:loc", ns))
    canonical = []
    for listing in made:
        doc = Document((await page(api, listing["slug"])).text)
        canonical.append(doc.links["canonical"])
    assert locs == sorted(canonical)


def make_listing(details: Any, title: str, **attrs: Any) -> Listing:
    who = Principal(user_id=uuid.uuid4(), role=Role.REALTOR)
    now = datetime(2026, 5, 1, tzinfo=UTC)
    return Listing.create(
        by=who, details=details(title, **attrs), status=ListingStatus.ACTIVE,
        time_zone=None, now=now,
    )  # fmt: skip


def test_every_value_is_escaped_in_markup_and_in_the_json_ld(details):
    hostile = 'Nice </script><script>alert("x")</script> & <b>home</b>'
    listing = make_listing(details, hostile, description="<img src=x onerror=alert(1)>")
    seo = build_seo(listing, public_url=PUBLIC_URL, photo_urls=[])
    view = page_view(listing, [], seo=seo, urls={}, app_url=PUBLIC_URL)
    html = Renderer().render("listing.html", page=view, public_url=PUBLIC_URL)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;/script&gt;&lt;script&gt;alert" in html
    doc = Document(html)
    assert doc.json_ld()["name"] == hostile  # the same text, safely encoded
    ld = next(text for kind, text in doc.scripts if kind == "application/ld+json")
    assert "</script" not in ld and "\\u003c/script\\u003e" in ld


def test_the_gallery_starts_with_the_cover(details):
    listing = make_listing(details, "Corner house")
    photos = [
        Photo(id=uuid.uuid4(), key=f"k{n}", content_type="image/png", size=1, position=n,
              is_cover=n == 1)
        for n in range(3)
    ]  # fmt: skip
    urls = {p.id: f"https://cdn.test/{p.key}" for p in photos}
    seo = build_seo(listing, public_url=PUBLIC_URL, photo_urls=list(urls.values()))
    view = page_view(listing, photos, seo=seo, urls=urls, app_url="https://app.test/")
    assert [p.url for p in view.pictures] == [
        "https://cdn.test/k1", "https://cdn.test/k0", "https://cdn.test/k2"
    ]  # fmt: skip
    assert [p.eager for p in view.pictures] == [True, False, False]
    assert view.tour_url == f"https://app.test/tours/new?listing={listing.id}"


def test_prices_read_as_people_write_them():
    from listings.domain import PropertyType

    assert price_label(Money.of(45_000_000, "USD"), PropertyType.RESIDENTIAL) == "$450,000"
    assert price_label(Money.of(250_050, "EUR"), PropertyType.CONDO) == "€2,500.50"
    assert price_label(Money.of(320_000, "USD"), PropertyType.RENTAL) == "$3,200/month"
    assert price_label(Money.of(1_000_000, "JPY"), PropertyType.LAND) == "1,000,000 JPY"


# -- the CDN purge ---------------------------------------------------------------------------
def listing_event(subject: str, message: Any, listing_id: uuid.UUID) -> Event:
    return Event(
        id=uuid.uuid4(), type=message.DESCRIPTOR.full_name, subject=subject,
        subject_id=str(listing_id), actor=None, time=datetime.now(UTC), source="listings",
        payload=message.SerializeToString(), traceparent="", tracestate="",
    )  # fmt: skip


async def test_a_listing_change_invalidates_its_page_on_cloudfront(api, realtor, queries):
    import boto3

    listing = await api.create_listing(realtor)
    lid = uuid.UUID(listing["id"])
    client = boto3.client(
        "cloudfront", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    purger = CdnPurger(queries, CloudFrontInvalidator(client, "E2DIST"))
    updated = listing_event(
        "listings.listing.updated",
        listings_pb2.ListingUpdated(
            listing=listings_pb2.Listing(id=str(lid), slug=listing["slug"])
        ),
        lid,
    )
    status = listing_event(
        "listings.listing.status_changed",
        listings_pb2.ListingStatusChanged(listing_id=str(lid)),
        lid,
    )
    deleted = listing_event(
        "listings.listing.deleted", listings_pb2.ListingDeleted(listing_id=str(lid)), lid
    )
    created = listing_event("listings.listing.created", listings_pb2.ListingCreated(), lid)
    answer = {
        "Location": "https://cloudfront.test/inv",
        "Invalidation": {
            "Id": "I1", "Status": "InProgress", "CreateTime": datetime.now(UTC),
            "InvalidationBatch": {"Paths": {"Quantity": 1, "Items": ["/"]}, "CallerReference": "r"},
        },
    }  # fmt: skip
    with Stubber(client) as stub:
        for event, paths in (
            (updated, [f"/homes/{listing['slug']}"]),
            (status, [f"/homes/{listing['slug']}"]),
            (deleted, ["/homes/*"]),
        ):
            stub.add_response(
                "create_invalidation",
                answer,
                {
                    "DistributionId": "E2DIST",
                    "InvalidationBatch": {
                        "Paths": {"Quantity": len(paths), "Items": paths},
                        "CallerReference": str(event.id),
                    },
                },
            )
        for event in (created, updated, status, deleted):
            await purger.on_listing_event(event, uow=None)  # type: ignore[arg-type]
        stub.assert_no_pending_responses()
    assert [(s.subject, s.durable) for s in purger.subscriptions()] == [
        ("listings.listing.updated", "pages-cdn-updated"),
        ("listings.listing.status_changed", "pages-cdn-status_changed"),
        ("listings.listing.deleted", "pages-cdn-deleted"),
    ]  # never the page views
