"""The simplest entity call: a root object completed by another subgraph through its key."""

from __future__ import annotations

from typing import Any

AGENTS = [{"id": "a1", "email": "ann@realty.test", "nickname": "Annie"}]


async def test_a_field_of_another_subgraph_comes_through_the_key(kit: Any) -> None:
    accounts = kit.Service(
        "accounts",
        """
        type Query { agent: Agent }
        type Agent @key(fields: "id") { id: ID!  email: String! }
        """,
        root={"agent": {"id": "a1", "email": "ann@realty.test"}},
        entities={"Agent": lambda rep: next((a for a in AGENTS if a["id"] == rep["id"]), None)},
    )
    profiles = kit.Service(
        "profiles",
        'type Agent @key(fields: "id") { id: ID!  nickname: String! }',
        entities={"Agent": lambda rep: next((a for a in AGENTS if a["id"] == rep["id"]), None)},
    )
    federation = kit.Federation(accounts, profiles)
    result = await federation.run("{ agent { id nickname } }")
    assert result == {"data": {"agent": {"id": "a1", "nickname": "Annie"}}}
    assert federation.fetched == ["accounts", "profiles"]
    assert profiles.representations == [[{"__typename": "Agent", "id": "a1"}]]
    assert federation.subgraph_errors() == []
