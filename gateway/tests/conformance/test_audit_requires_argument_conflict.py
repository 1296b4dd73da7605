"""Two `@requires` of one entity naming the same field with different arguments.

`moves` computes `moveInCost` from `rent(currency: "EUR")` and `moveInCostGBP` from
`rent(currency: "GBP")`; `areaBand` requires `district { averageRent(currency: "EUR") }`
of a type `moves` declares wholly `@external`. Each representation must carry `rent` as
its own requirement names it, so the two values are fetched from `catalog` under
different keys and each goes, as `rent`, to the fetch that needs it.
"""

from __future__ import annotations

from typing import Any

RENT = {"h1": 10, "h2": 20}
SIZE = {"h1": 11, "h2": 22}
RATE = {"EUR": 1, "GBP": 2}


def _federation(kit: Any) -> Any:
    def home(ref: str) -> dict[str, Any]:
        return {
            "ref": ref,
            "title": f"home {ref}",
            "rent": lambda _info, currency: RENT[ref] * RATE[currency],
            "size": SIZE[ref],
            "district": {
                "averageRent": lambda _info, currency: 6 * RENT[ref] // 10 * RATE[currency]
            },
        }

    catalog = kit.Service(
        "catalog",
        """
        type Query { homes: [Home] }
        type Home @key(fields: "ref") {
          ref: String!  title: String  rent(currency: String!): Int  size: Int  district: District
        }
        type District { averageRent(currency: String!): Int }
        """,
        root={"homes": [home("h1"), home("h2")]},
        entities={"Home": lambda rep: home(rep["ref"])},
    )

    def moving(rep: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {"ref": rep["ref"]}
        if "rent" in rep:
            found["moveInCost"] = found["moveInCostGBP"] = rep["rent"] * rep["size"] * 10
        if "district" in rep:
            found["areaBand"] = rep["district"]["averageRent"] > 11
        return found

    moves = kit.Service(
        "moves",
        """
        type Home @key(fields: "ref") {
          ref: String!
          size: Int @external
          rent(currency: String!): Int @external
          moveInCost: Int @requires(fields: "rent(currency: \\"EUR\\") size")
          moveInCostGBP: Int @requires(fields: "rent(currency: \\"GBP\\") size")
          district: District @external
          areaBand: Boolean @requires(fields: "district { averageRent(currency: \\"EUR\\") }")
        }
        type District @external { averageRent(currency: String!): Int }
        """,
        entities={"Home": moving},
    )
    return kit.Federation(catalog, moves)


async def test_each_requirement_carries_the_field_with_its_own_arguments(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ homes { ref title moveInCost moveInCostGBP areaBand } }")
    assert result == {
        "data": {
            "homes": [
                {
                    "ref": "h1",
                    "title": "home h1",
                    "moveInCost": 1100,
                    "moveInCostGBP": 2200,
                    "areaBand": False,
                },
                {
                    "ref": "h2",
                    "title": "home h2",
                    "moveInCost": 4400,
                    "moveInCostGBP": 8800,
                    "areaBand": True,
                },
            ]
        }
    }
    assert federation.subgraph_errors() == []
    sent = [rep for reps in federation.services["moves"].representations for rep in reps]
    assert {"__typename": "Home", "ref": "h1", "rent": 10, "size": 11} in sent
    assert {"__typename": "Home", "ref": "h1", "rent": 20, "size": 11} in sent
    assert {"__typename": "Home", "ref": "h1", "district": {"averageRent": 6}} in sent
