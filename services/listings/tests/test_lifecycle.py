"""Creating, changing and deleting listings through the subgraph: rules, ownership, events."""

from __future__ import annotations

import uuid
from typing import Any

from listings.tables import listings
from servicekit.db import Database
from servicekit.tables import outbox
from sqlalchemy import func, select

UPDATE = """
mutation($id: ID!, $input: UpdateListingInput!) {
  updateListing(id: $id, input: $input) { id title status timeZone price { amount } updatedAt }
}
"""
DELETE = "mutation($id: ID!) { deleteListing(id: $id) }"
GET = "query($id: ID, $slug: String) { listing(id: $id, slug: $slug) { id title status } }"


async def outbox_subjects(db: Database) -> list[str]:
    async with db.session() as session:
        rows = await session.execute(select(outbox.c.subject).order_by(outbox.c.seq))
        return [r.subject for r in rows]


async def listing_count(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(select(func.count()).select_from(listings))).scalar_one())


async def test_realtor_creates_listing_with_derived_time_zone_and_stable_slug(api, realtor, db):
    created = await api.create_listing(realtor)
    assert created["realtor"]["id"] == str(realtor[0])
    assert created["timeZone"] == "America/Los_Angeles"
    assert created["status"] == "ACTIVE"
    assert created["price"] == {"amount": 45_000_000, "currency": "USD"}
    assert created["slug"].startswith("sunny-craftsman-bungalow-with-garden-portland-or-")

    renamed = await api.data(
        UPDATE, {"id": created["id"], "input": {"title": "Renamed home"}}, who=realtor
    )
    assert renamed["updateListing"]["title"] == "Renamed home"
    by_slug = await api.data(GET, {"slug": created["slug"]})
    assert by_slug["listing"]["id"] == created["id"], "slug survives a title change"
    assert await outbox_subjects(db) == ["listings.listing.created", "listings.listing.updated"]


async def test_explicit_time_zone_is_validated(api, realtor, db):
    created = await api.create_listing(realtor, timeZone="America/Boise")
    assert created["timeZone"] == "America/Boise"
    code = await api.error_code(
        "mutation($input: CreateListingInput!) { createListing(input: $input) { id } }",
        {"input": api.listing_input(timeZone="Mars/Olympus_Mons")},
        who=realtor,
    )
    assert code == "BAD_USER_INPUT"
    assert await listing_count(db) == 1


async def test_only_realtors_create(api, buyer, admin, db):
    """Creating a listing makes the caller its realtor: an admin manages any listing but
    never becomes a party, so it may not create one either."""
    create = "mutation($input: CreateListingInput!) { createListing(input: $input) { id } }"
    variables = {"input": api.listing_input()}
    assert await api.error_code(create, variables, who=buyer) == "FORBIDDEN"
    assert await api.error_code(create, variables, who=admin) == "FORBIDDEN"
    assert await api.error_code(create, variables) == "UNAUTHENTICATED"
    assert await listing_count(db) == 0


BAD_INPUTS: list[tuple[dict[str, Any], str]] = [
    ({"price": {"amount": -100, "currency": "USD"}}, "input.price.amount"),
    ({"price": {"amount": 100, "currency": "XXQ"}}, "input.price.currency"),
    ({"location": {"lat": 91.0, "lng": 0.0}}, "input.location.lat"),
    ({"location": {"lat": 10.0, "lng": -181.0}}, "input.location.lng"),
    ({"title": "x" * 121}, "input.title"),
    ({"title": "   "}, "input.title"),
    ({"description": "y" * 10_001}, "input.description"),
    ({"bedrooms": -1}, "input.bedrooms"),
    ({"bathrooms": 2.3}, "input.bathrooms"),
    ({"livingAreaSqft": 0}, "input.livingAreaSqft"),
    ({"status": "PENDING"}, "input.status"),
    (
        {
            "address": {
                "street": "1 Main St",
                "city": "Nowhere",
                "state": "ZZ",
                "postalCode": "00000",
                "country": "US",
            }
        },
        "input.address.state",
    ),
]


async def test_bad_input_is_rejected_and_nothing_stored(api, realtor, db):
    for override, field in BAD_INPUTS:
        body = await api.call(
            "mutation($input: CreateListingInput!) { createListing(input: $input) { id } }",
            {"input": api.listing_input(**override)},
            who=realtor,
        )
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["extensions"]["field"] == field
    assert await listing_count(db) == 0
    assert await outbox_subjects(db) == []


async def test_unknown_enum_value_is_a_coded_error(api, realtor, db):
    code = await api.error_code(
        "mutation($input: CreateListingInput!) { createListing(input: $input) { id } }",
        {"input": api.listing_input(propertyType="CASTLE")},
        who=realtor,
    )
    assert code in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")
    assert await listing_count(db) == 0


