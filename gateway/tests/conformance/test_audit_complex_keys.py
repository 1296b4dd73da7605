"""Entity calls through composite keys that nest lists and other entities.

A shortlist is keyed by its homes: `catalog` by `homes { id }`, `lists` by
`homes { id code }` and `prices` by `homes { id code area { id tag } } selected { id }`,
each part held by a different subgraph (`code` from `links`, `area` from catalog,
`selected` from lists). The gateway gathers every part of a key before the call that
needs it, lists of nested objects included; each resolver here fails on a key it
cannot match, so a representation missing a part shows.
"""

from __future__ import annotations

from typing import Any

HOMES = {
    "1": {"id": "1", "code": "p1", "area": "c1", "rent": 100.0},
    "2": {"id": "2", "code": "p2", "area": "c2", "rent": 200.0},
}
AREAS = {"c1": {"id": "c1", "tag": "t1", "main": "1"}, "c2": {"id": "c2", "tag": "t2", "main": "2"}}


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise ValueError(f"a key without its {what}")


def _home_key(rep: dict[str, Any], *parts: str) -> dict[str, Any]:
    home = HOMES[rep["id"]]
    if "code" in parts:
        _check(rep.get("code") == home["code"], "code")
    if "area" in parts:
        area = AREAS[home["area"]]
        _check(rep.get("area") == {"id": area["id"], "tag": area["tag"]}, "area")
    return home


def _federation(kit: Any) -> Any:
    def area(area_id: str) -> dict[str, Any]:
        found = AREAS[area_id]
        return {"id": found["id"], "tag": found["tag"], "mainHome": {"id": found["main"]}}

    catalog = kit.Service(
        "catalog",
        """
        type Query { topHomes: Shortlist! }
        type Shortlist @key(fields: "homes { id }") { homes: [Home!]! }
        extend type Home @key(fields: "id") { id: String! @external  area: Area @shareable }
        type Area @key(fields: "id") { mainHome: Home! @shareable  id: String!  tag: String @shareable }
        """,
        root={"topHomes": {"homes": [{"id": h, "area": area(HOMES[h]["area"])} for h in HOMES]}},
        entities={
            "Home": lambda rep: {"id": rep["id"], "area": area(HOMES[rep["id"]]["area"])},
            "Area": lambda rep: area(rep["id"]),
            "Shortlist": lambda rep: {"homes": rep["homes"]},
        },
    )
    links = kit.Service(
        "links",
        'type Home @key(fields: "id") @key(fields: "id code") { id: String!  code: String! }',
        entities={"Home": lambda rep: {"id": rep["id"], "code": HOMES[rep["id"]]["code"]}},
    )

    def listed(rep: dict[str, Any]) -> dict[str, Any]:
        homes = [_home_key(h, "code") for h in rep["homes"]]
        return {
            "homes": [{"id": h["id"], "code": h["code"]} for h in homes],
            "first": {"id": homes[0]["id"]},
            "selected": {"id": homes[1]["id"]},
        }

    lists = kit.Service(
        "lists",
        """
        type Shortlist @key(fields: "homes { id code }") {
          homes: [Home!]!  first: Home @shareable  selected: Home @shareable
        }
        type Home @key(fields: "id code") { id: String!  code: String }
        """,
        entities={"Shortlist": listed, "Home": lambda rep: _home_key(rep, "code")},
    )

    def priced(rep: dict[str, Any]) -> dict[str, Any]:
        home = _home_key(rep, "code", "area")
        return {"id": home["id"], "code": home["code"], "rent": {"amount": home["rent"]}}

    prices = kit.Service(
        "prices",
        """
        type Shortlist @key(fields: "homes { id code area { id tag } } selected { id }") {
          homes: [Home!]!  first: Home @shareable  selected: Home @shareable
        }
        type Home @key(fields: "id code area { id tag }") {
          id: String!  rent: Rent  code: String  area: Area
        }
        type Area @key(fields: "id tag") { id: String!  tag: String }
        type Rent { amount: Float! }
        """,
        entities={"Home": priced, "Area": lambda rep: AREAS[rep["id"]]},
    )
    return kit.Federation(catalog, links, lists, prices)


async def test_every_part_of_a_nested_key_is_gathered_before_the_call(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        """
        { topHomes {
            homes { id code rent { amount } area { mainHome { id } id tag } }
            selected { id }
            first { id } } }
        """
    )
    assert result == {
        "data": {
            "topHomes": {
                "homes": [
                    {
                        "id": "1",
                        "code": "p1",
                        "rent": {"amount": 100.0},
                        "area": {"mainHome": {"id": "1"}, "id": "c1", "tag": "t1"},
                    },
                    {
                        "id": "2",
                        "code": "p2",
                        "rent": {"amount": 200.0},
                        "area": {"mainHome": {"id": "2"}, "id": "c2", "tag": "t2"},
                    },
                ],
                "selected": {"id": "2"},
                "first": {"id": "1"},
            }
        }
    }
    assert federation.subgraph_errors() == []
