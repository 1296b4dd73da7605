"""`@requires` of fields with arguments, and requirements clashing with the client's fields.

`moves` computes `moveInCost` from `rent(currency: "EUR")` and `size`, which `catalog`
resolves: the requirement is fetched with its own argument, whatever the client asks. In
`visits`, `host` requires `visits(limit: 3) { agentId }` while the client may ask
`visits(limit: 1)` of the same subgraph in the same fetch: the two cannot share a
response key, so the requirement goes out under an alias and the client's field keeps
its own arguments (variables with defaults and fragments included).
"""

from __future__ import annotations

from typing import Any

import pytest

RENT = {"h1": {"EUR": 10, "GBP": 9}, "h2": {"EUR": 20, "GBP": 17}}
SIZE = {"h1": 11, "h2": 22}
VISITS = {
    "l1": [("v1", "a2"), ("v2", "a1"), ("v3", "a2")],
    "l2": [("v4", "a1"), ("v5", "a2"), ("v6", "a1")],
}
AGENTS = {"a1": "Rosa", "a2": "Ines"}


def _moves_federation(kit: Any) -> Any:
    def home(ref: str) -> dict[str, Any]:
        return {
            "ref": ref,
            "title": f"home {ref}",
            "rent": lambda _info, currency: RENT[ref][currency],
            "size": SIZE[ref],
        }

    catalog = kit.Service(
        "catalog",
        """
        type Query { homes: [Home] }
        type Home @key(fields: "ref") { ref: String!  title: String  rent(currency: String!): Int  size: Int }
        """,
        root={"homes": [home("h1"), home("h2")]},
        entities={"Home": lambda rep: home(rep["ref"])},
    )
    moves = kit.Service(
        "moves",
        """
        type Home @key(fields: "ref") {
          ref: String!
          rent(currency: String!): Int @external
          size: Int @external
          moveInCost: Int @requires(fields: "rent(currency: \\"EUR\\") size")
        }
        """,
        entities={
            "Home": lambda rep: {"ref": rep["ref"], "moveInCost": rep["rent"] * rep["size"] * 10}
        },
    )
    return kit.Federation(catalog, moves)


async def test_a_required_field_is_fetched_with_the_arguments_the_requirement_names(
    kit: Any,
) -> None:
    federation = _moves_federation(kit)
    result = await federation.run('{ homes { ref title moveInCost rent(currency: "GBP") } }')
    assert result == {
        "data": {
            "homes": [
                {"ref": "h1", "title": "home h1", "moveInCost": 1100, "rent": 9},
                {"ref": "h2", "title": "home h2", "moveInCost": 4400, "rent": 17},
            ]
        }
    }
    assert federation.fetched == ["catalog", "moves"]
    _, _, variables = federation.transport.calls[1]
    assert variables["_reps0"] == [
        {"__typename": "Home", "ref": "h1", "rent": 10, "size": 11},
        {"__typename": "Home", "ref": "h2", "rent": 20, "size": 22},
    ]


def _visits_federation(kit: Any) -> Any:
    def visits(listing: str) -> Any:
        def resolve(_info: Any, limit: int) -> list[dict[str, Any]]:
            return [{"id": visit} for visit, _ in VISITS[listing][:limit]]

        return resolve

    agent_of = {visit: agent for pairs in VISITS.values() for visit, agent in pairs}

    def listing(rep: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {"id": rep["id"], "visits": visits(rep["id"])}
        if "visits" in rep:
            if len(rep["visits"]) != 3:
                raise ValueError("the requirement must carry three visits")
            agent = rep["visits"][2]["agentId"]
            found["host"] = {"id": agent, "name": AGENTS[agent]}
        return found

    listings = kit.Service(
        "listings",
        """
        type Query { feed: [Listing] }
        type Listing @key(fields: "id") { id: ID! }
        type Visit @key(fields: "id") { id: ID!  agentId: ID }
        """,
        root={"feed": [{"id": "l1"}, {"id": "l2"}]},
        entities={
            "Listing": lambda rep: {"id": rep["id"]},
            "Visit": lambda rep: {"id": rep["id"], "agentId": agent_of[rep["id"]]},
        },
    )
    tours = kit.Service(
        "tours",
        """
        type Listing @key(fields: "id") {
          id: ID!
          visits(limit: Int!): [Visit]
          host: Agent @requires(fields: "visits(limit: 3) { agentId }")
        }
        type Visit @key(fields: "id") { id: ID!  agentId: ID @external }
        type Agent { id: ID!  name: String }
        """,
        entities={"Listing": listing, "Visit": lambda rep: {"id": rep["id"]}},
    )
    return kit.Federation(listings, tours)


HOSTS = {"feed": [{"host": {"id": "a2"}}, {"host": {"id": "a1"}}]}


async def test_a_requirement_through_another_entity_reaches_the_subgraph(kit: Any) -> None:
    federation = _visits_federation(kit)
    assert await federation.run("{ feed { host { id } } }") == {"data": HOSTS}
    assert federation.fetched == ["listings", "tours", "listings", "tours"]
    _, _, variables = federation.transport.calls[3]
    assert variables["_reps0"][0] == {
        "__typename": "Listing",
        "id": "l1",
        "visits": [{"agentId": "a2"}, {"agentId": "a1"}, {"agentId": "a2"}],
    }


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ feed { host { id } visits(limit: 1) { id } } }", None),
        ("query($n: Int = 1) { feed { host { id } visits(limit: $n) { id } } }", None),
        ("query($n: Int!) { feed { host { id } visits(limit: $n) { id } } }", {"n": 1}),
        (
            "query($n: Int = 1) { feed { host { id } ...A ...B } }"
            " fragment A on Listing { visits(limit: $n) { id } }"
            " fragment B on Listing { visits(limit: $n) { id } }",
            None,
        ),
    ],
)
async def test_a_requirement_clashing_with_the_client_field_goes_out_aliased(
    kit: Any, query: str, variables: dict[str, Any] | None
) -> None:
    federation = _visits_federation(kit)
    result = await federation.run(query, variables)
    assert result == {
        "data": {
            "feed": [
                {"host": {"id": "a2"}, "visits": [{"id": "v1"}]},
                {"host": {"id": "a1"}, "visits": [{"id": "v4"}]},
            ]
        }
    }
    assert federation.subgraph_errors() == []
