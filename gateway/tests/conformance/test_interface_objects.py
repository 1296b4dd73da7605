"""@interfaceObject: a subgraph that adds fields to every implementation of an interface
without knowing the implementations; and a key it marks `resolvable: false`."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.planner import PlanningError, QueryPlanner
from graphql import OperationDefinitionNode, parse

NODES = {
    "l1": {"__typename": "Listing", "id": "l1", "title": "Loft"},
    "a1": {"__typename": "Agent", "id": "a1", "name": "Rosa"},
}
VIEWS = {"l1": 40, "a1": 7}

CORE = """
type Query { node(id: ID!): Node  listing: Listing }
interface Node @key(fields: "id") { id: ID! }
type Listing implements Node @key(fields: "id") { id: ID!  title: String! }
type Agent implements Node @key(fields: "id") { id: ID!  name: String! }
"""
STATS = """
type Query { recent: [Node!]! }
type Node @key(fields: "id") @interfaceObject { id: ID!  views: Int! }
"""


def _services(kit: Any) -> tuple[Any, Any]:
    core = kit.Service(
        "core",
        CORE,
        root={"node": lambda args: NODES.get(args["id"]), "listing": NODES["l1"]},
        entities={
            "Node": lambda rep: NODES[rep["id"]],
            "Listing": lambda rep: NODES[rep["id"]],
            "Agent": lambda rep: NODES[rep["id"]],
        },
    )
    stats = kit.Service(
        "stats",
        STATS,
        root={"recent": [{"id": "a1", "views": 7}, {"id": "l1", "views": 40}]},
        entities={"Node": lambda rep: {"id": rep["id"], "views": VIEWS[rep["id"]]}},
    )
    return core, stats


async def test_an_interface_field_comes_from_the_interface_object_subgraph(kit: Any) -> None:
    federation = kit.Federation(*_services(kit))
    result = await federation.run('{ node(id: "l1") { id views ... on Listing { title } } }')
    assert result == {"data": {"node": {"id": "l1", "views": 40, "title": "Loft"}}}
    assert federation.fetched == ["core", "stats"]
    assert federation.transport.calls[1][2]["_reps0"] == [{"__typename": "Node", "id": "l1"}]
    assert federation.subgraph_errors() == []


async def test_interface_level_fields_are_served_by_the_interface_object_alone(kit: Any) -> None:
    federation = kit.Federation(*_services(kit))
    assert await federation.run("{ recent { id views } }") == {
        "data": {"recent": [{"id": "a1", "views": 7}, {"id": "l1", "views": 40}]}
    }
    assert federation.fetched == ["stats"]


async def test_the_concrete_type_comes_from_the_subgraph_owning_the_interface(kit: Any) -> None:
    federation = kit.Federation(*_services(kit))
    result = await federation.run(
        "{ recent { __typename views ... on Listing { title } ... on Agent { name } } }"
    )
    assert result == {
        "data": {
            "recent": [
                {"__typename": "Agent", "views": 7, "name": "Rosa"},
                {"__typename": "Listing", "views": 40, "title": "Loft"},
            ]
        }
    }
    assert federation.fetched == ["stats", "core"]
    assert federation.subgraph_errors() == []


async def test_a_field_behind_a_non_resolvable_key_fails_planning(kit: Any) -> None:
    core, stats = _services(kit)
    supergraph = kit.compose_sdl(core, stats).replace(
        '@join__type(graph: STATS, key: "id", isInterfaceObject: true)',
        '@join__type(graph: STATS, key: "id", resolvable: false, isInterfaceObject: true)',
    )
    assert "resolvable: false" in supergraph
    federation = kit.Federation(core, stats, supergraph=supergraph)
    result = await federation.run('{ node(id: "l1") { id views } }')
    assert result["data"] is None
    assert federation.fetched == []
    (error,) = result["errors"]
    assert ".views" in error["message"]
    assert "resolvable: false" in error["message"]
    assert error["extensions"] == {"code": "QUERY_PLANNING_FAILED", "reason": "NON_RESOLVABLE_KEY"}
    operation = parse('{ node(id: "l1") { views } }').definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    with pytest.raises(PlanningError) as raised:
        QueryPlanner(federation.supergraph).plan(operation, {}, {})
    assert raised.value.code == "NON_RESOLVABLE_KEY"
    # What needs no other subgraph is still served.
    assert await federation.run('{ node(id: "l1") { id } }') == {"data": {"node": {"id": "l1"}}}


async def test_a_requirement_of_an_interface_object_field_is_fetched_first(kit: Any) -> None:
    def labelled(node: dict[str, Any]) -> dict[str, Any]:
        return {**node, "label": node["id"].upper()}

    core = kit.Service(
        "core",
        """
        type Query { node(id: ID!): Node }
        interface Node @key(fields: "id") { id: ID!  label: String! }
        type Listing implements Node @key(fields: "id") { id: ID!  label: String! }
        type Agent implements Node @key(fields: "id") { id: ID!  label: String! }
        """,
        root={"node": lambda args: labelled(NODES[args["id"]])},
        entities={"Node": lambda rep: labelled(NODES[rep["id"]])},
    )
    stats = kit.Service(
        "stats",
        """
        type Node @key(fields: "id") @interfaceObject {
          id: ID!  label: String! @external  banner: String! @requires(fields: "label")
        }
        """,
        entities={"Node": lambda rep: {"id": rep["id"], "banner": f"** {rep['label']} **"}},
    )
    federation = kit.Federation(core, stats)
    result = await federation.run('{ node(id: "a1") { banner } }')
    assert result == {"data": {"node": {"banner": "** A1 **"}}}
    assert federation.fetched == ["core", "stats"]
    assert federation.transport.calls[1][2]["_reps0"] == [
        {"__typename": "Node", "id": "a1", "label": "A1"}
    ]
