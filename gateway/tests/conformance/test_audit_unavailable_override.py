"""`@override(from:)` naming a subgraph that is not in the supergraph.

`tours` overrides `Listing.openedAt` from a subgraph that does not exist: composition
keeps the field where it is declared (both subgraphs, shareable) and the gateway plans
it as any shareable field, from whichever subgraph already holds the listing.
"""

from __future__ import annotations

from typing import Any

OPENED = {"l1": "l1-opened", "l2": "l2-opened"}


def _federation(kit: Any) -> Any:
    def listing(listing_id: str) -> dict[str, Any]:
        return {"id": listing_id, "openedAt": OPENED[listing_id]}

    catalog = kit.Service(
        "catalog",
        """
        type Query { feed: [Listing] @shareable  catalogFeed: [Listing] }
        type Listing @key(fields: "id") { id: ID!  openedAt: String! @shareable }
        """,
        root={"feed": [listing("l1"), listing("l2")], "catalogFeed": [listing("l2")]},
        entities={"Listing": lambda rep: listing(rep["id"])},
    )
    tours = kit.Service(
        "tours",
        """
        type Query { feed: [Listing] @shareable  toursFeed: [Listing] }
        type Listing @key(fields: "id") {
          id: ID!
          openedAt: String! @override(from: "archive") @shareable
        }
        """,
        root={"feed": [listing("l1"), listing("l2")], "toursFeed": [listing("l1")]},
        entities={"Listing": lambda rep: listing(rep["id"])},
    )
    return kit.Federation(catalog, tours)


async def test_an_override_from_an_unknown_subgraph_leaves_the_field_shareable(kit: Any) -> None:
    federation = _federation(kit)
    assert await federation.run("{ feed { openedAt } }") == {
        "data": {"feed": [{"openedAt": "l1-opened"}, {"openedAt": "l2-opened"}]}
    }
    assert len(federation.fetched) == 1


async def test_each_root_field_answers_from_its_own_subgraph(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ catalogFeed { openedAt } toursFeed { openedAt } }")
    assert result == {
        "data": {
            "catalogFeed": [{"openedAt": "l2-opened"}],
            "toursFeed": [{"openedAt": "l1-opened"}],
        }
    }
    assert sorted(federation.fetched) == ["catalog", "tours"]
