"""`@context` / `@fromContext`: an argument a subgraph reads from an ancestor's data.

As the reference router plans it: the field is fetched through `_entities` in its
subgraph, the ancestor that sets the context selects the context's fields in its own
fetch, and the value reaches the subgraph as a variable `contextualArgument_<n>_<i>`.
Entities whose ancestors give different values get one `_entities` alias each.
"""

from __future__ import annotations

from typing import Any

TOURS = {
    "t1": {"id": "t1", "title": "Loft", "currency": "EUR", "stop": {"id": "s1"}},
    "t2": {"id": "t2", "title": "Barn", "currency": "USD", "stop": {"id": "s2"}},
    "t3": {"id": "t3", "title": "Mill", "currency": "EUR", "stop": {"id": "s3"}},
}
FEES = {"s1": 100, "s2": 200, "s3": 300}


def _fee(stop: str) -> Any:
    def resolve(_info: Any, currency: str | None = None) -> str:
        return f"{FEES[stop]} {currency}"

    return resolve


def _tours(kit: Any, extra_root: str = "") -> Any:
    tours = kit.Service(
        "tours",
        """
        type Query { tour(id: ID!): Tour  tours: [Tour!]! }
        type Tour @key(fields: "id") @context(name: "money") {
          id: ID!
          title: String!
          currency: String!
          stop: Stop!
        }
        type Stop @key(fields: "id") {
          id: ID!
          fee(currency: String @fromContext(field: "$money { currency }")): String!
        }
        """,
        root={
            "tour": lambda args: TOURS.get(args["id"]),
            "tours": list(TOURS.values()),
        },
        entities={"Stop": lambda rep: {"id": rep["id"], "fee": _fee(rep["id"])}},
    )
    stops = kit.Service(
        "stops",
        f"""
        type Query {{ nearest: Stop {extra_root} }}
        type Stop @key(fields: "id") {{ id: ID!  address: String! }}
        """,
        root={"nearest": {"id": "s1", "address": "1 Mill Lane"}},
        entities={"Stop": lambda rep: {"id": rep["id"], "address": f"{rep['id']} street"}},
    )
    return kit.Federation(tours, stops), tours


async def test_the_ancestor_value_is_passed_as_a_variable(kit: Any) -> None:
    federation, _ = _tours(kit)
    result = await federation.run('{ tour(id: "t1") { title stop { fee } } }')
    assert result == {"data": {"tour": {"title": "Loft", "stop": {"fee": "100 EUR"}}}}
    assert federation.transport.calls == [
        ("tours", 'query { tour(id: "t1") { title stop { id } currency } }', {}),
        (
            "tours",
            "query($_reps0: [_Any!]!, $contextualArgument_1_0: String) { _0: _entities("
            "representations: $_reps0) { ... on Stop { fee(currency: $contextualArgument_1_0) "
            "} } }",
            {
                "_reps0": [{"__typename": "Stop", "id": "s1"}],
                "contextualArgument_1_0": "EUR",
            },
        ),
    ]
    assert federation.subgraph_errors() == []


async def test_entities_with_different_values_get_an_alias_each(kit: Any) -> None:
    federation, _ = _tours(kit)
    result = await federation.run("{ tours { stop { fee address } } }")
    assert result == {
        "data": {
            "tours": [
                {"stop": {"fee": "100 EUR", "address": "s1 street"}},
                {"stop": {"fee": "200 USD", "address": "s2 street"}},
                {"stop": {"fee": "300 EUR", "address": "s3 street"}},
            ]
        }
    }
    contextual = [call for call in federation.transport.calls if "contextualArgument" in call[1]]
    assert contextual == [
        (
            "tours",
            "query($_reps0: [_Any!]!, $contextualArgument_1_0_0: String, $_reps1: [_Any!]!, "
            "$contextualArgument_1_0_1: String) { "
            "_0: _entities(representations: $_reps0) { ... on Stop { fee(currency: "
            "$contextualArgument_1_0_0) } } "
            "_1: _entities(representations: $_reps1) { ... on Stop { fee(currency: "
            "$contextualArgument_1_0_1) } } }",
            {
                "_reps0": [
                    {"__typename": "Stop", "id": "s1"},
                    {"__typename": "Stop", "id": "s3"},
                ],
                "contextualArgument_1_0_0": "EUR",
                "_reps1": [{"__typename": "Stop", "id": "s2"}],
                "contextualArgument_1_0_1": "USD",
            },
        )
    ]
    assert sorted(call[0] for call in federation.transport.calls) == ["stops", "tours", "tours"]


async def test_the_context_field_can_be_asked_by_the_client_too(kit: Any) -> None:
    federation, _ = _tours(kit)
    result = await federation.run('{ tour(id: "t2") { currency stop { fee } } }')
    assert result == {"data": {"tour": {"currency": "USD", "stop": {"fee": "200 USD"}}}}
    assert federation.transport.calls[0][1] == ('query { tour(id: "t2") { currency stop { id } } }')


