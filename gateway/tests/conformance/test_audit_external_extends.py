"""Federation 2 entities written as extensions, their key field marked `@external`.

`visits` writes `type Agent @key(fields: "id") @extends` (or `extend type Agent`) with
`id` and `name` `@external`. The key field is a "fake" external, answered by visits
itself; `name` is really external: only `@provides` on `providedAgent` lets visits
answer it, otherwise it comes from `people` (visits' own resolver would say "never").
"""

from __future__ import annotations

from typing import Any

import pytest

AGENTS = {
    "u1": {"id": "u1", "name": "u1-name", "nickname": "u1-nick", "rid": "u1-rid"},
    "u2": {"id": "u2", "name": "u2-name", "nickname": "u2-nick", "rid": "u2-rid"},
}


def _federation(kit: Any, extension: str) -> Any:
    head = (
        'type Agent @key(fields: "id") @extends'
        if extension == "@extends"
        else 'extend type Agent @key(fields: "id")'
    )
    visits = kit.Service(
        "visits",
        f"""
        type Query {{ randomAgent: Agent  providedAgent: Agent @provides(fields: "name") }}
        {head} {{ id: ID! @external  name: String! @external  rid: ID }}
        """,
        root={
            "randomAgent": {"id": "u1", "rid": "u1-rid", "name": "never"},
            "providedAgent": {"id": "u1", "rid": "u1-rid", "name": "u1-name"},
        },
        entities={"Agent": lambda rep: {"id": rep["id"], "rid": AGENTS[rep["id"]]["rid"]}},
    )
    people = kit.Service(
        "people",
        """
        type Query { agentById(id: ID): Agent }
        type Agent @key(fields: "id") { id: ID!  name: String! @shareable  nickname: String }
        """,
        root={"agentById": lambda args: AGENTS.get(args["id"])},
        entities={"Agent": lambda rep: AGENTS.get(rep["id"])},
    )
    return kit.Federation(visits, people)


EXTENSIONS = pytest.mark.parametrize("extension", ["@extends", "extend type"])


@EXTENSIONS
async def test_the_fake_external_key_is_answered_by_the_extension(kit: Any, extension: str) -> None:
    federation = _federation(kit, extension)
    assert await federation.run("{ randomAgent { id rid } }") == {
        "data": {"randomAgent": {"id": "u1", "rid": "u1-rid"}}
    }
    assert federation.fetched == ["visits"]


@EXTENSIONS
async def test_a_real_external_comes_from_its_owner_unless_provided(
    kit: Any, extension: str
) -> None:
    federation = _federation(kit, extension)
    result = await federation.run(
        '{ randomAgent { id rid name }  agentById(id: "u2") { id name nickname } }'
    )
    assert result == {
        "data": {
            "randomAgent": {"id": "u1", "rid": "u1-rid", "name": "u1-name"},
            "agentById": {"id": "u2", "name": "u2-name", "nickname": "u2-nick"},
        }
    }
    assert sorted(federation.fetched) == ["people", "people", "visits"]
    provided = await federation.run("{ providedAgent { id rid name } }")
    assert provided == {"data": {"providedAgent": {"id": "u1", "rid": "u1-rid", "name": "u1-name"}}}
    assert federation.fetched == ["visits"]
