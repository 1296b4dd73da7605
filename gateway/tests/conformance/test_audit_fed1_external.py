"""Federation 1 subgraphs (no `@link`): an entity extended by another, its keys `@external`.

`visits` writes `type Agent @key(fields: "id") @extends` (or `extend type Agent`) with
`id` and `name` `@external`, as a Federation 1 subgraph does. As in the Federation 2
suite, the key field is answered by visits itself, `name` comes from `people` unless
`providedAgent`'s `@provides` hands it over (visits' own resolver says "never").

The second federation extends `Home` under two keys, `id code` and `ref`, every key field
`@external`: reached with the `id code` key that `catalog` holds, `pricing` still answers
`ref`, the field of its other key (one key is enough to resolve every field of the type).
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
        federation=1,
    )
    people = kit.Service(
        "people",
        """
        type Query { agentById(id: ID): Agent }
        type Agent @key(fields: "id") { id: ID!  name: String!  nickname: String }
        """,
        root={"agentById": lambda args: AGENTS.get(args["id"])},
        entities={"Agent": lambda rep: AGENTS.get(rep["id"])},
        federation=1,
    )
    return kit.Federation(visits, people)


EXTENSIONS = pytest.mark.parametrize("extension", ["@extends", "extend type"])


@EXTENSIONS
async def test_a_real_external_comes_from_the_owner(kit: Any, extension: str) -> None:
    federation = _federation(kit, extension)
    result = await federation.run(
        '{ randomAgent { id name }  agentById(id: "u2") { id name nickname } }'
    )
    assert result == {
        "data": {
            "randomAgent": {"id": "u1", "name": "u1-name"},
            "agentById": {"id": "u2", "name": "u2-name", "nickname": "u2-nick"},
        }
    }
    assert sorted(federation.fetched) == ["people", "people", "visits"]
    assert federation.transport.calls[-1][0] == "people"  # the entity call follows visits


@EXTENSIONS
async def test_the_external_key_is_answered_by_the_extension(kit: Any, extension: str) -> None:
    federation = _federation(kit, extension)
    assert await federation.run("{ randomAgent { id rid } }") == {
        "data": {"randomAgent": {"id": "u1", "rid": "u1-rid"}}
    }
    assert federation.fetched == ["visits"]


@EXTENSIONS
async def test_an_own_field_and_an_external_one_together(kit: Any, extension: str) -> None:
    federation = _federation(kit, extension)
    assert await federation.run("{ randomAgent { id rid name } }") == {
        "data": {"randomAgent": {"id": "u1", "rid": "u1-rid", "name": "u1-name"}}
    }
    assert federation.fetched == ["visits", "people"]


@EXTENSIONS
async def test_a_provided_external_stays_in_the_extension(kit: Any, extension: str) -> None:
    federation = _federation(kit, extension)
    assert await federation.run("{ providedAgent { id rid name } }") == {
        "data": {"providedAgent": {"id": "u1", "rid": "u1-rid", "name": "u1-name"}}
    }
    assert federation.fetched == ["visits"]


HOMES = [{"id": "h1", "code": "h1-code", "ref": "ref1", "price": 12.3, "pid": "h1-pid"}]


async def test_the_fields_of_another_key_come_with_one_key(kit: Any) -> None:
    home = HOMES[0]
    catalog = kit.Service(
        "catalog",
        """
        type Query { homeInCatalog: Home }
        type Home @key(fields: "id") { id: ID!  code: String  pid: ID }
        """,
        root={"homeInCatalog": {k: home[k] for k in ("id", "code", "pid")}},
        entities={"Home": lambda rep: {k: home[k] for k in ("id", "code", "pid")}},
        federation=1,
    )

    def by_key(rep: dict[str, Any]) -> dict[str, Any] | None:
        if "ref" in rep:
            found = [h for h in HOMES if h["ref"] == rep["ref"]]
        else:
            found = [h for h in HOMES if h["id"] == rep["id"] and h["code"] == rep["code"]]
        return {k: found[0][k] for k in ("id", "code", "ref", "price")} if found else None

    pricing = kit.Service(
        "pricing",
        """
        type Query { homeInPricing: Home }
        extend type Home @key(fields: "id code") @key(fields: "ref") {
          id: ID @external
          code: String @external
          ref: String @external
          price: Float!
        }
        """,
        root={"homeInPricing": {k: home[k] for k in ("id", "code", "ref", "price")}},
        entities={"Home": by_key},
        federation=1,
    )
    federation = kit.Federation(catalog, pricing)
    result = await federation.run("{ homeInCatalog { id pid price ref code } }")
    assert result == {
        "data": {
            "homeInCatalog": {
                "id": "h1",
                "pid": "h1-pid",
                "price": 12.3,
                "ref": "ref1",
                "code": "h1-code",
            }
        }
    }
    assert federation.fetched == ["catalog", "pricing"]
    assert federation.services["pricing"].representations == [
        [{"__typename": "Home", "id": "h1", "code": "h1-code"}]
    ]
