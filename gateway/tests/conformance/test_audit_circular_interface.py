"""An interface field returning the interface, narrowed and `@provides` in the implementation.

`catalog` declares `interface Listing { similar: Listing }` and `House.similar: House
@provides(fields: "rent")`, with `rent` `@external` there and owned by `pricing`. The
client walks `similar` through the interface and through the object: `rent` of a house
reached by `similar` is provided (no fetch), `rent` of the root house is not (pricing).
"""

from __future__ import annotations

from typing import Any

HOUSES = {"1": 10.99, "2": 14.5, "3": 10.99}


def _similar(house_id: str) -> dict[str, Any] | None:
    other = next(
        (h for h, rent in HOUSES.items() if rent == HOUSES[house_id] and h != house_id), None
    )
    if other is None:
        return None
    return {
        "__typename": "House",
        "id": other,
        "rent": HOUSES[other],
        "similar": lambda *_: _similar(other),
    }


def _federation(kit: Any) -> Any:
    catalog = kit.Service(
        "catalog",
        """
        type Query { listing: Listing }
        interface Listing { similar: Listing }
        type House implements Listing @key(fields: "id") {
          id: ID!
          similar: House @provides(fields: "rent")
          rent: Float @external
        }
        """,
        root={"listing": {"__typename": "House", "id": "1", "similar": lambda *_: _similar("1")}},
    )
    pricing = kit.Service(
        "pricing",
        'type House @key(fields: "id") { id: ID!  rent: Float @shareable }',
        entities={"House": lambda rep: {"id": rep["id"], "rent": HOUSES[rep["id"]]}},
    )
    return kit.Federation(catalog, pricing)


async def test_the_interface_field_walked_twice_stays_in_one_subgraph(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        "{ listing { similar { ... on Listing { similar { __typename } } } } }"
    )
    assert result == {"data": {"listing": {"similar": {"similar": {"__typename": "House"}}}}}
    assert federation.fetched == ["catalog"]


async def test_provided_rent_is_read_in_place_the_root_rent_comes_from_its_owner(
    kit: Any,
) -> None:
    federation = _federation(kit)
    result = await federation.run(
        """
        { listing {
            __typename
            similar { __typename ... on House { id } similar { __typename ... on House { id } } }
            ... on House { __typename id rent similar { id rent } }
        } }
        """
    )
    assert result == {
        "data": {
            "listing": {
                "__typename": "House",
                "similar": {
                    "__typename": "House",
                    "id": "3",
                    "similar": {"__typename": "House", "id": "1"},
                    "rent": 10.99,
                },
                "id": "1",
                "rent": 10.99,
            }
        }
    }
    assert federation.fetched == ["catalog", "pricing"]
    assert federation.services["pricing"].representations[-1] == [
        {"__typename": "House", "id": "1"}
    ]
