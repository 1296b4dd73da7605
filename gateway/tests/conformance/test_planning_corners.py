"""Corners of planning: variables as declared, @requires through abstract types, @external
fields never taken from the subgraph that only references them, @interfaceObject keys
that cannot be resolved, and the planner's own limits."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.planner import PlanningError, QueryPlanner
from gateway.planner.budget import Budget
from graphql import OperationDefinitionNode, parse

TOURS = [{"id": f"t{n}", "slot": n} for n in range(1, 6)]


def _tours(kit: Any) -> Any:
    tours = kit.Service(
        "tours",
        """
        type Query { tours(limit: Int!, kinds: [String!]! = ["live"]): [Tour!]! }
        type Tour @key(fields: "id") { id: ID!  slot: Int! }
        """,
        root={"tours": lambda args: TOURS[: args["limit"]]},
        entities={"Tour": lambda rep: next(t for t in TOURS if t["id"] == rep["id"])},
    )
    notes = kit.Service(
        "notes",
        """
        type Tour @key(fields: "id") { id: ID!  note(style: String!): String! }
        """,
        entities={"Tour": lambda rep: {"id": rep["id"], "note": f"note {rep['id']}"}},
    )
    return kit.Federation(tours, notes)


async def test_variables_keep_their_declared_type_and_default(kit: Any) -> None:
    federation = _tours(kit)
    result = await federation.run(
        'query($limit: Int = 2, $kinds: [String!] = ["live", "recorded"]) '
        "{ tours(limit: $limit, kinds: $kinds) { id } }"
    )
    assert result == {"data": {"tours": [{"id": "t1"}, {"id": "t2"}]}}
    document = federation.transport.calls[0][1]
    assert "$limit: Int = 2" in document
    assert '$kinds: [String!] = ["live", "recorded"]' in document
    assert federation.subgraph_errors() == []


async def test_an_entity_fetch_declares_the_default_of_its_variable(kit: Any) -> None:
    federation = _tours(kit)
    result = await federation.run(
        'query($style: String! = "short") { tours(limit: 1) { note(style: $style) } }'
    )
    assert result == {"data": {"tours": [{"note": "note t1"}]}}
    assert '$style: String! = "short"' in federation.transport.calls[1][1]
    assert federation.subgraph_errors() == []


def _amenities(kit: Any) -> Any:
    homes = kit.Service(
        "homes",
        """
        type Query { homes: [Home!]! }
        type Home @key(fields: "id") { id: ID!  amenity: Amenity }
        interface Priced { cost: Int! }
        type Pool implements Priced @shareable { cost: Int!  depth: Int! }
        type Garden implements Priced @shareable { cost: Int!  area: Int! }
        union Amenity = Pool | Garden
        """,
        root={
            "homes": [
                {"id": "h1", "amenity": {"__typename": "Pool", "cost": 30, "depth": 2}},
                {"id": "h2", "amenity": {"__typename": "Garden", "cost": 10, "area": 50}},
            ]
        },
        entities={"Home": lambda rep: {"id": rep["id"]}},
    )
    pricing = kit.Service(
        "pricing",
        """
        type Home @key(fields: "id") {
          id: ID!
          amenity: Amenity @external
          upkeep: Int! @requires(fields: "amenity { ... on Priced { cost } }")
        }
        interface Priced { cost: Int! }
        type Pool implements Priced @shareable { cost: Int! @external }
        type Garden implements Priced @shareable { cost: Int! @external }
        union Amenity = Pool | Garden
        """,
        entities={"Home": lambda rep: {"id": rep["id"], "upkeep": rep["amenity"]["cost"] * 12}},
    )
    return kit.Federation(homes, pricing)


async def test_a_requirement_on_an_interface_reaches_every_implementation(kit: Any) -> None:
    federation = _amenities(kit)
    result = await federation.run("{ homes { id upkeep } }")
    assert result == {"data": {"homes": [{"id": "h1", "upkeep": 360}, {"id": "h2", "upkeep": 120}]}}
    assert federation.transport.calls[1][2]["_reps0"] == [
        {"__typename": "Home", "id": "h1", "amenity": {"__typename": "Pool", "cost": 30}},
        {"__typename": "Home", "id": "h2", "amenity": {"__typename": "Garden", "cost": 10}},
    ]
    assert federation.subgraph_errors() == []


def _offers(kit: Any) -> Any:
    listings = kit.Service(
        "listings",
        """
        type Home @key(fields: "id") { id: ID!  title: String! @shareable }
        """,
        entities={"Home": lambda rep: {"id": rep["id"], "title": f"Home {rep['id']}"}},
    )
    offers = kit.Service(
        "offers",
        """
        type Query { cheapest: Home  featured: Home @provides(fields: "title") }
        type Home @key(fields: "id") { id: ID!  title: String! @external  price: Int! }
        """,
        # `title` is only a reference here: what this subgraph holds for it is a placeholder.
        root={
            "cheapest": {"id": "h7", "title": "PLACEHOLDER", "price": 90},
            "featured": {"id": "h8", "title": "Home h8 (provided)", "price": 120},
        },
        entities={"Home": lambda rep: {"id": rep["id"], "price": 90}},
    )
    return kit.Federation(listings, offers)


async def test_an_external_field_comes_from_the_subgraph_that_resolves_it(kit: Any) -> None:
    federation = _offers(kit)
    result = await federation.run("{ cheapest { price title } }")
    assert result == {"data": {"cheapest": {"price": 90, "title": "Home h7"}}}
    assert federation.fetched == ["offers", "listings"]
    assert "title" not in federation.transport.calls[0][1]


async def test_a_provided_external_field_is_taken_where_it_is_provided(kit: Any) -> None:
    federation = _offers(kit)
    result = await federation.run("{ featured { price title } }")
    assert result == {"data": {"featured": {"price": 120, "title": "Home h8 (provided)"}}}
    assert federation.fetched == ["offers"]


# A supergraph composition would refuse: `Home.secret` is external in the only subgraph
# that has it, so nothing can resolve it. The planner must say so, not ask `offers`.
UNSATISFIABLE = """
schema @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION) { query: Query }
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet,
  type: String, external: Boolean, override: String, usedOverridden: Boolean)
  repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false,
  resolvable: Boolean! = true, isInterfaceObject: Boolean! = false)
  repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import])
  repeatable on SCHEMA
