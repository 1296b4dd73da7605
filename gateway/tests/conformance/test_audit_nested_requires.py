"""Two `@requires` on one field a third subgraph computes with a `@requires` of its own.

`stats` computes `openVisits` and `visitCount` from the agent's `bookings { id }`;
`bookings` computes those from the agent's `lastName`, which `people` holds. So `people`
is asked first, `bookings` with the last name, then `stats` once with the bookings for
both fields. A requirement that did not arrive makes the resolver fail.
"""

from __future__ import annotations

from typing import Any


def _federation(kit: Any) -> Any:
    people = kit.Service(
        "people",
        """
        type Query { agent: Agent }
        type Agent @key(fields: "id") { id: ID!  firstName: String!  lastName: String!  office: String }
        """,
        root={"agent": {"id": "1", "firstName": "Ada", "lastName": "Moss", "office": "north"}},
        entities={"Agent": lambda rep: {"id": rep["id"], "firstName": "Ada", "lastName": "Moss"}},
    )

    def agent_in_stats(rep: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(rep.get("bookings"), list):
            raise ValueError("bookings are required as a list")
        return {"id": rep["id"], "openVisits": 0, "visitCount": len(rep["bookings"])}

    stats = kit.Service(
        "stats",
        """
        type Booking @key(fields: "id", resolvable: false) { id: ID! }
        type Agent @key(fields: "id") {
          id: ID!
          bookings: [Booking!] @external
          openVisits: Int @requires(fields: "bookings { id }")
          visitCount: Int @requires(fields: "bookings { id }")
        }
        """,
        entities={"Agent": agent_in_stats},
    )

    def agent_in_bookings(rep: dict[str, Any]) -> dict[str, Any]:
        if not rep.get("lastName"):
            raise ValueError("the last name is required")
        return {"id": rep["id"], "bookings": [{"id": f"{rep['lastName']}1"}]}

    bookings = kit.Service(
        "bookings",
        """
        type Booking @key(fields: "id") { id: ID! }
        type Agent @key(fields: "id") {
          id: ID!
          lastName: String! @external
          bookings: [Booking!] @requires(fields: "lastName")
        }
        """,
        entities={"Agent": agent_in_bookings, "Booking": lambda rep: {"id": rep["id"]}},
    )
    return kit.Federation(people, stats, bookings)


async def test_both_fields_get_the_requirement_computed_from_another(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ agent { visitCount openVisits } }")
    assert result == {"data": {"agent": {"visitCount": 1, "openVisits": 0}}}
    assert federation.fetched == ["people", "bookings", "stats"]
    assert federation.services["stats"].representations == [
        [{"__typename": "Agent", "id": "1", "bookings": [{"id": "Moss1"}]}]
    ]
    assert federation.subgraph_errors() == []
