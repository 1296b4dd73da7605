"""A shareable root of a keyless type, each of three subgraphs holding one of its fields.

`names`, `zones` and `prices` all resolve `plot: Plot!` and `plots: [Plot!]!`, sharing
`id`; each has one field of its own. With no key, the only way to a field is the root
of the subgraph holding it: three root fetches side by side, merged (item by item for
the list).
"""

from __future__ import annotations

from typing import Any

import pytest
from gateway.types import GraphQLRequest

PLOT = {"id": "1", "name": "Plot 1", "zone": "Zone 1", "price": 100}


def _federation(kit: Any) -> Any:
    def service(name: str, field: str, kind: str) -> Any:
        value = {"id": PLOT["id"], field: PLOT[field]}
        return kit.Service(
            name,
            f"""
            type Query {{ plot: Plot! @shareable  plots: [Plot!]! @shareable }}
            type Plot {{ id: ID! @shareable  {field}: {kind}! }}
            """,
            root={"plot": value, "plots": [value]},
        )

    return kit.Federation(
        service("names", "name", "String"),
        service("zones", "zone", "String"),
        service("prices", "price", "Int"),
    )


@pytest.mark.parametrize(("root", "expected"), [("plot", PLOT), ("plots", [PLOT])])
async def test_each_field_from_the_root_of_its_subgraph(kit: Any, root: str, expected: Any) -> None:
    federation = _federation(kit)
    assert await federation.run(f"{{ {root} {{ id name zone price }} }}") == {
        "data": {root: expected}
    }
    assert sorted(federation.fetched) == ["names", "prices", "zones"]
    plan = federation.engine.plan_for(
        GraphQLRequest(f"{{ {root} {{ id name zone price }} }}")
    ).describe()
    assert len(plan) == 1 and len(plan[0]["roots"]) == 3 and plan[0]["waves"] == []
    assert federation.subgraph_errors() == []
