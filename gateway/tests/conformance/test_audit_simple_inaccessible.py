"""An `@inaccessible` argument, with an `@inaccessible` enum value as its default.

`network` gives each agent `colleagues(kind: Relation = TEAM @inaccessible)` and a `kind`
that answers `TEAM`, the value the API lacks; `people` answers `agentsInPeople` with the
agents' ages. The argument is no part of the API: asked without it, the subgraph applies
its own default; asked with it, the operation is refused before any fetch. A `TEAM`
answered comes out null, with an error at that field only.
"""

from __future__ import annotations

from typing import Any

import pytest

COLLEAGUES = {"u1": ["u2"], "u2": ["u1"]}


def _federation(kit: Any) -> Any:
    def agent(agent_id: str) -> dict[str, Any]:
        return {
            "id": agent_id,
            "kind": "TEAM",
            "colleagues": lambda *_, **args: _colleagues(agent_id, args),
        }

    def _colleagues(agent_id: str, args: dict[str, Any]) -> list[dict[str, Any]]:
        assert args == {"kind": "TEAM"}, "the subgraph's own default applies"
        return [agent(other) for other in COLLEAGUES[agent_id]]

    network = kit.Service(
        "network",
        """
        type Query { agentsInNetwork: [Agent!]! }
        type Agent @key(fields: "id") {
          id: ID
          colleagues(kind: Relation = TEAM @inaccessible): [Agent!]!
          kind: Relation
        }
        enum Relation { TEAM @inaccessible  PEER }
        """,
        root={"agentsInNetwork": [agent("u1"), agent("u2")]},
        entities={"Agent": lambda rep: agent(rep["id"])},
    )
    people = kit.Service(
        "people",
        """
        type Query { agentsInPeople: [Agent!]! }
        type Agent @key(fields: "id") { id: ID  age: Int }
        """,
        root={"agentsInPeople": [{"id": "u1", "age": 41}, {"id": "u2", "age": 35}]},
        entities={"Agent": lambda rep: {"id": rep["id"], "age": 40}},
    )
    return kit.Federation(network, people)


EXPECTED = [{"id": "u1", "colleagues": [{"id": "u2"}]}, {"id": "u2", "colleagues": [{"id": "u1"}]}]


@pytest.mark.parametrize(
    ("field", "fetched"),
    [("agentsInPeople", ["people", "network"]), ("agentsInNetwork", ["network"])],
)
async def test_the_field_works_without_its_hidden_argument(
    kit: Any, field: str, fetched: list[str]
) -> None:
    federation = _federation(kit)
    result = await federation.run(f"{{ {field} {{ id colleagues {{ id }} }} }}")
    assert result == {"data": {field: EXPECTED}}
    assert federation.fetched == fetched
    assert all("kind" not in query for _, query, _ in federation.transport.calls)


async def test_the_hidden_argument_is_refused(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ agentsInNetwork { id colleagues(kind: PEER) { id } } }")
    assert result.get("data") is None
    assert "kind" in result["errors"][0]["message"]
    assert federation.fetched == []


async def test_a_hidden_enum_value_comes_out_null(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ agentsInNetwork { id colleagues { id kind } } }")
    assert result["data"] == {
        "agentsInNetwork": [
            {"id": "u1", "colleagues": [{"id": "u2", "kind": None}]},
            {"id": "u2", "colleagues": [{"id": "u1", "kind": None}]},
        ]
    }
    paths = sorted(error["path"] for error in result["errors"])
    assert paths == [
        ["agentsInNetwork", 0, "colleagues", 0, "kind"],
        ["agentsInNetwork", 1, "colleagues", 0, "kind"],
    ]
