"""Federation: `Listing` references batched, `Listing.realtor`, `User.listings`, the SDL."""

from __future__ import annotations

import uuid

from sqlalchemy import event

ENTITIES = """
query($r: [_Any!]!) {
  _entities(representations: $r) {
    ... on Listing { id title realtor { id } photos { id } }
    ... on User { id listings(first: 10) { totalCount edges { node { id status } } } }
  }
}
"""


async def test_listing_references_cost_one_query(api, realtor, db):
    a = await api.create_listing(realtor, title="First home")
    b = await api.create_listing(realtor, title="Second home")
    draft = await api.create_listing(realtor, title="Hidden", status="DRAFT")
    withdrawn = await api.create_listing(realtor, title="Off the market")
    await api.data(
        "mutation($id: ID!) { updateListing(id: $id, input: {status: WITHDRAWN}) { id } }",
        {"id": withdrawn["id"]},
        who=realtor,
    )
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        reps = [
            {"__typename": "Listing", "id": a["id"]},
            {"__typename": "Listing", "id": b["id"]},
            {"__typename": "Listing", "id": draft["id"]},
            {"__typename": "Listing", "id": withdrawn["id"]},
            {"__typename": "Listing", "id": str(uuid.uuid4())},
        ]
        data = await api.data(ENTITIES, {"r": reps})
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    entities = data["_entities"]
    # Others' drafts never resolve; a withdrawn listing still shows inside its tours.
    assert [e and e["title"] for e in entities] == [
        "First home",
        "Second home",
        None,
        "Off the market",
        None,
    ]
    assert entities[0]["realtor"] == {"id": str(realtor[0])}
    listing_queries = [s for s in statements if "FROM listings" in s]
    photo_queries = [s for s in statements if "FROM listing_photos" in s]
    assert len(listing_queries) == 1 and len(photo_queries) == 1


async def test_user_listings_public_to_others_all_to_self(api, realtor, buyer):
    active = await api.create_listing(realtor)
    draft = await api.create_listing(realtor, status="DRAFT")
    reps = [{"__typename": "User", "id": str(realtor[0])}]
    seen_by_buyer = (await api.data(ENTITIES, {"r": reps}, who=buyer))["_entities"][0]
    assert [e["node"]["id"] for e in seen_by_buyer["listings"]["edges"]] == [active["id"]]
    assert seen_by_buyer["listings"]["totalCount"] == 1
    seen_by_self = (await api.data(ENTITIES, {"r": reps}, who=realtor))["_entities"][0]
    assert [e["node"]["id"] for e in seen_by_self["listings"]["edges"]] == [
        draft["id"],
        active["id"],
    ]


async def test_sdl_declares_the_entities(api):
    sdl = (await api.data("{ _service { sdl } }"))["_service"]["sdl"]
    assert 'type Listing @key(fields: "id")' in sdl
    assert 'type User @key(fields: "id")' in sdl
    assert "listings(status: ListingStatus" in sdl
    assert "type PhotoUpload" in sdl
