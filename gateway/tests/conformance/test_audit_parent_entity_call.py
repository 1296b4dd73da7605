"""A value's field reached through its parent entity's composite key.

`homes` lists homes (keys `id` and `id ref`) with a `street: Street` (an entity there,
by `id`); `ledger` knows homes by `id ref` and streets by `id`, and nothing more;
`stats` knows homes by `id ref` only, and their street as a keyless value with
`figures { homes }`. The figures can only come from `stats` through the home's
composite key, both parts from the first fetch: one more fetch, to `stats` alone.
"""

from __future__ import annotations

from typing import Any

HOMES = [
    {"id": "h1", "ref": "h1-ref", "street": "s1"},
    {"id": "h2", "ref": "h2-ref", "street": "s2"},
    {"id": "h3", "ref": "h3-ref", "street": "s1"},
]
COUNTS = {"s1": 2, "s2": 1}


def _home(rep: dict[str, Any]) -> dict[str, Any]:
    return next(h for h in HOMES if h["id"] == rep["id"] and h["ref"] == rep.get("ref", h["ref"]))


async def test_the_value_field_comes_through_the_composite_key(kit: Any) -> None:
    homes = kit.Service(
        "homes",
        """
        type Query { homes: [Home!]! }
        type Home @key(fields: "id") @key(fields: "id ref") {
          id: ID!  ref: ID!  street: Street @shareable
        }
        type Street @key(fields: "id") { id: ID!  name: String! @shareable }
        """,
        root={
            "homes": [
                {"id": h["id"], "ref": h["ref"], "street": {"id": h["street"], "name": h["street"]}}
                for h in HOMES
            ]
        },
    )

    def never(rep: dict[str, Any]) -> Any:
        raise AssertionError("ledger has nothing the query asks for")

    ledger = kit.Service(
        "ledger",
        """
        type Home @key(fields: "id ref") { id: ID!  ref: ID!  street: Street @shareable }
        type Street @key(fields: "id") { id: ID!  name: String! @shareable }
        """,
        entities={"Home": never, "Street": never},
    )
    stats = kit.Service(
        "stats",
        """
        type Street { figures: Figures }
        type Home @key(fields: "id ref") { id: ID!  ref: ID!  street: Street @shareable }
        type Figures { homes: Int }
        """,
        entities={
            "Home": lambda rep: {
                **_home(rep),
                "street": {"figures": {"homes": COUNTS[_home(rep)["street"]]}},
            }
        },
    )
    federation = kit.Federation(homes, ledger, stats)
    result = await federation.run("{ homes { id street { id figures { homes } } } }")
    assert result == {
        "data": {
            "homes": [
                {"id": "h1", "street": {"id": "s1", "figures": {"homes": 2}}},
                {"id": "h2", "street": {"id": "s2", "figures": {"homes": 1}}},
                {"id": "h3", "street": {"id": "s1", "figures": {"homes": 2}}},
            ]
        }
    }
    assert federation.fetched == ["homes", "stats"]
    assert stats.representations == [
        [{"__typename": "Home", "id": h["id"], "ref": h["ref"]} for h in HOMES]
    ]
    assert federation.subgraph_errors() == []