async def test_no_enclosing_context_is_a_coded_planning_error(kit: Any) -> None:
    federation, _ = _tours(kit)
    result = await federation.run("{ nearest { address fee } }")
    assert result == {
        "data": None,
        "errors": [
            {
                "message": "Query planning failed: cannot plan Stop.fee: its argument "
                "'currency' comes from context 'tours__money', which no enclosing type sets",
                "extensions": {
                    "code": "QUERY_PLANNING_FAILED",
                    "reason": "UNSATISFIABLE_FIELD",
                },
            }
        ],
    }
    assert federation.fetched == []


async def test_a_context_set_by_an_interface_is_read_from_its_implementations(
    kit: Any,
) -> None:
    listings = kit.Service(
        "listings",
        """
        type Query { featured: [Home!]! }
        interface Home @context(name: "place") { id: ID!  city: String!  agent: Agent! }
        type House implements Home @key(fields: "id") {
          id: ID!  city: String!  agent: Agent!  garden: Boolean!
        }
        type Flat implements Home @key(fields: "id") {
          id: ID!  city: String!  agent: Agent!  floor: Int!
        }
        type Agent @key(fields: "id") {
          id: ID!
          office(city: String @fromContext(field: "$place { city }")): String!
        }
        """,
        root={
            "featured": [
                {"__typename": "House", "id": "h1", "city": "Lyon", "agent": {"id": "a1"}},
                {"__typename": "Flat", "id": "f1", "city": "Nice", "agent": {"id": "a1"}},
            ]
        },
        entities={
            "Agent": lambda rep: {
                "id": rep["id"],
                "office": lambda _info, city=None: f"{rep['id']} in {city}",
            }
        },
    )
    people = kit.Service(
        "people",
        'type Agent @key(fields: "id") { id: ID!  name: String! }',
        entities={"Agent": lambda rep: {"id": rep["id"], "name": "Ada"}},
    )
    federation = kit.Federation(listings, people)
    result = await federation.run("{ featured { agent { name office } } }")
    assert result == {
        "data": {
            "featured": [
                {"agent": {"name": "Ada", "office": "a1 in Lyon"}},
                {"agent": {"name": "Ada", "office": "a1 in Nice"}},
            ]
        }
    }
    # The same agent under two homes, one per member type: each type's position is a
    # fetch of its own (both in one wave), each with its home's city.
    contextual = [call for call in federation.transport.calls if "contextualArgument" in call[1]]
    assert sorted((call[0], sorted(call[2].items())) for call in contextual) == [
        (
            "listings",
            [("_reps0", [{"__typename": "Agent", "id": "a1"}]), ("contextualArgument_1_0", "Nice")],
        ),
        (
            "listings",
            [("_reps0", [{"__typename": "Agent", "id": "a1"}]), ("contextualArgument_2_0", "Lyon")],
        ),
    ]
    assert federation.subgraph_errors() == []


async def test_a_supergraph_as_apollo_composition_writes_it_is_served(kit: Any) -> None:
    """join v0.5 as Apollo prints it: a context on an interface, `" { value }"` selections."""
    from .test_supergraph_link import CONTEXT_SUPERGRAPH

    a = kit.Service(
        "A",
        """
        interface I @key(fields: "id") { id: ID!  value: Int! }
        type T implements I @key(fields: "id") {
          id: ID!  value: Int!  p: P!  price: Int!  sharedField: Int!
        }
        type P @key(fields: "id") {
          id: ID!
          data(onlyInA: Int): String!
        }
        """,
        entities={
            "T": lambda rep: {"id": rep["id"], "value": 7, "p": {"id": "p-" + rep["id"]}},
            "P": lambda rep: {
                "id": rep["id"],
                "data": lambda _info, onlyInA=None: f"{rep['id']} with {onlyInA}",
            },
        },
    )
    b = kit.Service(
        "B",
        """
        type Query { start: I! }
        interface I @key(fields: "id") { id: ID! }
        type T implements I @key(fields: "id") { id: ID!  price: Int!  sharedField: Int! }
        type P @key(fields: "id") { id: ID! }
        """,
        root={"start": {"__typename": "T", "id": "t1"}},
        entities={"T": lambda rep: {"id": rep["id"]}, "P": lambda rep: {"id": rep["id"]}},
    )
    federation = kit.Federation(a, b, supergraph=CONTEXT_SUPERGRAPH)
    result = await federation.run("{ start { ... on T { p { data } } } }")
    assert result == {"data": {"start": {"p": {"data": "p-t1 with 7"}}}}
    assert [call[0] for call in federation.transport.calls] == ["B", "A", "A"]
    assert federation.transport.calls[2][2] == {
        "_reps0": [{"__typename": "P", "id": "p-t1"}],
        "contextualArgument_1_0": 7,
    }
    assert federation.subgraph_errors() == []
