"""Shareable value types: parts of one object from several subgraphs, merged.

A type without a key cannot be fetched through `_entities`: when the subgraph that
returned it lacks a field, the field is fetched by asking another subgraph for the same
path, from the nearest place both can start from: the root (a shareable root field) or
an entity above the value (re-entering the parent entity through its key).
"""

from __future__ import annotations

from typing import Any

from gateway.planner import QueryPlanner
from graphql import OperationDefinitionNode, parse

STATS = {"listings": 12, "photos": 40, "tours": 3}


def _stats_federation(kit: Any) -> Any:
    catalog = kit.Service(
        "catalog",
        """
        type Query { stats: Stats @shareable  regionStats(region: String!): [Stats!]! @shareable }
        type Stats @shareable { listings: Int!  photos: Int! }
        """,
        root={
            "stats": {"listings": 12, "photos": 40},
            "regionStats": lambda args: [{"listings": len(args["region"]), "photos": 1}],
        },
    )
    tours = kit.Service(
        "tours",
        """
        type Query { stats: Stats @shareable  regionStats(region: String!): [Stats!]! @shareable }
        type Stats @shareable { listings: Int!  tours: Int! }
        """,
        root={
            "stats": {"listings": 12, "tours": 3},
            "regionStats": lambda args: [{"listings": len(args["region"]), "tours": 7}],
        },
    )
    return kit.Federation(catalog, tours)


async def test_a_shareable_root_field_is_fetched_from_each_subgraph_it_needs(kit: Any) -> None:
    federation = _stats_federation(kit)
    result = await federation.run("{ stats { photos tours listings } }")
    assert result == {"data": {"stats": STATS}}
    assert sorted(federation.fetched) == ["catalog", "tours"]
    assert federation.subgraph_errors() == []


async def test_the_cheapest_subgraph_set_serves_a_shareable_root_field(kit: Any) -> None:
    federation = _stats_federation(kit)
    assert await federation.run("{ stats { listings tours } }") == {
        "data": {"stats": {"listings": 12, "tours": 3}}
    }
    assert federation.fetched == ["tours"]
    assert await federation.run("{ stats { photos } }") == {"data": {"stats": {"photos": 40}}}
    assert federation.fetched == ["catalog"]


async def test_a_shareable_list_with_arguments_merges_item_by_item(kit: Any) -> None:
    federation = _stats_federation(kit)
    result = await federation.run(
        "query($r: String!) { a: regionStats(region: $r) { photos tours } }", {"r": "north"}
    )
    assert result == {"data": {"a": [{"photos": 1, "tours": 7}]}}
    assert sorted(federation.fetched) == ["catalog", "tours"]
    for _, document, variables in federation.transport.calls:
        assert "a: regionStats(region: $r)" in document
        assert variables == {"r": "north"}


def _homes_federation(kit: Any, geo_name: str = "geo") -> Any:
    homes = kit.Service(
        "homes",
        """
        type Query { home(id: ID!): Home }
        type Home @key(fields: "id") { id: ID!  price: Int!  address: Address! @shareable }
        type Address @shareable { street: String!  city: City! }
        type City @shareable { name: String! }
        """,
        root={
            "home": lambda args: {
                "id": args["id"],
                "price": 300,
                "address": {"street": "1 Elm Row", "city": {"name": "Leith"}},
            }
        },
        entities={
            "Home": lambda rep: {
                "id": rep["id"],
                "price": 300,
                "address": {"street": "1 Elm Row", "city": {"name": "Leith"}},
            }
        },
    )
    geo = kit.Service(
        geo_name,
        """
        type Home @key(fields: "id") { id: ID!  address: Address! @shareable }
        type Address @shareable { street: String!  district: String!  city: City! }
        type City @shareable { name: String!  population: Int! }
        """,
        entities={
            "Home": lambda rep: {
                "id": rep["id"],
                "address": {
                    "street": "1 Elm Row",
                    "district": "Pilrig",
                    "city": {"name": "Leith", "population": 28000},
                },
            }
        },
    )
    return kit.Federation(homes, geo)


async def test_a_value_field_only_another_subgraph_has_comes_through_the_parent_entity(
    kit: Any,
) -> None:
    federation = _homes_federation(kit)
    result = await federation.run(
        '{ home(id: "h1") { price address { street district city { name population } } } }'
    )
    assert result == {
        "data": {
            "home": {
                "price": 300,
                "address": {
                    "street": "1 Elm Row",
                    "district": "Pilrig",
                    "city": {"name": "Leith", "population": 28000},
                },
            }
        }
    }
    assert federation.fetched == ["homes", "geo"]
    assert federation.subgraph_errors() == []
    _, document, variables = federation.transport.calls[1]
    assert "... on Home { address { city { population } district } }" in document
    assert variables["_reps0"] == [{"__typename": "Home", "id": "h1"}]