scalar join__FieldSet
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
enum join__Graph {
  LISTINGS @join__graph(name: "listings", url: "http://listings.invalid")
  OFFERS @join__graph(name: "offers", url: "http://offers.invalid")
}
type Query @join__type(graph: LISTINGS) @join__type(graph: OFFERS) {
  cheapest: Home @join__field(graph: OFFERS)
}
type Home @join__type(graph: LISTINGS, key: "id") @join__type(graph: OFFERS, key: "id") {
  id: ID!
  title: String! @join__field(graph: LISTINGS)
  secret: String @join__field(graph: OFFERS, external: true)
  price: Int! @join__field(graph: OFFERS)
}
"""


async def test_a_field_no_subgraph_resolves_is_a_coded_planning_error(kit: Any) -> None:
    offers = kit.Service(
        "offers",
        """
        type Query { cheapest: Home }
        type Home @key(fields: "id") { id: ID!  secret: String @external  price: Int! }
        """,
        root={"cheapest": {"id": "h7", "secret": "PLACEHOLDER", "price": 90}},
    )
    listings = kit.Service("listings", 'type Home @key(fields: "id") { id: ID!  title: String! }')
    federation = kit.Federation(listings, offers, supergraph=UNSATISFIABLE)
    result = await federation.run("{ cheapest { price secret } }")
    assert result["data"] is None
    assert federation.fetched == []
    (error,) = result["errors"]
    assert "Home.secret" in error["message"]
    assert error["extensions"] == {"code": "QUERY_PLANNING_FAILED", "reason": "UNSATISFIABLE_FIELD"}
    planner = QueryPlanner(federation.supergraph)
    operation = parse("{ cheapest { secret } }").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    with pytest.raises(PlanningError) as raised:
        planner.plan(operation, {}, {})
    assert raised.value.code == "UNSATISFIABLE_FIELD"


def test_planning_stops_at_its_budget_with_a_coded_error(kit: Any) -> None:
    federation = _offers(kit)
    operation = parse("{ cheapest { price title } }").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    now = [0.0]
    planner = QueryPlanner(
        federation.supergraph,
        budget=lambda: Budget(max_steps=1_000, seconds=1.0, clock=lambda: now[0]),
    )
    assert planner.plan(operation, {}, {}).steps
    tight = QueryPlanner(federation.supergraph, budget=lambda: Budget(max_steps=1))
    with pytest.raises(PlanningError) as raised:
        tight.plan(operation, {}, {})
    assert raised.value.code == "PLAN_TOO_COMPLEX"


def test_planning_time_is_bounded_by_the_clock() -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 0.01  # every look at the clock finds 10 ms gone
        return now[0]

    budget = Budget(max_steps=10**9, seconds=1.0, clock=clock)
    with pytest.raises(PlanningError) as raised:
        for _ in range(10**6):
            budget.spend()
    assert raised.value.code == "PLAN_TOO_COMPLEX"
    assert budget.steps < 256 * 200


def test_an_unexpected_failure_while_planning_is_a_coded_planning_error(kit: Any) -> None:
    federation = _offers(kit)
    operation = parse("{ cheapest { price title } }").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)

    def broken() -> Budget:
        raise RecursionError("maximum recursion depth exceeded")

    with pytest.raises(PlanningError) as raised:
        QueryPlanner(federation.supergraph, budget=broken).plan(operation, {}, {})
    assert raised.value.code == "PLANNER_FAILURE"


def test_an_operation_nested_past_any_real_depth_is_refused_not_recursed(kit: Any) -> None:
    nest = kit.Service(
        "nest",
        """
        type Query { root: Box }
        type Box @key(fields: "id") { id: ID!  inner: Box  label: String }
        """,
    )
    other = kit.Service("other", 'type Box @key(fields: "id") { id: ID!  size: Int }')
    federation = kit.Federation(nest, other)
    query = "{ root { " + "inner { " * 120 + "size" + " }" * 120 + " } }"
    operation = parse(query).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    with pytest.raises(PlanningError) as raised:
        QueryPlanner(federation.supergraph).plan(operation, {}, {})
    assert raised.value.code == "PLAN_TOO_COMPLEX"
    shallow = parse("{ root { " + "inner { " * 30 + "size" + " }" * 30 + " } }").definitions[0]
    assert isinstance(shallow, OperationDefinitionNode)
    plan = QueryPlanner(federation.supergraph).plan(shallow, {}, {})
    assert [g.graph for g in plan.steps[0].roots] == ["nest"]


async def test_nested_abstract_fragments_of_a_requirement_and_a_null_value(kit: Any) -> None:
    site = kit.Service(
        "site",
        """
        type Query { plots: [Plot!]! }
        type Plot @key(fields: "id") { id: ID!  feature: Feature }
        interface Feature { label: String! }
        interface Outdoor implements Feature { label: String!  season: String! }
        type Pond implements Feature & Outdoor @shareable {
          label: String!  season: String!  depth: Int!
        }
        type Shed implements Feature @shareable { label: String! }
        """,
        root={
            "plots": [
                {
                    "id": "p1",
                    "feature": {"__typename": "Pond", "label": "pond", "season": "May", "depth": 2},
                },
                {"id": "p2", "feature": {"__typename": "Shed", "label": "shed"}},
                {"id": "p3", "feature": None},
            ]
        },
    )

    def insured(rep: dict[str, Any]) -> dict[str, Any]:
        feature = rep["feature"]
        if feature is None:
            return {"id": rep["id"], "insurance": "none"}
        return {"id": rep["id"], "insurance": "-".join(str(v) for k, v in sorted(feature.items()))}

    cover = kit.Service(
        "cover",
        """
        type Plot @key(fields: "id") {
          id: ID!
          feature: Feature @external
          insurance: String! @requires(fields: "feature { label ... on Outdoor { season ... on Pond { depth } } }")
        }
        interface Feature { label: String! }
        interface Outdoor implements Feature { label: String!  season: String! }
        type Pond implements Feature & Outdoor @shareable {
          label: String! @external  season: String! @external  depth: Int! @external
        }
        type Shed implements Feature @shareable { label: String! @external }
        """,
        entities={"Plot": insured},
    )
    federation = kit.Federation(site, cover)
    result = await federation.run("{ plots { id insurance } }")
    assert result == {
        "data": {
            "plots": [
                {"id": "p1", "insurance": "Pond-2-pond-May"},
                {"id": "p2", "insurance": "Shed-shed"},
                {"id": "p3", "insurance": "none"},
            ]
        }
    }
    assert federation.subgraph_errors() == []


async def test_an_implementation_s_external_field_comes_from_its_owner(kit: Any) -> None:
    catalog = kit.Service(
        "catalog",
        """
        type Query { items: [Item!]! }
        interface Item { id: ID!  name: String! }
        type House implements Item @key(fields: "id") { id: ID!  name: String! @external }
        type Plot implements Item @key(fields: "id") { id: ID!  name: String! }
        """,
        root={
            "items": [
                {"__typename": "House", "id": "h1", "name": "PLACEHOLDER"},
                {"__typename": "Plot", "id": "p1", "name": "Corner plot"},
            ]
        },
    )
    houses = kit.Service(
        "houses",
        'type House @key(fields: "id") { id: ID!  name: String! }',
        entities={"House": lambda rep: {"id": rep["id"], "name": "Stone house"}},
    )
    federation = kit.Federation(catalog, houses)
    result = await federation.run("{ items { id name } }")
    assert result == {
        "data": {
            "items": [{"id": "h1", "name": "Stone house"}, {"id": "p1", "name": "Corner plot"}]
        }
    }
    assert federation.fetched == ["catalog", "houses"]
    assert "... on House { id }" in federation.transport.calls[0][1]


async def test_a_mutation_result_is_never_fetched_again_from_the_root(kit: Any) -> None:
    receipt = "type Receipt @shareable { code: String!  total: Int! }"
    writes = kit.Service(
        "writes",
        f"type Query {{ ping: Int @shareable }}  type Mutation {{ book: Receipt }}  {receipt}",
        root={"book": {"code": "B-1"}, "ping": 1},
    )
    reads = kit.Service(
        "reads",
        f"type Query {{ ping: Int @shareable  receipt: Receipt }}  {receipt}",
        root={"receipt": {"code": "B-1", "total": 10}, "ping": 1},
    )
    # As if only `reads` had `Receipt.total` (composition refuses that supergraph: a
    # booking's total could only be read by running the mutation again).
    supergraph = kit.compose_sdl(writes, reads).replace(
        "  total: Int!\n", "  total: Int! @join__field(graph: READS)\n", 1
    )
    federation = kit.Federation(writes, reads, supergraph=supergraph)
    result = await federation.run("mutation { book { code total } }")
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["reason"] == "UNSATISFIABLE_FIELD"
    assert federation.fetched == []
    # A query may fetch a shareable root field again: nothing runs twice that should not.
    assert await federation.run("{ receipt { code total } ping }") == {
        "data": {"receipt": {"code": "B-1", "total": 10}, "ping": 1}
    }


def test_a_planning_failure_is_logged_once_with_its_code(
    kit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    offers = kit.Service(
        "offers",
        """
        type Query { cheapest: Home }
        type Home @key(fields: "id") { id: ID!  secret: String @external  price: Int! }
        """,
    )
    listings = kit.Service("listings", 'type Home @key(fields: "id") { id: ID!  title: String! }')
    federation = kit.Federation(listings, offers, supergraph=UNSATISFIABLE)
    operation = parse("query Peek { cheapest { secret } }").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    with caplog.at_level("WARNING", logger="gateway.planner.planner"), pytest.raises(PlanningError):
        QueryPlanner(federation.supergraph).plan(operation, {}, {})
    (record,) = [r for r in caplog.records if r.name == "gateway.planner.planner"]
    assert "Peek" in record.getMessage()
    assert "[UNSATISFIABLE_FIELD]" in record.getMessage()
