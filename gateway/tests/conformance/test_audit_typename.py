"""`__typename`, aliased and repeated, on unions, interfaces and entities across subgraphs.

`__typename` is the concrete object type wherever it is asked: under a union or an
interface, directly, under an alias, several times and inside type-conditioned
fragments; an entity list answers its object type's name without any entity call.
"""

from __future__ import annotations

from typing import Any

import pytest


def _federation(kit: Any) -> Any:
    fixtures = kit.Service(
        "fixtures",
        """
        type Query { fixture: Fixture  device: Device }
        union Fixture = Boiler | Heater
        interface Device { id: ID! }
        type Boiler implements Device { id: ID! }
        type Heater implements Device { id: ID! }
        """,
        root={
            "fixture": {"__typename": "Boiler", "id": "1"},
            "device": {"__typename": "Heater", "id": "2"},
        },
    )
    people = kit.Service(
        "people",
        """
        type Query { staff: [Member] }
        interface Member { id: ID! }
        type Admin implements Member @key(fields: "id") { id: ID!  name: String }
        """,
        root={"staff": [{"__typename": "Admin", "id": "u1"}, {"__typename": "Admin", "id": "u2"}]},
        entities={"Admin": lambda rep: {"id": rep["id"], "name": "n"}},
    )
    return kit.Federation(fixtures, people)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "{ fixture { __typename kind: __typename } }",
            {"fixture": {"__typename": "Boiler", "kind": "Boiler"}},
        ),
        (
            "{ device { id __typename kind: __typename k: __typename } }",
            {"device": {"id": "2", "__typename": "Heater", "kind": "Heater", "k": "Heater"}},
        ),
        (
            "{ fixture { __typename ... on Boiler { kind: __typename } ... on Heater { kind: __typename } } }",
            {"fixture": {"__typename": "Boiler", "kind": "Boiler"}},
        ),
        (
            "{ device { __typename ... on Boiler { kind: __typename } ... on Heater { kind: __typename } } }",
            {"device": {"__typename": "Heater", "kind": "Heater"}},
        ),
        ("{ staff { id } }", {"staff": [{"id": "u1"}, {"id": "u2"}]}),
        ("{ staff { __typename } }", {"staff": [{"__typename": "Admin"}, {"__typename": "Admin"}]}),
    ],
)
async def test_typename_is_the_concrete_type_however_it_is_asked(
    kit: Any, query: str, expected: dict[str, Any]
) -> None:
    federation = _federation(kit)
    assert await federation.run(query) == {"data": expected}
    assert len(federation.fetched) == 1
