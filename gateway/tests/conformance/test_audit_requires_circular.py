"""A `@requires` chain that goes back and forth between two subgraphs.

`catalog` computes `listedByAgency` from `listedByNewcomer`, which `agents` computes from
the agent's `years`, which only `catalog` resolves. So the plan visits catalog, agents,
catalog, agents and catalog again, each step with what the one before returned; a
requirement skipped anywhere would make the resolver answer null.
"""

from __future__ import annotations

from typing import Any

import pytest

LISTING_AGENT = {"l1": "a1", "l2": "a2"}
YEARS = {"a1": 1, "a2": 12}


def _federation(kit: Any) -> Any:
    def listing(rep: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {"id": rep["id"]}
        if rep.get("listedByNewcomer") is not None:
            found["listedByAgency"] = not rep["listedByNewcomer"]
        else:
            found["listedByAgency"] = lambda *_: None  # the requirement was skipped
        return found

    catalog = kit.Service(
        "catalog",
        """
        type Query { feed: [Listing] }
        type Listing @key(fields: "id") {
          id: ID!
          listedByNewcomer: Boolean! @external
          listedByAgency: Boolean! @requires(fields: "listedByNewcomer")
        }
        type Agent @key(fields: "id") { id: ID!  years: Int! }
        """,
        root={"feed": [{"id": "l1"}, {"id": "l2"}]},
        entities={
            "Listing": listing,
            "Agent": lambda rep: {"id": rep["id"], "years": YEARS[rep["id"]]},
        },
    )

    def agents_listing(rep: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {"id": rep["id"], "agent": {"id": LISTING_AGENT[rep["id"]]}}
        if "agent" in rep:
            found["listedByNewcomer"] = rep["agent"]["years"] < 3
        return found

    agents = kit.Service(
        "agents",
        """
        type Listing @key(fields: "id") {
          id: ID!
          agent: Agent
          listedByNewcomer: Boolean! @requires(fields: "agent { years }")
        }
        type Agent @key(fields: "id") { id: ID!  years: Int! @external }
        """,
        entities={"Listing": agents_listing},
    )
    return kit.Federation(catalog, agents)


@pytest.mark.parametrize(
    ("field", "values", "fetched"),
    [
        ("listedByNewcomer", [True, False], ["catalog", "agents", "catalog", "agents"]),
        (
            "listedByAgency",
            [False, True],
            ["catalog", "agents", "catalog", "agents", "catalog"],
        ),
    ],
)
async def test_each_step_of_the_chain_gets_what_the_step_before_returned(
    kit: Any, field: str, values: list[bool], fetched: list[str]
) -> None:
    federation = _federation(kit)
    result = await federation.run(f"{{ feed {{ {field} }} }}")
    assert result == {"data": {"feed": [{field: value} for value in values]}}
    assert federation.fetched == fetched
    assert federation.subgraph_errors() == []


async def test_a_requirement_must_still_reach_an_external_field(kit: Any) -> None:
    from gateway.compose import CompositionError

    local_only = kit.Service(
        "agents",
        """
        type Listing @key(fields: "id") {
          id: ID!  agent: Agent  listedByNewcomer: Boolean! @requires(fields: "agent { id }")
        }
        type Agent @key(fields: "id") { id: ID! }
        """,
    )
    owner = kit.Service(
        "catalog", 'type Query { l: Listing } type Listing @key(fields: "id") { id: ID! }'
    )
    with pytest.raises(CompositionError, match="REQUIRES_FIELDS_MISSING_EXTERNAL"):
        kit.compose_sdl(owner, local_only)
