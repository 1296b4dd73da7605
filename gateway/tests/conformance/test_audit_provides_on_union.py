"""`@provides` through a union: a shareable root field providing one member's field.

`catalog` and `offers` both resolve `offers: [Offer]` (a union of two entities);
`offers` provides `... on Sale { headline }` and `notes` holds both members' headlines.
The plan must take the root from `offers` (which also answers the Sale's headline in the
same fetch) and `catalog` never: a Rental's headline comes from `notes` through its key.
"""

from __future__ import annotations

from typing import Any

OFFERS = [
    {"__typename": "Sale", "id": "s1", "headline": "Sunny flat"},
    {"__typename": "Rental", "id": "r1", "headline": "Quiet room"},
]


def _never(*_: Any) -> Any:
    raise AssertionError("the offers come from the subgraph providing the headline")


def _federation(kit: Any) -> Any:
    catalog = kit.Service(
        "catalog",
        """
        type Query { offers: [Offer] @shareable }
        union Offer = Sale | Rental
        type Sale @key(fields: "id") { id: ID! }
        type Rental @key(fields: "id") { id: ID! }
        """,
        root={"offers": _never},
    )
    offers = kit.Service(
        "offers",
        """
        type Query { offers: [Offer] @shareable @provides(fields: "... on Sale { headline }") }
        union Offer = Sale | Rental
        type Sale @key(fields: "id") { id: ID!  headline: String @external }
        type Rental @key(fields: "id") { id: ID! }
        """,
        root={
            "offers": lambda args: [
                o if o["__typename"] == "Sale" else {"__typename": o["__typename"], "id": o["id"]}
                for o in OFFERS
            ]
        },
    )

    def by_id(rep: dict[str, Any]) -> Any:
        return next((o for o in OFFERS if o["id"] == rep["id"]), None)

    def sale(rep: dict[str, Any]) -> Any:
        raise AssertionError("a sale's headline comes with the offers")

    notes = kit.Service(
        "notes",
        """
        type Sale @key(fields: "id") { id: ID!  headline: String @shareable }
        type Rental @key(fields: "id") { id: ID!  headline: String @shareable }
        """,
        entities={"Sale": sale, "Rental": by_id},
    )
    return kit.Federation(catalog, offers, notes)


async def test_the_provided_member_field_comes_with_the_root(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ offers { ... on Sale { id headline } ... on Rental { id } } }")
    assert result == {"data": {"offers": [{"id": "s1", "headline": "Sunny flat"}, {"id": "r1"}]}}
    assert federation.fetched == ["offers"]
    assert federation.subgraph_errors() == []


async def test_the_member_not_provided_is_fetched_by_its_key(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        "{ offers { ... on Sale { id headline } ... on Rental { id headline } } }"
    )
    assert result == {
        "data": {
            "offers": [
                {"id": "s1", "headline": "Sunny flat"},
                {"id": "r1", "headline": "Quiet room"},
            ]
        }
    }
    assert federation.fetched == ["offers", "notes"]
    assert federation.subgraph_errors() == []
    assert federation.services["notes"].representations == [[{"__typename": "Rental", "id": "r1"}]]
