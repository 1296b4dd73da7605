"""A type that is an entity in one subgraph and a keyless value type in another.

`directory` lists `agents` as a plain shareable type (no key, `id: ID`); `profiles` has
`Agent @key(fields: "id")` with `id: ID!` and `name`, and a `Member = Agent | Broker`
union where `Broker.id` is the nullable `ID`. The agents listed by `directory` still jump
to `profiles` by the key its `id` makes, and the union's `id` fields, of different
nullability in `profiles`, are sent there under distinct response names (one aliased)
and read back under the client's.
"""

from __future__ import annotations

from typing import Any

AGENTS = [{"id": "n1", "name": "Nora Quist"}]
BROKER = {"__typename": "Broker", "id": "k1", "photo": "k1.jpg"}


def _federation(kit: Any) -> Any:
    directory = kit.Service(
        "directory",
        """
        type Agent { id: ID @shareable }
        type Query { agents: [Agent!]! }
        """,
        root={"agents": [{"id": a["id"]} for a in AGENTS]},
    )
    profiles = kit.Service(
        "profiles",
        """
        union Member = Agent | Broker
        type Agent @key(fields: "id") { id: ID!  name: String }
        type Broker { id: ID  photo: String @shareable }
        type Query { members: [Member!]! }
        """,
        root={"members": [*({"__typename": "Agent", **a} for a in AGENTS), BROKER]},
        entities={"Agent": lambda rep: next((a for a in AGENTS if a["id"] == rep["id"]), None)},
    )
    return kit.Federation(directory, profiles)


async def test_a_keyless_list_jumps_by_the_key_and_the_union_ids_are_kept_apart(
    kit: Any,
) -> None:
    federation = _federation(kit)
    result = await federation.run(
        """
        { agents { id name }
          members { ... on Agent { id name } ... on Broker { id photo } } }
        """
    )
    assert result == {
        "data": {
            "agents": [{"id": "n1", "name": "Nora Quist"}],
            "members": [{"id": "n1", "name": "Nora Quist"}, {"id": "k1", "photo": "k1.jpg"}],
        }
    }
    assert sorted(federation.fetched) == ["directory", "profiles", "profiles"]
    assert federation.subgraph_errors() == []
    assert [{"__typename": "Agent", "id": "n1"}] in federation.services["profiles"].representations
