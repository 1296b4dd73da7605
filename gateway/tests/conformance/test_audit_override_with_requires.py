"""`@requires` of a field another subgraph took over with `@override`.

`agents`, `offices` and `teams` each have a root returning an `Agent` (by key). `offices`
owns `name`, taken over from `teams` (`@override(from: "teams")`); `agents` and `teams`
hold `name` as `@external` and each computes a field from it (`badge`, `signature`,
`@requires(fields: "name")`). Whichever root starts, the name comes from `offices`
and is sent back with the key to the subgraph requiring it; a root in `offices` already
has it.
"""

from __future__ import annotations

from typing import Any

AGENTS = {
    "a1": {"id": "a1", "name": "Ann"},
    "a2": {"id": "a2", "name": "Bob"},
    "a3": {"id": "a3", "name": "Cy"},
}


def _computed(prefix: str, field: str) -> Any:
    def resolve(rep: dict[str, Any]) -> Any:
        if "name" not in rep:
            return {"id": rep["id"]}
        return {"id": rep["id"], field: f"{prefix}:{rep['name']}"}

    return resolve


def _federation(kit: Any) -> Any:
    agents = kit.Service(
        "agents",
        """
        type Query { agentInAgents: Agent }
        type Agent @key(fields: "id") {
          id: ID!
          name: String! @external
          badge: String! @requires(fields: "name")
        }
        """,
        root={"agentInAgents": {"id": "a1"}},
        entities={"Agent": _computed("badge", "badge")},
    )
    offices = kit.Service(
        "offices",
        """
        type Query { agentInOffices: Agent }
        type Agent @key(fields: "id") { id: ID!  name: String! @override(from: "teams") }
        """,
        root={"agentInOffices": AGENTS["a2"]},
        entities={"Agent": lambda rep: AGENTS[rep["id"]]},
    )
    teams = kit.Service(
        "teams",
        """
        type Query { agentInTeams: Agent }
        type Agent @key(fields: "id") {
          id: ID!
          name: String! @external
          signature: String! @requires(fields: "name")
        }
        """,
        root={"agentInTeams": {"id": "a3"}},
        entities={"Agent": _computed("sig", "signature")},
    )
    return kit.Federation(agents, offices, teams)


async def test_every_root_gets_the_name_from_its_new_owner(kit: Any) -> None:
    federation = _federation(kit)
    fields = "id name badge signature"
    result = await federation.run(
        f"{{ agentInAgents {{ {fields} }} agentInOffices {{ {fields} }} agentInTeams {{ {fields} }} }}"
    )
    assert result == {
        "data": {
            "agentInAgents": {
                "id": "a1",
                "name": "Ann",
                "badge": "badge:Ann",
                "signature": "sig:Ann",
            },
            "agentInOffices": {
                "id": "a2",
                "name": "Bob",
                "badge": "badge:Bob",
                "signature": "sig:Bob",
            },
            "agentInTeams": {"id": "a3", "name": "Cy", "badge": "badge:Cy", "signature": "sig:Cy"},
        }
    }
    assert federation.subgraph_errors() == []
    # The required name is always the one `offices` answered, sent with the key.
    sent = [rep for reps in federation.services["teams"].representations for rep in reps]
    assert {"__typename": "Agent", "id": "a3", "name": "Cy"} in sent


async def test_a_field_requiring_the_name_from_its_own_root(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ agentInTeams { signature } }")
    assert result == {"data": {"agentInTeams": {"signature": "sig:Cy"}}}
    assert federation.fetched == ["teams", "offices", "teams"]
    assert federation.services["teams"].representations[-1] == [
        {"__typename": "Agent", "id": "a3", "name": "Cy"}
    ]


async def test_a_field_requiring_the_name_from_another_root(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ agentInAgents { signature } }")
    assert result == {"data": {"agentInAgents": {"signature": "sig:Ann"}}}
    assert federation.fetched == ["agents", "offices", "teams"]


async def test_a_field_of_the_root_subgraph_requiring_the_name(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ agentInAgents { badge } }")
    assert result == {"data": {"agentInAgents": {"badge": "badge:Ann"}}}
    assert federation.fetched == ["agents", "offices", "agents"]
