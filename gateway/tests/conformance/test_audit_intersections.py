"""Input objects and enums the subgraphs define differently.

An input type is the intersection of its subgraphs' fields: `offset`, known to
`tours` only, is not part of `VisitFilter`, so a client sending it is refused before any
fetch, for either subgraph's root field. An enum value marked `@inaccessible` is not in
the API: a client cannot send it, and a subgraph answering it gives a null with an error
at that field only, the rest served.
"""

from __future__ import annotations

from typing import Any

import pytest

VISITORS = [{"id": "u1", "kind": "REGULAR"}, {"id": "u2", "kind": "GUEST"}]


def _federation(kit: Any) -> Any:
    people = kit.Service(
        "people",
        """
        type Query { visitorsInPeople(filter: VisitFilter!): [Visitor!]  visitorsByKind(kind: Kind!): [Visitor!] }
        input VisitFilter { first: Int! }
        enum Kind { REGULAR  GUEST @inaccessible }
        type Visitor @key(fields: "id") { id: ID!  kind: Kind }
        """,
        root={
            "visitorsInPeople": VISITORS,
            "visitorsByKind": lambda args: [v for v in VISITORS if v["kind"] == args["kind"]],
        },
        entities={"Visitor": lambda rep: next(v for v in VISITORS if v["id"] == rep["id"])},
    )
    tours = kit.Service(
        "tours",
        """
        type Query { visitorsInTours(filter: VisitFilter!): [Visitor!] }
        input VisitFilter { offset: Int  first: Int! }
        type Visitor @key(fields: "id") { id: ID!  visits: Int }
        """,
        root={"visitorsInTours": [{"id": v["id"], "visits": 1} for v in VISITORS]},
        entities={"Visitor": lambda rep: {"id": rep["id"], "visits": 1}},
    )
    return kit.Federation(people, tours)


async def test_an_input_field_every_subgraph_knows_is_sent(kit: Any) -> None:
    federation = _federation(kit)
    assert await federation.run("{ visitorsInPeople(filter: { first: 1 }) { id } }") == {
        "data": {"visitorsInPeople": [{"id": "u1"}, {"id": "u2"}]}
    }


@pytest.mark.parametrize("field", ["visitorsInPeople", "visitorsInTours"])
async def test_an_input_field_one_subgraph_lacks_is_refused(kit: Any, field: str) -> None:
    federation = _federation(kit)
    result = await federation.run(f"{{ {field}(filter: {{ first: 1, offset: 2 }}) {{ id }} }}")
    assert "data" not in result or result["data"] is None
    assert result["errors"]
    assert federation.fetched == []


async def test_an_inaccessible_enum_value_answered_is_null_with_an_error(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ visitorsInPeople(filter: { first: 2 }) { id kind } }")
    assert result["data"] == {
        "visitorsInPeople": [{"id": "u1", "kind": "REGULAR"}, {"id": "u2", "kind": None}]
    }
    assert [error["path"] for error in result["errors"]] == [["visitorsInPeople", 1, "kind"]]


async def test_an_enum_value_in_the_api_is_sent_and_an_inaccessible_one_refused(
    kit: Any,
) -> None:
    federation = _federation(kit)
    assert await federation.run("{ visitorsByKind(kind: REGULAR) { id kind } }") == {
        "data": {"visitorsByKind": [{"id": "u1", "kind": "REGULAR"}]}
    }
    refused = await federation.run("{ visitorsByKind(kind: GUEST) { id kind } }")
    assert "data" not in refused or refused["data"] is None
    assert refused["errors"]
    assert federation.fetched == []
