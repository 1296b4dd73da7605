"""A client directive two subgraphs compose (`@composeDirective`), one with a default.

`listings` and `agents` both link their own `@access` spec and compose it; `listings`
declares `@access(level: Level!)`, `agents` gives the argument a default (`= OPEN`). The
supergraph keeps the directive's link and one definition (the default included), the
gateway validates a client's `@access` against it and sends the directive on to the
subgraphs that define it, the default written out: `listings` requires the argument.
`visits` composes no such directive and gets the field without it.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import print_schema

ACCESS_LINK = (
    'extend schema @link(url: "https://specs.realtyforyou.dev/access/v1.0", import: ["@access"])'
    ' @composeDirective(name: "@access")\n'
)
LEVEL = "enum Level { OPEN  PRIVATE }\n"


def _federation(kit: Any) -> Any:
    listings = kit.Service(
        "listings",
        ACCESS_LINK
        + "directive @access(level: Level!) on FIELD\n"
        + LEVEL
        + "type Query { listingTitle: String  listing: Listing }\n"
        + 'type Listing @key(fields: "id") { id: ID!  title: String }',
        root={"listingTitle": "Loft", "listing": {"id": "l1", "title": "Loft"}},
        entities={"Listing": lambda rep: {"id": rep["id"], "title": "Loft"}},
    )
    agents = kit.Service(
        "agents",
        ACCESS_LINK
        + "directive @access(level: Level! = OPEN) on FIELD\n"
        + LEVEL
        + "type Query { agentName: String }\n"
        + 'type Listing @key(fields: "id") { id: ID!  agentName: String }',
        root={"agentName": "Rosa"},
        entities={"Listing": lambda rep: {"id": rep["id"], "agentName": "Rosa"}},
    )
    visits = kit.Service("visits", "type Query { visitCount: Int }", root={"visitCount": 3})
    return kit.Federation(listings, agents, visits)


def _sent(federation: Any) -> dict[str, str]:
    return {subgraph: " ".join(query.split()) for subgraph, query, _ in federation.transport.calls}


async def test_the_directive_goes_on_with_its_default_argument(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ listingTitle @access  agentName @access }")
    assert result == {"data": {"listingTitle": "Loft", "agentName": "Rosa"}}
    sent = _sent(federation)
    assert "listingTitle @access(level: OPEN)" in sent["listings"]
    assert "agentName @access(level: OPEN)" in sent["agents"]
    assert federation.subgraph_errors() == []


async def test_an_argument_given_goes_as_written_its_variable_declared(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        "query ($level: Level!) { listingTitle @access(level: $level)  agentName @access(level: PRIVATE) }",
        {"level": "PRIVATE"},
    )
    assert result == {"data": {"listingTitle": "Loft", "agentName": "Rosa"}}
    calls = {
        subgraph: (query, variables) for subgraph, query, variables in federation.transport.calls
    }
    assert "@access(level: $level)" in calls["listings"][0]
    assert calls["listings"][1] == {"level": "PRIVATE"}
    assert "@access(level: PRIVATE)" in calls["agents"][0]
    assert "$level" not in calls["agents"][0]


async def test_a_subgraph_without_the_directive_gets_the_field_alone(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ visitCount @access  agentName @access(level: PRIVATE) }")
    assert result == {"data": {"visitCount": 3, "agentName": "Rosa"}}
    sent = _sent(federation)
    assert "@access" not in sent["visits"]
    assert "@access(level: PRIVATE)" in sent["agents"]


async def test_a_field_of_an_entity_fetch_carries_its_directive_too(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        "{ listing { title @access  agentName @access(level: PRIVATE) } }"
    )
    assert result == {"data": {"listing": {"title": "Loft", "agentName": "Rosa"}}}
    assert federation.fetched == ["listings", "agents"]
    sent = _sent(federation)
    assert "title @access(level: OPEN)" in sent["listings"]
    assert "... on Listing { agentName @access(level: PRIVATE) }" in sent["agents"]


@pytest.mark.parametrize(
    "query",
    [
        "{ listingTitle @unknown }",
        "{ listingTitle @access(level: SECRET) }",
        "query @access { listingTitle }",
    ],
)
async def test_a_directive_the_api_lacks_is_refused_before_any_fetch(kit: Any, query: str) -> None:
    federation = _federation(kit)
    result = await federation.run(query)
    assert result.get("data") is None
    assert result["errors"]
    assert federation.fetched == []


def test_the_supergraph_keeps_the_link_and_the_merged_definition(kit: Any) -> None:
    federation = _federation(kit)
    sdl = federation.supergraph.sdl
    assert '@link(url: "https://specs.realtyforyou.dev/access/v1.0", import: ["@access"])' in sdl
    assert "directive @access(level: Level! = OPEN) on FIELD" in sdl
    api = print_schema(federation.supergraph.api_schema)
    assert "directive @access(level: Level! = OPEN) on FIELD" in api
    assert "join__" not in api


async def test_a_supergraph_that_does_not_say_where_sends_it_to_every_subgraph(kit: Any) -> None:
    """The reference composition writes the link and the definition only."""
    composed = _federation(kit)
    written = "\n".join(
        line for line in composed.supergraph.sdl.splitlines() if "composeDirective" not in line
    )
    assert "@join__directive" not in written.split("directive @access")[0]
    listings, agents = composed.services["listings"], composed.services["agents"]
    federation = kit.Federation(listings, agents, supergraph=written)
    result = await federation.run("{ listingTitle @access  agentName @access(level: PRIVATE) }")
    assert result == {"data": {"listingTitle": "Loft", "agentName": "Rosa"}}
    sent = _sent(federation)
    assert "listingTitle @access(level: OPEN)" in sent["listings"]
    assert "agentName @access(level: PRIVATE)" in sent["agents"]
