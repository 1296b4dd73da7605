"""`@requires` on a field of an `@interfaceObject`: the requirement from the interface's owner.

`people` owns the entity interface `Person` (`Agent` implements it, with `years`) and
the root `people`; `handles` sees `Person` as an `@interfaceObject` with the root
`otherPeople`, `name` external and `handle` requiring it. Whichever root starts, the
handle waits for the name from `people`, sent back with the key; a subgraph that
computes the handle without its name answers an error, so a missing requirement shows.
"""

from __future__ import annotations

from typing import Any

import pytest

AGENTS = {
    "p1": {"__typename": "Agent", "id": "p1", "name": "Ann", "years": 11, "handle": "ann-h"},
    "p2": {"__typename": "Agent", "id": "p2", "name": "Bob", "years": 22, "handle": "bob-h"},
}


def _agent(rep: dict[str, Any]) -> Any:
    agent = AGENTS[rep["id"]]
    return {k: agent[k] for k in ("__typename", "id", "name", "years")}


def _handle(rep: dict[str, Any]) -> Any:
    if "name" not in rep:
        raise ValueError("the handle needs the name it requires")
    return {"id": rep["id"], "name": rep["name"], "handle": AGENTS[rep["id"]]["handle"]}


def _federation(kit: Any) -> Any:
    people = kit.Service(
        "people",
        """
        type Query { people: [Person!]! }
        interface Person @key(fields: "id") { id: ID!  name: String }
        type Agent implements Person @key(fields: "id") { id: ID!  name: String  years: Int }
        """,
        root={"people": [_agent({"id": key}) for key in AGENTS]},
        entities={"Person": _agent, "Agent": _agent},
    )
    handles = kit.Service(
        "handles",
        """
        type Query { otherPeople: [Person] }
        type Person @key(fields: "id") @interfaceObject {
          id: ID!
          name: String @external
          handle: String @requires(fields: "name")
        }
        """,
        root={"otherPeople": [{"id": key} for key in AGENTS]},
        entities={"Person": _handle},
    )
    return kit.Federation(people, handles)


BOTH = [
    {"id": "p1", "name": "Ann", "handle": "ann-h"},
    {"id": "p2", "name": "Bob", "handle": "bob-h"},
]
YEARS = [{"years": 11}, {"years": 22}]
ALL_OF_THEM = [
    {"years": 11, "id": "p1", "name": "Ann", "handle": "ann-h"},
    {"years": 22, "id": "p2", "name": "Bob", "handle": "bob-h"},
]
SPREAD = "{ ... on Agent { years id name handle } id name }"


@pytest.mark.parametrize(
    ("query", "expected", "fetched"),
    [
        (
            "{ otherPeople { id name handle } }",
            {"otherPeople": BOTH},
            ["handles", "people", "handles"],
        ),
        ("{ people { id name handle } }", {"people": BOTH}, ["people", "handles"]),
        (
            "{ otherPeople { ... on Agent { years } } }",
            {"otherPeople": YEARS},
            ["handles", "people"],
        ),
        ("{ people { ... on Agent { years } } }", {"people": YEARS}, ["people"]),
        (f"{{ otherPeople {SPREAD} }}", {"otherPeople": ALL_OF_THEM}, None),
        (f"{{ people {SPREAD} }}", {"people": ALL_OF_THEM}, ["people", "handles"]),
    ],
)
async def test_the_required_name_comes_from_the_interfaces_owner(
    kit: Any, query: str, expected: dict[str, Any], fetched: list[str] | None
) -> None:
    federation = _federation(kit)
    assert await federation.run(query) == {"data": expected}
    assert federation.subgraph_errors() == []
    if fetched is not None:
        assert federation.fetched == fetched


async def test_the_same_query_again_from_the_plan_cache(kit: Any) -> None:
    federation = _federation(kit)
    for _ in range(2):
        assert await federation.run(f"{{ people {SPREAD} }}") == {"data": {"people": ALL_OF_THEM}}
        assert federation.subgraph_errors() == []
        assert federation.services["handles"].representations[-1] == [
            {"__typename": "Person", "id": "p1", "name": "Ann"},
            {"__typename": "Person", "id": "p2", "name": "Bob"},
        ]
