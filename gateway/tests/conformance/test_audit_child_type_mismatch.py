"""Sibling fragments whose fields differ in nullability, at every depth of a recursive union.

`clubs` has `members: [Member!]!` and knows a member by a key it cannot resolve
(`resolvable: false`), with `id: ID`; `desks` owns `Party = Member | Staff`, where
`Member.id` is `ID!` and `Staff.id` is `ID`, and `peers: [Party!]!` on both members.
`desks` rejects `... on Member { id } ... on Staff { id }` under one response key unless
one is aliased, at each level the query reaches: the answers must read back as asked.
"""

from __future__ import annotations

from typing import Any

import pytest

MEMBER = {"__typename": "Member", "id": "m1", "name": "Ann"}
STAFF = {"__typename": "Staff", "id": "s1", "name": "Sid"}


def _parties(depth: int) -> list[dict[str, Any]]:
    """The parties `desks` answers, each with its peers (the same two) to `depth` levels."""
    peers = _parties(depth - 1) if depth else []
    return [{**MEMBER, "peers": peers}, {**STAFF, "peers": peers}]


def _federation(kit: Any) -> Any:
    clubs = kit.Service(
        "clubs",
        """
        type Query { members: [Member!]! }
        type Member @key(fields: "id", resolvable: false) { id: ID @shareable }
        """,
        root={"members": [{"id": "m1"}]},
    )
    desks = kit.Service(
        "desks",
        """
        type Query { parties: [Party!]! }
        union Party = Member | Staff
        type Member @key(fields: "id") { id: ID!  name: String  peers: [Party!]! }
        type Staff { id: ID  name: String @shareable  peers: [Party!]! }
        """,
        root={"parties": _parties(3)},
        entities={"Member": lambda rep: {**MEMBER, "peers": _parties(2)}},
    )
    return kit.Federation(clubs, desks)


def _level(inner: str) -> str:
    return f"... on Member {{ {inner} }} ... on Staff {{ {inner} }}"


ONE = _level("id name")
TWO = _level(f"id name peers {{ {ONE} }}")
THREE = _level(f"id name peers {{ {TWO} }}")
NAMES_ONE = _level("name")
NAMES_TWO = _level(f"name peers {{ {NAMES_ONE} }}")
NAMES_THREE = _level(f"name peers {{ {NAMES_TWO} }}")

PAIR = [{"id": "m1", "name": "Ann"}, {"id": "s1", "name": "Sid"}]
PAIR_TWO = [{**p, "peers": PAIR} for p in PAIR]
PAIR_THREE = [{**p, "peers": PAIR_TWO} for p in PAIR]
NAMES = [{"name": "Ann"}, {"name": "Sid"}]
NAMES_DEEP = [{**n, "peers": [{**m, "peers": NAMES} for m in NAMES]} for n in NAMES]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            f"{{ members {{ id name }} parties {{ {ONE} }} }}",
            {"members": [{"id": "m1", "name": "Ann"}], "parties": PAIR},
        ),
        (
            f"query Nested {{ members {{ id name }} parties {{ {TWO} }} }}",
            {"members": [{"id": "m1", "name": "Ann"}], "parties": PAIR_TWO},
        ),
        (
            f"query DeeplyNested {{ members {{ id name }} parties {{ {THREE} }} }}",
            {"members": [{"id": "m1", "name": "Ann"}], "parties": PAIR_THREE},
        ),
        (f"query Names {{ parties {{ {NAMES_THREE} }} }}", {"parties": NAMES_DEEP}),
    ],
)
async def test_conflicting_siblings_are_aliased_at_every_depth(
    kit: Any, query: str, expected: dict[str, Any]
) -> None:
    federation = _federation(kit)
    assert await federation.run(query) == {"data": expected}
    assert federation.subgraph_errors() == []
