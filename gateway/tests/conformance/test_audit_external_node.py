"""A shareable `node` field whose `id` is `@external` for a different type in each subgraph.

`people` resolves `Agent.id` but only declares `Visit.id` external; `visits` the other
way round. Each subgraph's `node` answers a placeholder id for the type it cannot
resolve (`"never"`). So `node { id }` has no plan (neither subgraph can give every
member's id) and must be refused, never answered with a placeholder; type-conditioned
fragments go to the subgraph that resolves that member's fields.
"""

from __future__ import annotations

from typing import Any

import pytest

AGENTS = {"a1": {"id": "a1", "name": "Rosa"}}
VISITS_ = {"v1": {"id": "v1", "note": "kitchen", "agent": "a1"}}


def _node(own: str, args: dict[str, Any]) -> dict[str, Any] | None:
    if args["id"] in AGENTS:
        agent = AGENTS[args["id"]]
        return {"__typename": "Agent", **agent, "id": agent["id"] if own == "Agent" else "never"}
    if args["id"] in VISITS_:
        visit = VISITS_[args["id"]]
        return {"__typename": "Visit", **visit, "id": visit["id"] if own == "Visit" else "never"}
    return None


def _federation(kit: Any) -> Any:
    people = kit.Service(
        "people",
        """
        type Query { node(id: ID!): Node @shareable  agent(id: String!): Agent }
        interface Node { id: ID! }
        type Agent implements Node @key(fields: "id") { id: ID!  name: String! }
        type Visit implements Node @key(fields: "id") { id: ID! @external  agent: Agent! }
        """,
        root={"node": lambda args: _node("Agent", args), "agent": lambda a: AGENTS.get(a["id"])},
        entities={
            "Agent": lambda rep: AGENTS.get(rep["id"]),
            "Visit": lambda rep: {"id": rep["id"], "agent": AGENTS[VISITS_[rep["id"]]["agent"]]},
        },
    )
    visits = kit.Service(
        "visits",
        """
        type Query { node(id: ID!): Node @shareable  visit(id: String!): Visit }
        interface Node { id: ID! }
        type Agent implements Node @key(fields: "id") { id: ID! @external  visits: [Visit!]! }
        type Visit implements Node @key(fields: "id") { id: ID!  note: String! }
        """,
        root={"node": lambda args: _node("Visit", args), "visit": lambda a: VISITS_.get(a["id"])},
        entities={
            "Agent": lambda rep: {
                "id": rep["id"],
                "visits": [v for v in VISITS_.values() if v["agent"] == rep["id"]],
            },
            "Visit": lambda rep: VISITS_.get(rep["id"]),
        },
    )
    return kit.Federation(people, visits)


@pytest.mark.parametrize(
    "query",
    [
        '{ node(id: "a1") { id } }',
        '{ a: node(id: "a1") { id ... on Visit { id } }  v: node(id: "v1") { __typename } }',
    ],
)
async def test_an_id_no_subgraph_resolves_for_every_member_is_refused(kit: Any, query: str) -> None:
    federation = _federation(kit)
    result = await federation.run(query)
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "QUERY_PLANNING_FAILED"
    assert federation.fetched == []


async def test_typenames_alone_come_from_one_subgraph(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        '{ agent: node(id: "a1") { __typename }  visit: node(id: "v1") { __typename } }'
    )
    assert result == {"data": {"agent": {"__typename": "Agent"}, "visit": {"__typename": "Visit"}}}
    assert len(federation.fetched) == 1


async def test_each_member_fragment_goes_to_the_subgraph_resolving_it(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        '{ agent: node(id: "a1") { ... on Agent { id name } } '
        ' visit: node(id: "v1") { ... on Visit { id note } } }'
    )
    assert result == {
        "data": {"agent": {"id": "a1", "name": "Rosa"}, "visit": {"id": "v1", "note": "kitchen"}}
    }
    assert sorted(federation.fetched) == ["people", "visits"]


@pytest.mark.parametrize("typename", [False, True])
async def test_a_fragment_on_the_other_member_is_empty_not_a_placeholder(
    kit: Any, typename: bool
) -> None:
    federation = _federation(kit)
    extra = "__typename" if typename else ""
    result = await federation.run(
        f'{{ agent: node(id: "a1") {{ {extra} ... on Visit {{ id }} }} '
        f' visit: node(id: "v1") {{ {extra} ... on Agent {{ id }} }} }}'
    )
    if typename:
        expected = {"agent": {"__typename": "Agent"}, "visit": {"__typename": "Visit"}}
    else:
        expected = {"agent": {}, "visit": {}}
    assert result == {"data": expected}


async def test_entity_fields_across_the_two_subgraphs(kit: Any) -> None:
    federation = _federation(kit)
    assert await federation.run('{ visit(id: "v1") { id note agent { id } } }') == {
        "data": {"visit": {"id": "v1", "note": "kitchen", "agent": {"id": "a1"}}}
    }
    assert federation.fetched == ["visits", "people"]
    assert await federation.run('{ agent(id: "a1") { id name visits { id } } }') == {
        "data": {"agent": {"id": "a1", "name": "Rosa", "visits": [{"id": "v1"}]}}
    }
    assert federation.fetched == ["people", "visits"]
