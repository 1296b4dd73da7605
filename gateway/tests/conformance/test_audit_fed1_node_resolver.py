"""A Federation 1 `node` root whose subgraph publishes the interface and no implementation.

`nodes` publishes only `interface Node { id: ID! }` and `node(id:)`, yet answers with
objects of types it does not publish (it executes against a wider schema of its own);
`agents` and `listings` each implement `Node` with an entity keyed by `id`. The gateway
asks `nodes` for the interface's fields and the type name only, and takes a fragment's
fields from the entity's own subgraph by the key.
"""

from __future__ import annotations

from typing import Any

NODES = [
    {"__typename": "Agent", "id": "1", "name": "Alice Brand"},
    {"__typename": "Listing", "id": "2", "title": "Two rooms by the park"},
]


def _find(type_name: str) -> Any:
    return lambda rep: next(
        (n for n in NODES if n["id"] == rep["id"] and n["__typename"] == type_name), None
    )


def _federation(kit: Any) -> Any:
    published = "interface Node { id: ID! }\ntype Query { node(id: ID!): Node }"
    node = lambda args: next(  # noqa: E731 - a root value taking the arguments
        ({"__typename": n["__typename"], "id": n["id"]} for n in NODES if n["id"] == args["id"]),
        None,
    )
    nodes = kit.Service("nodes", published, root={"node": node}, federation=1)
    # What `nodes` executes against: its published schema and the types it keeps to itself.
    nodes.schema = kit.Service(
        "nodes",
        published
        + "\ntype Agent implements Node { id: ID! }\ntype Listing implements Node { id: ID! }",
    ).schema
    agents = kit.Service(
        "agents",
        """
        interface Node { id: ID! }
        type Agent implements Node @key(fields: "id") { id: ID!  name: String! }
        """,
        entities={"Agent": _find("Agent")},
        federation=1,
    )
    listings = kit.Service(
        "listings",
        """
        interface Node { id: ID! }
        type Listing implements Node @key(fields: "id") { id: ID!  title: String! }
        """,
        entities={"Listing": _find("Listing")},
        federation=1,
    )
    return kit.Federation(nodes, agents, listings)


async def test_a_node_of_an_unpublished_type_is_filled_in_by_its_entity(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run('{ node(id: "1") { __typename id ... on Agent { name } } }')
    assert result == {"data": {"node": {"__typename": "Agent", "id": "1", "name": "Alice Brand"}}}
    assert federation.fetched == ["nodes", "agents"]
    # The document `nodes` gets is valid against what it publishes: no fragment on `Agent`.
    assert "Agent" not in federation.transport.calls[0][1]
    assert federation.services["agents"].representations == [[{"__typename": "Agent", "id": "1"}]]
    assert federation.subgraph_errors() == []


async def test_only_the_entity_the_type_name_names_is_fetched(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        '{ node(id: "2") { id ... on Agent { name } ... on Listing { title } } }'
    )
    assert result == {"data": {"node": {"id": "2", "title": "Two rooms by the park"}}}
    assert federation.fetched == ["nodes", "listings"]
    assert federation.services["agents"].representations == []
