"""Public pages support: `Listing.seo` (JSON-LD) and `/sitemap.xml`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from decimal import Decimal

import httpx
from listings.sitemap import sitemap_route
from starlette.applications import Starlette

SEO = """
query($id: ID!) { listing(id: $id) { slug seo { title description canonicalUrl jsonLd } } }
"""
NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
PUBLIC_URL = "https://www.realty.test"


def check_real_estate_listing(doc: dict) -> None:
    """The shape schema.org gives RealEstateListing (a WebPage) with an Offer and a place."""
    assert doc["@context"] == "https://schema.org"
    assert doc["@type"] == "RealEstateListing"
    for key in ("name", "description", "url", "datePosted"):
        assert isinstance(doc[key], str) and doc[key]
    assert len(doc["datePosted"]) == 10  # ISO 8601 date
    offer = doc["offers"]
    assert offer["@type"] == "Offer"
    Decimal(offer["price"])  # a number as text, in major units
    assert len(offer["priceCurrency"]) == 3
    assert offer["availability"].startswith("https://schema.org/")
    home = doc["about"]
    assert home["@type"] in {
        "SingleFamilyResidence", "Apartment", "House", "ApartmentComplex", "Place",
        "Accommodation", "Landform",
    }  # fmt: skip
    address = home["address"]
    assert address["@type"] == "PostalAddress"
    for key in (
        "streetAddress",
        "addressLocality",
        "addressRegion",
        "postalCode",
        "addressCountry",
    ):
        assert isinstance(address[key], str) and address[key]
    assert isinstance(home["numberOfBedrooms"], int)
    assert isinstance(home["numberOfBathroomsTotal"], (int, float))
    json.dumps(doc)


async def test_seo_fields_and_json_ld(api, realtor):
    listing = await api.create_listing(realtor)
    data = (await api.data(SEO, {"id": listing["id"]}))["listing"]
    seo = data["seo"]
    assert seo["canonicalUrl"] == f"{PUBLIC_URL}/homes/{data['slug']}"
    assert seo["title"].startswith("Sunny craftsman bungalow with garden | 1421 Maple Avenue")
    assert len(seo["description"]) <= 160
    assert seo["description"].startswith(
        "3 bd, 2.5 ba, 1,850 sqft home in Portland, OR for $450,000."
    )
    doc = seo["jsonLd"]
    check_real_estate_listing(doc)
    assert doc["url"] == seo["canonicalUrl"]
    assert doc["offers"]["price"] == "450000.00"
    assert doc["offers"]["priceCurrency"] == "USD"
    assert doc["offers"]["availability"] == "https://schema.org/InStock"
    assert doc["about"]["@type"] == "SingleFamilyResidence"
    assert doc["about"]["geo"] == {
        "@type": "GeoCoordinates",
        "latitude": 45.5152,
        "longitude": -122.6431,
    }
    assert doc["about"]["floorSize"]["unitCode"] == "FTK"
    assert doc["about"]["floorSize"]["value"] == 1850
    assert "image" not in doc


async def test_json_ld_for_a_condo_without_coordinates_or_area(api, realtor):
    listing = await api.create_listing(
        realtor,
        propertyType="CONDO",
        location=None,
        livingAreaSqft=None,
        price={"amount": 98_000_000, "currency": "JPY"},
        address={
            "street": "1-2-3 Shibuya",
            "unit": "803",
            "city": "Tokyo",
            "state": "13",
            "postalCode": "150-0002",
            "country": "JP",
        },
    )
    assert listing["timeZone"] == "Asia/Tokyo"
    doc = (await api.data(SEO, {"id": listing["id"]}))["listing"]["seo"]["jsonLd"]
    check_real_estate_listing(doc)
    assert doc["offers"]["price"] == "98000000"
    assert doc["about"]["@type"] == "Apartment"
    assert doc["about"]["address"]["streetAddress"] == "1-2-3 Shibuya 803"
    assert "geo" not in doc["about"] and "floorSize" not in doc["about"]


async def test_sitemap_lists_public_listings_only(api, realtor):
    public = await api.create_listing(realtor)
    pending = await api.create_listing(realtor, title="Under contract")
    await api.data(
        "mutation($id: ID!) { updateListing(id: $id, input: {status: PENDING}) { id } }",
        {"id": pending["id"]},
        who=realtor,
    )
    draft = await api.create_listing(realtor, status="DRAFT", title="Secret draft")
    response = await api.client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)
    locs = {el.text for el in root.findall("s:url/s:loc", NS)}
    assert locs == {
        f"{PUBLIC_URL}/homes/{public['slug']}",
        f"{PUBLIC_URL}/homes/{pending['slug']}",
    }
    assert draft["slug"] not in response.text
    assert all(el.text and len(el.text) == 10 for el in root.findall("s:url/s:lastmod", NS))


async def test_large_sitemaps_become_an_index(api, realtor, queries):
    for n in range(5):
        await api.create_listing(realtor, title=f"Home number {n}")
    app = Starlette(routes=[sitemap_route(queries, public_url=PUBLIC_URL, per_sitemap=2)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        index = ET.fromstring((await client.get("/sitemap.xml")).text)
        parts = [el.text for el in index.findall("s:sitemap/s:loc", NS)]
        assert parts == [f"{PUBLIC_URL}/sitemap.xml?page={n}" for n in (1, 2, 3)]
        seen: list[str] = []
        for n in (1, 2, 3):
            page = ET.fromstring((await client.get(f"/sitemap.xml?page={n}")).text)
            seen += [el.text or "" for el in page.findall("s:url/s:loc", NS)]
        assert len(seen) == len(set(seen)) == 5
        assert (await client.get("/sitemap.xml?page=4")).status_code == 404
        assert (await client.get("/sitemap.xml?page=x")).status_code == 400