async def test_three_subgraphs_each_answer_their_part_of_a_shareable_root_list(kit: Any) -> None:
    def service(name: str, child: str, sdl: str, value: dict[str, Any]) -> Any:
        return kit.Service(
            name,
            f"""
            type Query {{ plots: [Plot!]! @shareable }}
            type Plot {{ id: ID! @shareable  {child}: {child.title()}! }}
            {sdl}
            """,
            root={"plots": [{"id": "p1", child: value}, {"id": "p2", child: value}]},
        )

    federation = kit.Federation(
        service("soil", "soil", "type Soil { ph: Float! }", {"ph": 6.5}),
        service("water", "water", "type Water { table: Int! }", {"table": 3}),
        service("zoning", "zone", "type Zone { code: String! }", {"code": "R2"}),
    )
    result = await federation.run("{ plots { id soil { ph } water { table } zone { code } } }")
    plot = {"soil": {"ph": 6.5}, "water": {"table": 3}, "zone": {"code": "R2"}}
    assert result == {"data": {"plots": [{"id": "p1", **plot}, {"id": "p2", **plot}]}}
    assert sorted(federation.fetched) == ["soil", "water", "zoning"]
    assert federation.subgraph_errors() == []


async def test_a_field_of_a_type_keyed_elsewhere_comes_through_the_parent_entity(kit: Any) -> None:
    # `Agency` is an entity in `agencies`, but `licence` lives in `records`, which knows
    # no key for it: only `Agent` (its parent here) can be re-entered in `records`.
    agents = kit.Service(
        "agents",
        """
        type Query { agent(id: ID!): Agent }
        type Agent @key(fields: "id") { id: ID!  name: String!  agency: Agency @shareable }
        type Agency @key(fields: "id") { id: ID! }
        """,
        root={"agent": lambda args: {"id": args["id"], "name": "Rosa", "agency": {"id": "g1"}}},
    )
    agencies = kit.Service(
        "agencies",
        'type Agency @key(fields: "id") { id: ID!  title: String! }',
        entities={"Agency": lambda rep: {"id": rep["id"], "title": f"Agency {rep['id']}"}},
    )
    records = kit.Service(
        "records",
        """
        type Agent @key(fields: "id") { id: ID!  agency: Agency @shareable }
        type Agency { licence: String }
        """,
        entities={"Agent": lambda rep: {"id": rep["id"], "agency": {"licence": f"L-{rep['id']}"}}},
    )
    federation = kit.Federation(agents, agencies, records)
    result = await federation.run('{ agent(id: "a9") { name agency { id title licence } } }')
    assert result == {
        "data": {
            "agent": {
                "name": "Rosa",
                "agency": {"id": "g1", "title": "Agency g1", "licence": "L-a9"},
            }
        }
    }
    assert federation.fetched[0] == "agents"
    assert sorted(federation.fetched[1:]) == ["agencies", "records"]
    assert federation.subgraph_errors() == []


async def test_reentry_walks_through_type_conditions(kit: Any) -> None:
    # A shareable root list of a union of value types: `Note.pinned` is only in `board`,
    # so `board` is asked for the same list, and only for its `Note` members' part.
    wall = kit.Service(
        "wall",
        """
        type Query { feed: [Post!]! @shareable }
        union Post = Note | Photo
        type Note @shareable { text: String! }
        type Photo @shareable { url: String! }
        """,
        root={
            "feed": [
                {"__typename": "Note", "text": "open house"},
                {"__typename": "Photo", "url": "/p.jpg"},
            ]
        },
    )
    board = kit.Service(
        "board",
        """
        type Query { feed: [Post!]! @shareable }
        union Post = Note | Photo
        type Note @shareable { text: String!  pinned: Boolean! }
        type Photo @shareable { url: String! }
        """,
        root={
            "feed": [
                {"__typename": "Note", "text": "open house", "pinned": True},
                {"__typename": "Photo", "url": "/p.jpg"},
            ]
        },
    )
    federation = kit.Federation(board, wall)
    result = await federation.run("{ feed { ... on Note { text pinned } ... on Photo { url } } }")
    assert result == {"data": {"feed": [{"text": "open house", "pinned": True}, {"url": "/p.jpg"}]}}
    assert federation.fetched == ["board"]
    assert federation.subgraph_errors() == []
    federation = kit.Federation(wall, board, supergraph=kit.compose_sdl(wall, board))
    result = await federation.run("{ feed { ... on Photo { url } ... on Note { pinned } } }")
    assert result == {"data": {"feed": [{"pinned": True}, {"url": "/p.jpg"}]}}


