"""A value type's fields from three subgraphs: two through the parent entity, one by its key.

Only `feed` answers `listingFromFeed`; the listing's `area` is shareable in `notes` and
`zoning`, neither of which resolves the listing's own `id`. `notes` alone knows the area's
`details`, `zoning` alone its `id`, and `areas` its `name` by that id (the area is an
entity there). So `notes` and `zoning` are re-entered through the listing in parallel,
and `areas` after `zoning`, with the id it returned.
"""

from __future__ import annotations

from typing import Any


def _federation(kit: Any) -> Any:
    feed = kit.Service(
        "feed",
        """
        type Query { listingFromFeed(id: ID!): Listing }
        type Listing @key(fields: "id") { id: ID!  title: String }
        """,
        root={"listingFromFeed": lambda args: {"id": args["id"], "title": f"Listing#{args['id']}"}},
        entities={"Listing": lambda rep: {"id": rep["id"], "title": f"Listing#{rep['id']}"}},
    )
    notes = kit.Service(
        "notes",
        """
        type Listing @key(fields: "id") { id: ID @external  area: Area @shareable }
        type Area { details: String }
        """,
        entities={
            "Listing": lambda rep: {
                "id": rep["id"],
                "area": {"details": f"Details for Listing#{rep['id']}"},
            }
        },
    )
    zoning = kit.Service(
        "zoning",
        """
        type Listing @key(fields: "id") { id: ID @external  area: Area @shareable }
        type Area { id: ID @shareable }
        """,
        entities={"Listing": lambda rep: {"id": rep["id"], "area": {"id": "3"}}},
    )
    areas = kit.Service(
        "areas",
        'type Area @key(fields: "id") { id: ID  name: String }',
        entities={"Area": lambda rep: {"id": rep["id"], "name": f"Area#{rep['id']}"}},
    )
    return kit.Federation(feed, notes, zoning, areas)


async def test_each_field_of_the_value_type_comes_from_where_it_lives(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        '{ listingFromFeed(id: "1") { id title area { id name details } } }'
    )
    assert result == {
        "data": {
            "listingFromFeed": {
                "id": "1",
                "title": "Listing#1",
                "area": {"id": "3", "name": "Area#3", "details": "Details for Listing#1"},
            }
        }
    }
    fetched = federation.fetched
    assert fetched[0] == "feed" and sorted(fetched[1:3]) == ["notes", "zoning"]
    assert fetched[3:] == ["areas"]
    assert federation.services["notes"].representations == [[{"__typename": "Listing", "id": "1"}]]
    assert federation.services["zoning"].representations == [[{"__typename": "Listing", "id": "1"}]]
    assert federation.services["areas"].representations == [[{"__typename": "Area", "id": "3"}]]
