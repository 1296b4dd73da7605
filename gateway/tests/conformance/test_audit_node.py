"""A `Node` interface three subgraphs define, with entities only one of them fills in.

`directory` answers `listingNode: Node` with just the listing's id; `mirror` defines the
same interface and entities again and knows nothing more; `details` holds the listing's
`title` and `price` (its `Listing` shareable). A fragment on `Listing` under the
interface field is answered by one entity call to `details`, the type name kept.
"""

from __future__ import annotations

from typing import Any

LISTINGS = {
    "l-1": {"title": "Listing 1", "price": 10.0},
    "l-2": {"title": "Listing 2", "price": 20.0},
}
OFFICES = {"o-1": "Office 1", "o-2": "Office 2"}


def _never(rep: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError(f"mirror has nothing more to say about {rep}")


def _federation(kit: Any) -> Any:
    entities = """
        interface Node { id: ID! }
        type Listing implements Node @key(fields: "id") { id: ID! }
        type Office implements Node @key(fields: "id") { id: ID! }
    """
    directory = kit.Service(
        "directory",
        "type Query { listingNode: Node  officeNode: Node }" + entities,
        root={
            "listingNode": {"__typename": "Listing", "id": "l-1"},
            "officeNode": {"__typename": "Office", "id": "o-1"},
        },
        entities={
            "Listing": lambda rep: {"id": rep["id"]},
            "Office": lambda rep: {"id": rep["id"]},
        },
    )
    mirror = kit.Service("mirror", entities, entities={"Listing": _never, "Office": _never})
    details = kit.Service(
        "details",
        """
        interface Node { id: ID! }
        type Listing implements Node @key(fields: "id") @shareable {
          id: ID!  title: String!  price: Float!
        }
        type Office implements Node @key(fields: "id") { id: ID!  name: String! }
        """,
        entities={
            "Listing": lambda rep: {"id": rep["id"], **LISTINGS[rep["id"]]},
            "Office": lambda rep: {"id": rep["id"], "name": OFFICES[rep["id"]]},
        },
    )
    return kit.Federation(directory, mirror, details)


async def test_a_fragment_under_the_interface_is_filled_in_by_its_entity(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        "{ listingNode { ... on Listing { id title __typename price } } }"
    )
    assert result == {
        "data": {
            "listingNode": {"id": "l-1", "title": "Listing 1", "__typename": "Listing", "price": 10}
        }
    }
    assert federation.fetched == ["directory", "details"]
    assert federation.services["details"].representations == [
        [{"__typename": "Listing", "id": "l-1"}]
    ]


async def test_the_other_member_s_fragment_is_not_fetched(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        "{ officeNode { id ... on Listing { title } ... on Office { name } } }"
    )
    assert result == {"data": {"officeNode": {"id": "o-1", "name": "Office 1"}}}
    assert federation.fetched == ["directory", "details"]
    assert federation.services["details"].representations == [
        [{"__typename": "Office", "id": "o-1"}]
    ]
