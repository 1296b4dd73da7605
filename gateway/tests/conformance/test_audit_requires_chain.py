"""A `@requires` whose own requirement is another subgraph's `@requires`, through a list.

`catalog` answers the feed and computes each listing's `agent` from its `agentId`, which
`visits` computes from the listing's `visits { agentId }`; `visits` knows each visit's id
only, `catalog` the visit's `agentId`. So the plan goes catalog, visits, catalog, visits
and catalog again, each step with what the one before returned.
"""

from __future__ import annotations

from typing import Any

VISITS = {
    "p1": [("c1", "a2"), ("c2", "a2"), ("c3", "a2")],
    "p2": [("c4", "a1"), ("c5", "a1"), ("c6", "a1")],
}
AGENT_OF_VISIT = {visit: agent for visits in VISITS.values() for visit, agent in visits}
AGENTS = {"a1": "a1-name", "a2": "a2-name"}


def _federation(kit: Any) -> Any:
    def listing_in_catalog(rep: dict[str, Any]) -> dict[str, Any]:
        agent_id = rep.get("agentId")
        if agent_id is None:
            raise ValueError("agentId is required")
        return {"id": rep["id"], "agent": {"id": agent_id, "name": AGENTS[agent_id]}}

    catalog = kit.Service(
        "catalog",
        """
        type Query { feed: [Listing] }
        type Listing @key(fields: "id") {
          id: ID!
          agentId: ID @external
          agent: Agent @requires(fields: "agentId")
        }
        type Visit @key(fields: "id") { id: ID!  agentId: ID }
        type Agent { id: ID!  name: String }
        """,
        root={"feed": [{"id": "p1"}, {"id": "p2"}]},
        entities={
            "Listing": listing_in_catalog,
            "Visit": lambda rep: {"id": rep["id"], "agentId": AGENT_OF_VISIT[rep["id"]]},
        },
    )

    def listing_in_visits(rep: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {
            "id": rep["id"],
            "visits": [{"id": visit} for visit, _ in VISITS[rep["id"]]],
        }
        if "visits" in rep:
            if len(rep["visits"]) != 3:
                raise ValueError("expected the listing's three visits")
            found["agentId"] = rep["visits"][2]["agentId"]
        return found

    visits = kit.Service(
        "visits",
        """
        type Listing @key(fields: "id") {
          id: ID!
          agentId: ID @requires(fields: "visits { agentId }")
          visits: [Visit]
        }
        type Visit @key(fields: "id") { id: ID!  agentId: ID @external }
        """,
        entities={"Listing": listing_in_visits, "Visit": lambda rep: {"id": rep["id"]}},
    )
    return kit.Federation(catalog, visits)


async def test_the_chain_runs_back_and_forth_to_the_end(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ feed { agent { id } } }")
    assert result == {"data": {"feed": [{"agent": {"id": "a2"}}, {"agent": {"id": "a1"}}]}}
    assert federation.fetched == ["catalog", "visits", "catalog", "visits", "catalog"]
    assert federation.subgraph_errors() == []
    assert federation.services["visits"].representations[-1] == [
        {
            "__typename": "Listing",
            "id": listing,
            "visits": [{"agentId": agent} for _, agent in VISITS[listing]],
        }
        for listing in ("p1", "p2")
    ]
