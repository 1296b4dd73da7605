"""The audit's `defer` suite: a shareable keyless root whose object fields come from
three subgraphs (no `@defer` in its queries: what it checks is the merge of slow
subgraphs' parts, and that a client taking incremental delivery gets one answer)."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.types import INCREMENTAL_SPEC_V0_2, GraphQLRequest, RequestContext

PARTS = {
    "title": (
        "Title",
        "{ id: ID!  street: String!  number: String! }",
        {"id": "1", "street": "Elm", "number": "7"},
    ),
    "zone": ("Zone", "{ id: ID!  name: String! }", {"id": "1", "name": "Zone 1"}),
    "rent": (
        "Rent",
        "{ id: ID!  amount: Int!  currency: String! }",
        {"id": "1", "amount": 1000, "currency": "EUR"},
    ),
}
PLOT = {"id": "1", **{field: value for field, (_, _, value) in PARTS.items()}}
QUERY = "{{ {root} {{ id title {{ id street number }} zone {{ id name }} rent {{ id amount currency }} }} }}"


def _federation(kit: Any) -> Any:
    services = []
    for field, (type_name, body, value) in PARTS.items():
        plot = {"id": "1", field: value}
        services.append(
            kit.Service(
                f"{field}s",
                f"""
                type Query {{ plot: Plot! @shareable  plots: [Plot!]! @shareable }}
                type Plot {{ id: ID! @shareable  {field}: {type_name}! }}
                type {type_name} {body}
                """,
                root={"plot": plot, "plots": [plot]},
            )
        )
    return kit.Federation(*services)


@pytest.mark.parametrize(("root", "expected"), [("plot", PLOT), ("plots", [PLOT])])
async def test_object_parts_of_a_shared_root_merge(kit: Any, root: str, expected: Any) -> None:
    federation = _federation(kit)
    query = QUERY.format(root=root)
    assert await federation.run(query) == {"data": {root: expected}}
    assert sorted(federation.fetched) == ["rents", "titles", "zones"]
    # Asked with incremental delivery but nothing deferred: one answer, no `hasNext`.
    whole = await federation.engine.execute_incremental(
        GraphQLRequest(query), RequestContext(), spec=INCREMENTAL_SPEC_V0_2
    )
    assert whole == {"data": {root: expected}}
    assert federation.subgraph_errors() == []
