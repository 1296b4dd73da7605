"""Interfaces whose implementations differ between subgraphs, under a union and as a field.

In `inventory`, `Heater` implements `Node & Insured` but `Boiler` implements nothing; in
`insurance`, `Boiler` implements both. The supergraph says both are `Node`s, so a
fragment `... on Node` under the union `Fixture` must reach the boilers too: for
`inventory` it is written per object type, which that subgraph accepts. Where a subgraph
answers a type it does not know as the interface's (a `Boiler` as `Node`), the field is
null with an error, as the subgraph itself says.
"""

from __future__ import annotations

from typing import Any

import pytest

FIXTURES = [
    {"__typename": "Boiler", "id": "boiler1"},
    {"__typename": "Boiler", "id": "boiler2"},
    {"__typename": "Heater", "id": "heater1", "cover": 3},
    {"__typename": "Heater", "id": "heater2", "cover": 4},
]
HEATERS = [f for f in FIXTURES if f["__typename"] == "Heater"]


def _federation(kit: Any) -> Any:
    by_id = {fixture["id"]: fixture for fixture in FIXTURES}
    inventory = kit.Service(
        "inventory",
        """
        type Query { fixtures: [Fixture]  node(id: ID!): Node  nodes: [Node]  heaters: [Heater] }
        union Fixture = Boiler | Heater
        interface Node { id: ID! }
        interface Insured { cover: Int }
        type Boiler @key(fields: "id") { id: ID! }
        type Heater implements Node & Insured @key(fields: "id") { id: ID!  cover: Int }
        """,
        root={
            "fixtures": FIXTURES,
            "node": lambda args: by_id.get(args["id"]),
            "nodes": HEATERS,
            "heaters": HEATERS,
        },
        entities={
            "Boiler": lambda rep: by_id.get(rep["id"]),
            "Heater": lambda rep: by_id.get(rep["id"]),
        },
    )
    insurance = kit.Service(
        "insurance",
        """
        interface Node { id: ID! }
        interface Insured { cover: Int }
        type Boiler implements Node & Insured @key(fields: "id") { id: ID!  cover: Int }
        """,
        entities={"Boiler": lambda rep: {"id": rep["id"], "cover": 1}},
    )
    return kit.Federation(inventory, insurance)


async def test_an_interface_fragment_reaches_members_one_subgraph_does_not_implement(
    kit: Any,
) -> None:
    federation = _federation(kit)
    result = await federation.run("{ fixtures { ... on Node { id } } }")
    assert result == {"data": {"fixtures": [{"id": f["id"]} for f in FIXTURES]}}
    assert federation.subgraph_errors() == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "{ nodes { ... on Heater { cover } ... on Boiler { id } } }",
            [{"cover": 3}, {"cover": 4}],
        ),
        ("{ nodes { id } }", [{"id": "heater1"}, {"id": "heater2"}]),
        ("{ nodes { ... on Node { id } } }", [{"id": "heater1"}, {"id": "heater2"}]),
        (
            "{ nodes { ... on Node { ... on Insured { cover } } } }",
            [{"cover": 3}, {"cover": 4}],
        ),
        (
            "{ nodes { ... on Node { id ... on Node { id ... on Insured { cover } } } } }",
            [{"id": "heater1", "cover": 3}, {"id": "heater2", "cover": 4}],
        ),
    ],
)
async def test_nested_abstract_fragments_on_an_interface_list(
    kit: Any, query: str, expected: list[dict[str, Any]]
) -> None:
    federation = _federation(kit)
    assert await federation.run(query) == {"data": {"nodes": expected}}
    assert federation.subgraph_errors() == []


async def test_fragments_on_the_object_and_on_its_interface_merge(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        "{ heaters { ...H ...N } } fragment H on Heater { id } fragment N on Node { id __typename }"
    )
    assert result == {
        "data": {"heaters": [{"id": h["id"], "__typename": "Heater"} for h in HEATERS]}
    }


@pytest.mark.parametrize("member", ["Boiler", "Heater"])
async def test_an_object_a_subgraph_cannot_return_as_the_interface_is_null_with_an_error(
    kit: Any, member: str
) -> None:
    federation = _federation(kit)
    result = await federation.run(f'{{ node(id: "boiler1") {{ ... on {member} {{ id }} }} }}')
    assert result["data"] == {"node": None}
    assert result["errors"]


async def test_an_object_the_subgraph_returns_as_the_interface_is_answered(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run('{ node(id: "heater1") { ... on Heater { cover } } }')
    assert result == {"data": {"node": {"cover": 3}}}
