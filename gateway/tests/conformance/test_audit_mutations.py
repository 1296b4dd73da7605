"""Mutations across subgraphs: root fields run one after another, in document order.

A mutation's root fields may live in different subgraphs; the client expects them to take
effect in the order written (GraphQL runs mutation fields serially), so the gateway must
never batch or parallelise them. A field of the mutation's result that another subgraph
resolves (here through `@requires`) is fetched after the mutation answered.
"""

from __future__ import annotations

from typing import Any


def _tally_federation(kit: Any) -> Any:
    tallies: dict[str, int] = {}
    homes: dict[str, dict[str, Any]] = {"h1": {"id": "h1", "title": "Elm Row", "rent": 950.0}}

    def add(args: dict[str, Any]) -> int:
        tallies[args["tally"]] = tallies.get(args["tally"], 0) + args["by"]
        return tallies[args["tally"]]

    def scale(args: dict[str, Any]) -> int:
        tallies[args["tally"]] = tallies.get(args["tally"], 0) * args["factor"]
        return tallies[args["tally"]]

    def close(args: dict[str, Any]) -> int:
        return tallies.pop(args["tally"], 0)

    def list_home(args: dict[str, Any]) -> dict[str, Any]:
        home = {"id": f"h{len(homes) + 1}", **args["input"]}
        homes[home["id"]] = home
        return home

    catalog = kit.Service(
        "catalog",
        """
        type Query { home(id: ID!): Home }
        type Mutation {
          listHome(input: NewHome!): Home!
          scale(factor: Int!, tally: String!): Int!
        }
        input NewHome { title: String!  rent: Float! }
        type Home @key(fields: "id") { id: ID!  title: String!  rent: Float! }
        """,
        root={"home": lambda args: homes.get(args["id"]), "listHome": list_home, "scale": scale},
        entities={"Home": lambda rep: homes.get(rep["id"])},
    )
    pricing = kit.Service(
        "pricing",
        """
        type Mutation { close(tally: String!): Int! }
        type Home @key(fields: "id") {
          id: ID!
          rent: Float! @external
          premium: Boolean! @requires(fields: "rent")
          vacant: Boolean!
        }
        """,
        root={"close": close},
        entities={
            "Home": lambda rep: {
                "id": rep["id"],
                "vacant": rep["id"] in homes,
                **({"premium": rep["rent"] > 500} if "rent" in rep else {}),
            }
        },
    )
    counter = kit.Service(
        "counter", "type Mutation { add(by: Int!, tally: String!): Int! }", root={"add": add}
    )
    return kit.Federation(catalog, pricing, counter)


async def test_root_fields_of_a_mutation_run_in_document_order_across_subgraphs(kit: Any) -> None:
    federation = _tally_federation(kit)
    result = await federation.run(
        """
        mutation {
          five: add(by: 5, tally: "t")
          ten: scale(factor: 2, tally: "t")
          twelve: add(by: 2, tally: "t")
          final: close(tally: "t")
        }
        """
    )
    assert result == {"data": {"five": 5, "ten": 10, "twelve": 12, "final": 12}}
    assert federation.fetched == ["counter", "catalog", "counter", "pricing"]


async def test_a_mutation_result_gets_its_required_fields_from_another_subgraph(kit: Any) -> None:
    federation = _tally_federation(kit)
    result = await federation.run(
        'mutation { listHome(input: { title: "Pilrig", rent: 599.99 }) '
        "{ title rent premium vacant } }"
    )
    assert result == {
        "data": {"listHome": {"title": "Pilrig", "rent": 599.99, "premium": True, "vacant": True}}
    }
    assert federation.fetched == ["catalog", "pricing"]
    _, _, variables = federation.transport.calls[1]
    assert variables["_reps0"] == [{"__typename": "Home", "id": "h2", "rent": 599.99}]


async def test_a_query_reads_the_same_fields_without_the_mutation(kit: Any) -> None:
    federation = _tally_federation(kit)
    result = await federation.run('{ home(id: "h1") { id title rent premium vacant } }')
    assert result == {
        "data": {
            "home": {"id": "h1", "title": "Elm Row", "rent": 950.0, "premium": True, "vacant": True}
        }
    }
