"""A key reached through another key, where the middle subgraph does not know one object.

`shelves` lists folders holding a `Deed` by `ref`; `registry` knows deeds by `ref` and by
`id` (but not the third one: it answers null); `titles` knows deeds only by `id` and has
their `holder`. The holder needs two jumps, `ref` → `registry` → `id` → `titles`; the
deed `registry` does not know has no `id`, is not sent on, and its holder is null.
"""

from __future__ import annotations

from typing import Any

DEEDS = [
    {"id": "1", "ref": "d1", "holder": {"id": "o1", "name": "Ann"}},
    {"id": "2", "ref": "d2", "holder": {"id": "o2", "name": "Bob"}},
    {"id": "3", "ref": "d3", "holder": {"id": "o3", "name": "Cy"}},
]


async def test_an_object_the_middle_subgraph_lacks_gets_null_further_on(kit: Any) -> None:
    shelves = kit.Service(
        "shelves",
        """
        type Query { folders: [Folder] }
        type Folder { deed: Deed }
        type Deed @key(fields: "ref") { ref: ID! }
        """,
        root={"folders": [{"deed": {"ref": d["ref"]}} for d in DEEDS]},
    )

    def known(rep: dict[str, Any]) -> Any:
        deed = next(d for d in DEEDS if d.get("ref") == rep.get("ref") or d["id"] == rep.get("id"))
        return None if deed["id"] == "3" else {"id": deed["id"], "ref": deed["ref"]}

    registry = kit.Service(
        "registry",
        'type Deed @key(fields: "id") @key(fields: "ref") { id: ID!  ref: ID! }',
        entities={"Deed": known},
    )
    titles = kit.Service(
        "titles",
        """
        type Deed @key(fields: "id") { id: ID!  holder: Holder }
        type Holder { id: ID!  name: String }
        """,
        entities={"Deed": lambda rep: next(d for d in DEEDS if d["id"] == rep["id"])},
    )
    federation = kit.Federation(shelves, registry, titles)
    result = await federation.run("{ folders { deed { ref holder { name } } } }")
    assert result == {
        "data": {
            "folders": [
                {"deed": {"ref": "d1", "holder": {"name": "Ann"}}},
                {"deed": {"ref": "d2", "holder": {"name": "Bob"}}},
                {"deed": {"ref": "d3", "holder": None}},
            ]
        }
    }
    assert federation.fetched == ["shelves", "registry", "titles"]
    assert titles.representations == [
        [{"__typename": "Deed", "id": "1"}, {"__typename": "Deed", "id": "2"}]
    ]
