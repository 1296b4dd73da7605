"""A subgraph that extends an entity it does not own, its key field marked `@external`.

`pricing` declares `extend type Home @key(fields: "id") { id: ID! @external  rent: Float }`:
the key field is `@external` only in the Federation 1 sense of "defined elsewhere", yet
pricing can still return it, as every key is resolvable where the key is declared. A root
field of pricing answers the key itself; the owner's fields come through `_entities`.
"""

from __future__ import annotations

from typing import Any

HOMES = [
    {"id": "1", "title": "Elm Row", "rent": 100.0},
    {"id": "2", "title": "Leith", "rent": 200.0},
]


def _federation(kit: Any) -> Any:
    by_id = {home["id"]: home for home in HOMES}
    catalog = kit.Service(
        "catalog",
        """
        type Query { homes: [Home!]! }
        type Home @key(fields: "id") { id: ID!  title: String! }
        """,
        root={"homes": [{"id": h["id"], "title": h["title"]} for h in HOMES]},
        entities={"Home": lambda rep: {"id": rep["id"], "title": by_id[rep["id"]]["title"]}},
    )
    pricing = kit.Service(
        "pricing",
        """
        type Query { cheapestHome: Home }
        extend type Home @key(fields: "id") { id: ID! @external  rent: Float }
        """,
        root={"cheapestHome": {"id": "1", "rent": 100.0}},
        entities={"Home": lambda rep: {"id": rep["id"], "rent": by_id[rep["id"]]["rent"]}},
    )
    return kit.Federation(catalog, pricing)


async def test_the_extending_subgraph_answers_the_key_it_marks_external(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ cheapestHome { id rent title } }")
    assert result == {"data": {"cheapestHome": {"id": "1", "rent": 100.0, "title": "Elm Row"}}}
    assert federation.fetched == ["pricing", "catalog"]
    _, document, variables = federation.transport.calls[0]
    assert "cheapestHome" in document and "title" not in document
    assert variables == {}


async def test_the_owner_list_gets_the_extension_field_through_entities(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ homes { title rent id } }")
    assert result == {
        "data": {
            "homes": [
                {"title": "Elm Row", "rent": 100.0, "id": "1"},
                {"title": "Leith", "rent": 200.0, "id": "2"},
            ]
        }
    }
    assert federation.fetched == ["catalog", "pricing"]
    _, _, variables = federation.transport.calls[1]
    assert variables["_reps0"] == [
        {"__typename": "Home", "id": "1"},
        {"__typename": "Home", "id": "2"},
    ]
