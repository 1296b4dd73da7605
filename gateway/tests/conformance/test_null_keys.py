"""Null key values: an object whose key is null in its parent's response is no entity.

It is never sent to `_entities` (a subgraph would be asked to resolve `{id: null}`); the
fields owed by that fetch are null, with an error only where the schema demands a value.
"""

from __future__ import annotations

from typing import Any

HOMES = [
    {"id": "h1", "agent": {"id": "a1"}},
    {"id": "h2", "agent": {"id": None}},
    {"id": "h3", "agent": None},
]
AGENTS = {"a1": {"name": "Ada", "phone": "555-0101"}}


def _agents(kit: Any, phone: str, homes_data: list[Any] = HOMES) -> Any:
    homes = kit.Service(
        "homes",
        """
        type Query { homes: [Home!]! }
        type Home @key(fields: "id") { id: ID!  agent: Agent }
        type Agent @key(fields: "id") { id: ID }
        """,
        root={"homes": homes_data},
        entities={"Home": lambda rep: {"id": rep["id"]}},
    )
    people = kit.Service(
        "people",
        f"""
        type Agent @key(fields: "id") {{ id: ID  name: String  phone: {phone} }}
        """,
        entities={"Agent": lambda rep: {"id": rep["id"], **AGENTS[rep["id"]]}},
    )
    return kit.Federation(homes, people), people


async def test_an_object_with_a_null_key_is_not_sent_and_its_fields_are_null(kit: Any) -> None:
    federation, people = _agents(kit, "String")
    result = await federation.run("{ homes { id agent { id name } } }")
    assert result == {
        "data": {
            "homes": [
                {"id": "h1", "agent": {"id": "a1", "name": "Ada"}},
                {"id": "h2", "agent": {"id": None, "name": None}},
                {"id": "h3", "agent": None},
            ]
        }
    }
    assert people.representations == [[{"__typename": "Agent", "id": "a1"}]]
    assert federation.subgraph_errors() == []


async def test_a_non_null_field_behind_a_null_key_nulls_its_parent_with_an_error(
    kit: Any,
) -> None:
    federation, people = _agents(kit, "String!")
    result = await federation.run("{ homes { id agent { name phone } } }")
    assert result == {
        "data": {
            "homes": [
                {"id": "h1", "agent": {"name": "Ada", "phone": "555-0101"}},
                {"id": "h2", "agent": None},
                {"id": "h3", "agent": None},
            ]
        },
        "errors": [
            {
                "message": "Cannot return null for non-nullable field Agent.phone.",
                "path": ["homes", 1, "agent", "phone"],
                "extensions": {"code": "INTERNAL_SERVER_ERROR"},
            }
        ],
    }
    assert people.representations == [[{"__typename": "Agent", "id": "a1"}]]


async def test_no_fetch_at_all_when_every_key_is_null(kit: Any) -> None:
    federation, _ = _agents(kit, "String", [{"id": "h1", "agent": {"id": None}}, *HOMES[1:]])
    result = await federation.run("{ homes { agent { name } } }")
    assert result == {
        "data": {"homes": [{"agent": {"name": None}}, {"agent": {"name": None}}, {"agent": None}]}
    }
    assert federation.fetched == ["homes"]


async def test_a_composite_key_with_a_null_part_is_not_sent(kit: Any) -> None:
    offices = kit.Service(
        "offices",
        """
        type Query { desks: [Desk!]! }
        type Desk @key(fields: "id office { code }") { id: ID!  office: Office }
        type Office @shareable { code: String }
        """,
        root={
            "desks": [
                {"id": "d1", "office": {"code": "LON"}},
                {"id": "d2", "office": {"code": None}},
                {"id": "d3", "office": None},
            ]
        },
        entities={"Desk": lambda rep: {"id": rep["id"]}},
    )
    seats = kit.Service(
        "seats",
        """
        type Desk @key(fields: "id office { code }") { id: ID!  office: Office  seats: Int }
        type Office @shareable { code: String }
        """,
        entities={"Desk": lambda rep: {"id": rep["id"], "seats": 4}},
    )
    federation = kit.Federation(offices, seats)
    result = await federation.run("{ desks { id seats } }")
    assert result == {
        "data": {
            "desks": [
                {"id": "d1", "seats": 4},
                {"id": "d2", "seats": None},
                {"id": "d3", "seats": None},
            ]
        }
    }
    assert seats.representations == [
        [{"__typename": "Desk", "id": "d1", "office": {"code": "LON"}}]
    ]