async def test_status_follows_allowed_transitions(api, realtor, db):
    created = await api.create_listing(realtor, status="DRAFT")
    lid = created["id"]

    async def move(status: str) -> dict[str, Any]:
        return await api.call(UPDATE, {"id": lid, "input": {"status": status}}, who=realtor)

    assert (await move("PENDING"))["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    for status in ("ACTIVE", "PENDING", "ACTIVE", "PENDING", "CLOSED"):
        body = await move(status)
        assert not body.get("errors"), body
        assert body["data"]["updateListing"]["status"] == status
    assert (await move("ACTIVE"))["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert not (await move("WITHDRAWN")).get("errors")
    assert not (await move("DRAFT")).get("errors")
    subjects = await outbox_subjects(db)
    assert subjects.count("listings.listing.status_changed") == 7


async def test_draft_and_withdrawn_are_visible_to_the_owner_only(
    api, realtor, other_realtor, buyer, admin
):
    draft = await api.create_listing(realtor, status="DRAFT")
    for who in (None, buyer, other_realtor):
        assert (await api.data(GET, {"id": draft["id"]}, who=who))["listing"] is None
    assert (await api.data(GET, {"id": draft["id"]}, who=realtor))["listing"]["id"] == draft["id"]
    assert (await api.data(GET, {"id": draft["id"]}, who=admin))["listing"]["id"] == draft["id"]

    search = "query($f: ListingFilter) { listings(filter: $f) { edges { node { id } } } }"
    statuses = {"f": {"statuses": ["DRAFT", "WITHDRAWN", "ACTIVE"]}}
    assert (await api.data(search, statuses, who=other_realtor))["listings"]["edges"] == []
    mine = await api.data(search, statuses, who=realtor)
    assert [e["node"]["id"] for e in mine["listings"]["edges"]] == [draft["id"]]

    active = await api.create_listing(realtor)
    assert (await api.data(GET, {"id": active["id"]}))["listing"]["status"] == "ACTIVE"


async def test_listing_lookup_needs_exactly_one_key(api):
    assert await api.error_code("{ listing { id } }") == "BAD_USER_INPUT"
    assert await api.error_code('{ listing(id: "nope") { id } }') == "BAD_USER_INPUT"
    missing = await api.data(
        "query($id: ID) { listing(id: $id) { id } }", {"id": str(uuid.uuid4())}
    )
    assert missing["listing"] is None


async def test_update_ownership(api, realtor, other_realtor, buyer, admin, db):
    created = await api.create_listing(realtor)
    variables = {"id": created["id"], "input": {"title": "Taken over"}}
    assert await api.error_code(UPDATE, variables, who=other_realtor) == "FORBIDDEN"
    assert await api.error_code(UPDATE, variables, who=buyer) == "FORBIDDEN"
    assert await api.error_code(UPDATE, variables) == "UNAUTHENTICATED"
    unchanged = await api.data(GET, {"id": created["id"]})
    assert unchanged["listing"]["title"] == created["title"]
    owner = await api.data(UPDATE, {"id": created["id"], "input": {"title": "Mine"}}, who=realtor)
    assert owner["updateListing"]["title"] == "Mine"
    by_admin = await api.data(UPDATE, {"id": created["id"], "input": {"title": "Fixed"}}, who=admin)
    assert by_admin["updateListing"]["title"] == "Fixed"
    missing = {"id": str(uuid.uuid4()), "input": {"title": "x"}}
    assert await api.error_code(UPDATE, missing, who=realtor) == "NOT_FOUND"


async def test_delete_ownership(api, realtor, other_realtor, buyer, admin, db):
    created = await api.create_listing(realtor)
    variables = {"id": created["id"]}
    assert await api.error_code(DELETE, variables, who=other_realtor) == "FORBIDDEN"
    assert await api.error_code(DELETE, variables, who=buyer) == "FORBIDDEN"
    assert await api.error_code(DELETE, variables) == "UNAUTHENTICATED"
    assert await listing_count(db) == 1
    assert (await api.data(DELETE, variables, who=realtor))["deleteListing"] is True
    assert (await api.data(GET, variables))["listing"] is None
    assert await api.error_code(DELETE, variables, who=realtor) == "NOT_FOUND"
    other = await api.create_listing(realtor)
    assert (await api.data(DELETE, {"id": other["id"]}, who=admin))["deleteListing"] is True
    assert (await outbox_subjects(db)).count("listings.listing.deleted") == 2


async def test_errors_name_the_input_by_its_path_in_the_operation(api, realtor):
    created = await api.create_listing(realtor)
    bad_price = {"id": created["id"], "input": {"price": {"amount": 0, "currency": "USD"}}}
    body = await api.call(UPDATE, bad_price, who=realtor)
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "input.price.amount",
    }
    body = await api.call(UPDATE, {"id": created["id"], "input": {"status": "CLOSED"}}, who=realtor)
    assert body["errors"][0]["extensions"]["field"] == "input.status"
    body = await api.call(UPDATE, {"id": "nope", "input": {"title": "x"}}, who=realtor)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}
    body = await api.call(UPDATE, {"id": str(uuid.uuid4()), "input": {"title": "x"}}, who=realtor)
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "id"}
    upload = """
    mutation($l: ID!) { requestPhotoUpload(listingId: $l, contentType: "image/png", fileName: "a") { id } }
    """
    body = await api.call(upload, {"l": str(uuid.uuid4())}, who=realtor)
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "listingId"}


async def test_update_changes_time_zone_when_the_property_moves(api, realtor):
    created = await api.create_listing(realtor)
    moved = await api.data(
        UPDATE,
        {
            "id": created["id"],
            "input": {
                "address": {
                    "street": "12 Ocean Drive",
                    "city": "Miami",
                    "state": "fl",
                    "postalCode": "33139",
                    "country": "us",
                }
            },
        },
        who=realtor,
    )
    assert moved["updateListing"]["timeZone"] == "America/New_York"
    nulled = await api.call(UPDATE, {"id": created["id"], "input": {"title": None}}, who=realtor)
    assert nulled["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
