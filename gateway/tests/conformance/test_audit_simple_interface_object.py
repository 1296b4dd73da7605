"""`@interfaceObject` in both directions, and a third subgraph adding a field to it.

`people` owns two entity interfaces: `Person` (implemented by `Agent`, with `years`)
behind the root `people`, and `Account` (`Owner`, `Tenant`). `handles` sees both as
`@interfaceObject`s: `Person` with `handle` behind `otherPeople`, `Account` with `name`
behind `accounts`. `checks` adds `Account.verified` as an `@interfaceObject` too (always
false there), where `people`'s `Owner` has its own shareable `verified`. An interface
object does not know its objects' types: a type condition or `__typename` over its
values needs the owning subgraph; a field of the interface does not.
"""

from __future__ import annotations

from typing import Any

import pytest

AGENTS = {
    "p1": {"__typename": "Agent", "id": "p1", "name": "Ann", "years": 11, "handle": "ann-h"},
    "p2": {"__typename": "Agent", "id": "p2", "name": "Bob", "years": 22, "handle": "bob-h"},
}
ACCOUNTS = {
    "c1": {"__typename": "Owner", "id": "c1", "name": "Alice", "primary": True, "verified": True},
    "c2": {"__typename": "Owner", "id": "c2", "name": "Bert", "primary": False, "verified": True},
    "c3": {"__typename": "Tenant", "id": "c3", "name": "Cleo", "primary": False},
}


def _agent(rep: dict[str, Any]) -> Any:
    agent = AGENTS[rep["id"]]
    return {k: agent[k] for k in ("__typename", "id", "name", "years")}


def _account(rep: dict[str, Any]) -> Any:
    account = ACCOUNTS[rep["id"]]
    return {k: v for k, v in account.items() if k != "name"}


def _federation(kit: Any) -> Any:
    people = kit.Service(
        "people",
        """
        type Query { people: [Person!]! }
        interface Person @key(fields: "id") { id: ID!  name: String }
        type Agent implements Person @key(fields: "id") { id: ID!  name: String  years: Int }
        interface Account @key(fields: "id") { id: ID! }
        type Owner implements Account @key(fields: "id") {
          id: ID!  primary: Boolean!  verified: Boolean! @shareable
        }
        type Tenant implements Account @key(fields: "id") { id: ID!  primary: Boolean! }
        """,
        root={"people": [_agent({"id": key}) for key in AGENTS]},
        entities={
            "Person": _agent,
            "Agent": _agent,
            "Account": _account,
            "Owner": _account,
            "Tenant": _account,
        },
    )
    # An interface object's values carry the interface's name, never their own type's.
    handles = kit.Service(
        "handles",
        """
        type Query { otherPeople: [Person!]!  accounts: [Account!]! }
        type Person @key(fields: "id") @interfaceObject { id: ID!  handle: String }
        type Account @key(fields: "id") @interfaceObject { id: ID!  name: String }
        """,
        root={
            "otherPeople": [{"id": a["id"], "handle": a["handle"]} for a in AGENTS.values()],
            "accounts": [{"id": a["id"], "name": a["name"]} for a in ACCOUNTS.values()],
        },
        entities={
            "Person": lambda rep: {"id": rep["id"], "handle": AGENTS[rep["id"]]["handle"]},
            "Account": lambda rep: {"id": rep["id"], "name": ACCOUNTS[rep["id"]]["name"]},
        },
    )
    checks = kit.Service(
        "checks",
        """
        type Account @key(fields: "id") @interfaceObject { id: ID!  verified: Boolean! @shareable }
        """,
        entities={"Account": lambda rep: {"id": rep["id"], "verified": False}},
    )
    return kit.Federation(people, handles, checks)


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
        ("{ otherPeople { id name handle } }", {"otherPeople": BOTH}, ["handles", "people"]),
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
async def test_an_entity_interface_seen_as_an_object_elsewhere(
    kit: Any, query: str, expected: dict[str, Any], fetched: list[str] | None
) -> None:
    federation = _federation(kit)
    assert await federation.run(query) == {"data": expected}
    assert federation.subgraph_errors() == []
    if fetched is not None:
        assert federation.fetched == fetched


async def test_the_same_query_twice_from_the_plan_cache(kit: Any) -> None:
    federation = _federation(kit)
    for _ in range(2):
        assert await federation.run(f"{{ people {SPREAD} }}") == {"data": {"people": ALL_OF_THEM}}
        assert federation.fetched == ["people", "handles"]


NAMES = [{"name": "Alice"}, {"name": "Bert"}, {"name": "Cleo"}]


@pytest.mark.parametrize(
    ("query", "expected", "fetched"),
    [
        # A field of the interface: the interface object alone.
        ("{ accounts { name } }", NAMES, ["handles"]),
        # A type condition: the owning subgraph tells the types.
        ("{ accounts { ... on Owner { name } } }", [{"name": "Alice"}, {"name": "Bert"}, {}], None),
        (
            "{ accounts { name __typename } }",
            [
                {"name": "Alice", "__typename": "Owner"},
                {"name": "Bert", "__typename": "Owner"},
                {"name": "Cleo", "__typename": "Tenant"},
            ],
            ["handles", "people"],
        ),
        (
            "{ accounts { ... on Owner { __typename } } }",
            [{"__typename": "Owner"}, {"__typename": "Owner"}, {}],
            ["handles", "people"],
        ),
        # The interface's own field from the interface object adding it, for every account.
        (
            "{ accounts { id verified } }",
            [
                {"id": "c1", "verified": False},
                {"id": "c2", "verified": False},
                {"id": "c3", "verified": False},
            ],
            ["handles", "checks"],
        ),
        # Both at once: the concrete type an owner tells is not undone by the other answer.
        (
            "{ accounts { verified ... on Owner { primary } } }",
            [
                {"verified": False, "primary": True},
                {"verified": False, "primary": False},
                {"verified": False},
            ],
            ["handles", "checks", "people"],
        ),
        # The member's own field from the member's subgraph.
        (
            "{ accounts { id ... on Owner { verified } } }",
            [{"id": "c1", "verified": True}, {"id": "c2", "verified": True}, {"id": "c3"}],
            ["handles", "people"],
        ),
    ],
)
async def test_an_interface_object_root_and_type_conditions(
    kit: Any, query: str, expected: list[Any], fetched: list[str] | None
) -> None:
    federation = _federation(kit)
    assert await federation.run(query) == {"data": {"accounts": expected}}
    assert federation.subgraph_errors() == []
    if fetched is not None:
        assert federation.fetched == fetched
