"""A nested `@provides` through lists of entities: one fetch answers the whole tree.

`search` provides `areas { id name subAreas { id name } }` on `Query.homes`, where
`areas` and `subAreas` are `@external` (resolved by `geo`). Everything asked lies inside
what is provided, so `search` alone answers; every entity resolver here fails, so a plan
that leaves search shows.
"""

from __future__ import annotations

from typing import Any

import pytest

AREAS = {"c1": ("Area 1", ["c2"]), "c2": ("Area 2", ["c3"]), "c3": ("Area 3", ["c1"])}
HOMES = {"p1": ["c1", "c2"], "p2": ["c3", "c2"]}


def _never(rep: dict[str, Any]) -> Any:
    raise RuntimeError("the provided tree was fetched again")


def _area(area_id: str, depth: int) -> dict[str, Any]:
    name, subs = AREAS[area_id]
    found: dict[str, Any] = {"id": area_id, "name": name}
    if depth:
        found["subAreas"] = [_area(sub, depth - 1) for sub in subs]
    return found


def _federation(kit: Any) -> Any:
    registry = kit.Service(
        "registry", 'type Home @key(fields: "id") { id: ID! }', entities={"Home": _never}
    )
    search = kit.Service(
        "search",
        """
        type Query {
          homes: [Home] @shareable @provides(fields: "areas { id name subAreas { id name } }")
        }
        type Home @key(fields: "id") { id: ID!  areas: [Area] @external }
        type Area @key(fields: "id") { id: ID!  name: String  subAreas: [Area] @external }
        """,
        root={
            "homes": [
                {"id": h, "areas": [_area(a, 1) for a in areas]} for h, areas in HOMES.items()
            ]
        },
        entities={"Home": _never, "Area": _never},
    )
    geo = kit.Service(
        "geo",
        """
        type Home @key(fields: "id") { id: ID!  areas: [Area] @shareable }
        type Area @key(fields: "id") { id: ID!  subAreas: [Area] @shareable }
        """,
        entities={"Home": _never, "Area": _never},
    )
    return kit.Federation(registry, search, geo)


@pytest.mark.parametrize("depth", [0, 1])
async def test_the_provided_tree_comes_from_one_fetch(kit: Any, depth: int) -> None:
    federation = _federation(kit)
    sub = " subAreas { id name }" if depth else ""
    result = await federation.run(f"{{ homes {{ id areas {{ id name{sub} }} }} }}")
    assert result == {
        "data": {
            "homes": [
                {"id": h, "areas": [_area(a, depth) for a in areas]} for h, areas in HOMES.items()
            ]
        }
    }
    assert federation.fetched == ["search"]
