"""An `@interfaceObject` beside a subgraph that extends one implementation directly.

`catalog` owns the entity interface `Item` (`Home`, `Plot`); `agents` extends `Home`
alone (`extend type Home @key(fields: "id")`); `shortlists` sees `Item` only as an
interface object. A shortlist's item comes back as `Item`: its concrete type and the
fields of a fragment on it are asked of `catalog` through the interface's key, and
`agentName` of `agents` through `Home`'s.
"""

from __future__ import annotations

from typing import Any


def _item(item_id: str) -> dict[str, Any]:
    return {"__typename": "Home", "id": item_id, "title": f"title {item_id}", "rooms": 3}


def _federation(kit: Any) -> Any:
    catalog = kit.Service(
        "catalog",
        """
        type Query { item: Item }
        interface Item @key(fields: "id") { id: ID!  title: String }
        type Home implements Item @key(fields: "id") { id: ID!  title: String  rooms: Int }
        type Plot implements Item @key(fields: "id") { id: ID!  title: String  acres: Int }
        """,
        root={"item": _item("1")},
        entities={
            "Item": lambda rep: _item(rep["id"]),
            "Home": lambda rep: _item(rep["id"]),
            "Plot": lambda rep: {"id": rep["id"], "title": "plot", "acres": 2},
        },
    )
    agents = kit.Service(
        "agents",
        """
        type Query { agent: Agent }
        type Agent @key(fields: "id") { id: ID!  name: String }
        extend type Home @key(fields: "id") { id: ID!  agentName: String }
        """,
        root={"agent": {"id": "1", "name": "Rosa"}},
        entities={
            "Agent": lambda rep: {"id": rep["id"], "name": "Rosa"},
            "Home": lambda rep: {"id": rep["id"], "agentName": "Ines"},
        },
    )
    shortlists = kit.Service(
        "shortlists",
        """
        type Query { shortlist: Shortlist }
        type Shortlist @key(fields: "id") { id: ID!  name: String  item: Item }
        type Item @key(fields: "id") @interfaceObject { id: ID! }
        """,
        root={"shortlist": {"id": "s1", "name": "favourites", "item": {"id": "1"}}},
        entities={"Item": lambda rep: {"id": rep["id"]}},
    )
    return kit.Federation(catalog, agents, shortlists)


async def test_an_interface_object_item_gets_its_type_and_fields_from_the_owner(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        """
        {
          item { id title ... on Home { rooms agentName } ... on Plot { acres } }
          agent { id name }
          shortlist { id name item { id ... on Home { rooms } } }
        }
        """
    )
    assert result == {
        "data": {
            "item": {"id": "1", "title": "title 1", "rooms": 3, "agentName": "Ines"},
            "agent": {"id": "1", "name": "Rosa"},
            "shortlist": {"id": "s1", "name": "favourites", "item": {"id": "1", "rooms": 3}},
        }
    }
    assert federation.subgraph_errors() == []
    assert federation.services["catalog"].representations[-1] == [{"__typename": "Item", "id": "1"}]
