"""`@requires` of a field that is itself `@requires`d: a chain across four subgraphs.

`pricing` holds `Home.price` (`@inaccessible`: never in the API), `offers` the root and
`hasDiscount`; `ratings` computes `isPricey` from the price and `isPriceyAfterDiscount`
from the discount; `budgets` computes `canAfford` from `isPricey` and
`canAffordAfterDiscount` from `isPriceyAfterDiscount`. Each field waits for the one it
requires, which waits for its own: the plan must order the fetches by the chain.
"""

from __future__ import annotations

from typing import Any

import pytest

HOME = {"id": "h1", "price": 699.99, "hasDiscount": True}


def _ratings(rep: dict[str, Any]) -> Any:
    found: dict[str, Any] = {"id": rep["id"]}
    if "price" in rep:
        found["isPricey"] = rep["price"] > 500
    if "hasDiscount" in rep:
        found["isPriceyAfterDiscount"] = not rep["hasDiscount"]
    return found


def _budgets(rep: dict[str, Any]) -> Any:
    found: dict[str, Any] = {"id": rep["id"]}
    if "isPricey" in rep:
        found["canAfford"] = not rep["isPricey"]
    if "isPriceyAfterDiscount" in rep:
        found["canAffordAfterDiscount"] = not rep["isPriceyAfterDiscount"]
    return found


def _federation(kit: Any) -> Any:
    pricing = kit.Service(
        "pricing",
        'type Home @key(fields: "id") { id: ID!  price: Float! @inaccessible }',
        entities={"Home": lambda rep: {"id": rep["id"], "price": HOME["price"]}},
    )
    offers = kit.Service(
        "offers",
        """
        type Query { home: Home }
        type Home @key(fields: "id") { id: ID!  hasDiscount: Boolean! }
        """,
        root={"home": {"id": "h1", "hasDiscount": True}},
        entities={"Home": lambda rep: {"id": rep["id"], "hasDiscount": HOME["hasDiscount"]}},
    )
    ratings = kit.Service(
        "ratings",
        """
        type Home @key(fields: "id") {
          id: ID!
          price: Float! @external
          isPricey: Boolean! @requires(fields: "price")
          hasDiscount: Boolean! @external
          isPriceyAfterDiscount: Boolean! @requires(fields: "hasDiscount")
        }
        """,
        entities={"Home": _ratings},
    )
    budgets = kit.Service(
        "budgets",
        """
        type Home @key(fields: "id") {
          id: ID!
          isPricey: Boolean! @external
          canAfford: Boolean! @requires(fields: "isPricey")
          isPriceyAfterDiscount: Boolean! @external
          canAffordAfterDiscount: Boolean! @requires(fields: "isPriceyAfterDiscount")
        }
        """,
        entities={"Home": _budgets},
    )
    return kit.Federation(pricing, offers, ratings, budgets)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("canAfford", {"canAfford": False}),
        ("isPricey", {"isPricey": True}),
        ("isPricey canAfford", {"isPricey": True, "canAfford": False}),
        ("canAffordAfterDiscount", {"canAffordAfterDiscount": True}),
        ("canAfford canAffordAfterDiscount", {"canAfford": False, "canAffordAfterDiscount": True}),
    ],
)
async def test_each_link_of_the_chain_waits_for_the_one_before(
    kit: Any, fields: str, expected: dict[str, Any]
) -> None:
    federation = _federation(kit)
    result = await federation.run(f"{{ home {{ {fields} }} }}")
    assert result == {"data": {"home": expected}}
    assert federation.subgraph_errors() == []
    assert federation.fetched[0] == "offers"


async def test_the_chain_sends_each_required_value_with_the_key(kit: Any) -> None:
    federation = _federation(kit)
    await federation.run("{ home { canAfford } }")
    assert federation.fetched == ["offers", "pricing", "ratings", "budgets"]
    assert federation.services["ratings"].representations == [
        [{"__typename": "Home", "id": "h1", "price": 699.99}]
    ]
    assert federation.services["budgets"].representations == [
        [{"__typename": "Home", "id": "h1", "isPricey": True}]
    ]