async def test_a_parent_entity_behind_a_type_condition_is_re_entered(kit: Any) -> None:
    # Named to come after `homes`: with `price` already asked of `homes`, `address` is
    # fetched there too, and `district` needs `Home` re-entered in `survey`.
    federation = _homes_federation(kit, geo_name="survey")
    homes = federation.services["homes"]
    search = kit.Service(
        "search",
        """
        type Query { find(term: String!): [Hit!]! }
        union Hit = Home | Street
        type Home @key(fields: "id") { id: ID! }
        type Street { name: String! }
        """,
        root={
            "find": lambda args: [
                {"__typename": "Street", "name": args["term"]},
                {"__typename": "Home", "id": "h2"},
            ]
        },
    )
    federation = kit.Federation(homes, federation.services["survey"], search)
    result = await federation.run(
        '{ find(term: "Elm") { ... on Street { name } '
        "... on Home { price address { street district } } } }"
    )
    assert result == {
        "data": {
            "find": [
                {"name": "Elm"},
                {"price": 300, "address": {"street": "1 Elm Row", "district": "Pilrig"}},
            ]
        }
    }
    assert federation.fetched[0] == "search"
    assert sorted(federation.fetched[1:]) == ["homes", "survey"]
    survey = next(call for call in federation.transport.calls if call[0] == "survey")
    assert "... on Home { address { district } }" in survey[1]
    assert federation.subgraph_errors() == []


def _plan(federation: Any, query: str) -> list[dict[str, Any]]:
    operation = parse(query).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    described: list[dict[str, Any]] = (
        QueryPlanner(federation.supergraph).plan(operation, {}, {}).describe()
    )
    return described


def test_plan_shape_of_a_shareable_root_field_split_over_two_subgraphs(kit: Any) -> None:
    assert _plan(_stats_federation(kit), "{ stats { photos tours listings } }") == [
        {
            "roots": [
                {"subgraph": "catalog", "document": "query { stats { photos listings } }"},
                {"subgraph": "tours", "document": "query { stats { tours } }"},
            ],
            "waves": [],
        }
    ]


def test_plan_shape_of_a_parent_entity_call(kit: Any) -> None:
    plan = _plan(_homes_federation(kit), '{ home(id: "h1") { price address { street district } } }')
    assert plan == [
        {
            "roots": [
                {
                    "subgraph": "homes",
                    "document": 'query { home(id: "h1") { price address { street } id } }',
                }
            ],
            "waves": [
                [
                    {
                        "subgraph": "geo",
                        "path": ["home"],
                        "entities": "... on Home { address { district } }",
                    }
                ]
            ],
        }
    ]


async def test_fields_of_a_value_go_to_as_few_subgraphs_as_cover_them(kit: Any) -> None:
    homes = kit.Service(
        "homes",
        """
        type Query { home(id: ID!): Home }
        type Home @key(fields: "id") { id: ID!  price: Int!  address: Address! @shareable }
        type Address @shareable { street: String! }
        """,
        root={"home": lambda args: {"id": args["id"], "price": 1, "address": {"street": "Elm"}}},
    )

    def geo(name: str, fields: str, value: dict[str, Any]) -> Any:
        return kit.Service(
            name,
            f"""
            type Home @key(fields: "id") {{ id: ID!  address: Address! @shareable }}
            type Address @shareable {{ street: String!  {fields} }}
            """,
            entities={"Home": lambda rep: {"id": rep["id"], "address": {"street": "Elm", **value}}},
        )

    federation = kit.Federation(
        homes,
        geo("districts", "district: String!", {"district": "Pilrig"}),
        geo("zones", "district: String!  zone: String!", {"district": "Pilrig", "zone": "R2"}),
    )
    result = await federation.run('{ home(id: "h1") { price address { district zone } } }')
    assert result == {
        "data": {"home": {"price": 1, "address": {"district": "Pilrig", "zone": "R2"}}}
    }
    # `zones` answers both fields: one entity fetch, not one per field.
    assert federation.fetched == ["homes", "zones"]
