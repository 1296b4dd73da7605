"""`@defer`: the tour at once, the recordings and the guide when their own fetches answer.

Payloads in the `deferSpec=20220824` form (`hasNext`, `incremental` items with `path`
and `label`), one item per object a fragment completes; the deferred fields are planned
as fetches of their own, run after the first payload, through `_entities` even where the
first fetch's subgraph resolves them. A client that does not take incremental delivery
gets the whole answer at once.
"""

from __future__ import annotations

from typing import Any

from gateway.types import JSON, GraphQLRequest, RequestContext

TOURS = [
    {"id": "t1", "title": "Loft", "guide": {"name": "Ann"}},
    {"id": "t2", "title": "Barn", "guide": {"name": "Bob"}},
]


def _tour_page(kit: Any, recordings: Any = None) -> Any:
    tours = kit.Service(
        "tours",
        """
        type Query { tour(id: ID!): Tour  tours: [Tour!]! }
        type Tour @key(fields: "id") { id: ID!  title: String!  guide: Guide! }
        type Guide { name: String! }
        """,
        root={
            "tour": lambda args: next((t for t in TOURS if t["id"] == args["id"]), None),
            "tours": TOURS,
        },
        entities={"Tour": lambda rep: next(t for t in TOURS if t["id"] == rep["id"])},
    )
    media = kit.Service(
        "media",
        'type Tour @key(fields: "id") { id: ID!  recordings: [String!]! }',
        entities={
            "Tour": recordings
            or (lambda rep: {"id": rep["id"], "recordings": [f"{rep['id']}.mp4"]})
        },
    )
    return kit.Federation(tours, media)


async def _payloads(federation: Any, query: str, variables: Any = None) -> list[JSON]:
    federation.transport.calls.clear()
    result = await federation.engine.execute_incremental(
        GraphQLRequest(query, variables), RequestContext()
    )
    if isinstance(result, dict):
        return [result]
    return [payload async for payload in result]


async def test_a_deferred_fragment_comes_in_a_payload_of_its_own(kit: Any) -> None:
    federation = _tour_page(kit)
    query = '{ tour(id: "t1") { title ... @defer(label: "media") { recordings } } }'
    assert await _payloads(federation, query) == [
        {"data": {"tour": {"title": "Loft"}}, "hasNext": True},
        {
            "incremental": [
                {"data": {"recordings": ["t1.mp4"]}, "path": ["tour"], "label": "media"}
            ],
            "hasNext": False,
        },
    ]
    assert [(call[0], call[1]) for call in federation.transport.calls] == [
        ("tours", 'query { tour(id: "t1") { title id } }'),
        (
            "media",
            "query($_reps0: [_Any!]!) { _0: _entities(representations: $_reps0) "
            "{ ... on Tour { recordings } } }",
        ),
    ]


async def test_the_plan_keeps_deferred_fetches_apart(kit: Any) -> None:
    federation = _tour_page(kit)
    plan = federation.engine.plan_for(
        GraphQLRequest('{ tour(id: "t1") { title ... @defer { recordings guide { name } } } }')
    )
    assert plan.describe() == [
        {
            "roots": [{"subgraph": "tours", "document": 'query { tour(id: "t1") { title id } }'}],
            "waves": [],
        }
    ]
    [part] = plan.deferred
    assert (part.label, part.path, part.type_name) == ("", ("tour",), "Tour")
    assert [[(g.graph, g.target_type, g.body) for g in wave] for wave in part.steps[0].waves] == [
        [("media", "Tour", "{ recordings }"), ("tours", "Tour", "{ guide { name } }")]
    ]


async def test_each_list_item_is_an_item_of_the_payload(kit: Any) -> None:
    federation = _tour_page(kit)
    query = "{ tours { title ... @defer { recordings } } }"
    assert await _payloads(federation, query) == [
        {"data": {"tours": [{"title": "Loft"}, {"title": "Barn"}]}, "hasNext": True},
        {
            "incremental": [
                {"data": {"recordings": ["t1.mp4"]}, "path": ["tours", 0]},
                {"data": {"recordings": ["t2.mp4"]}, "path": ["tours", 1]},
            ],
            "hasNext": False,
        },
    ]
    # One `_entities` call for both tours.
    assert federation.fetched == ["tours", "media"]


async def test_a_nested_deferred_fragment_follows_its_parent(kit: Any) -> None:
    federation = _tour_page(kit)
    query = """
      { tour(id: "t2") { title ...Media @defer } }
      fragment Media on Tour { recordings ... @defer(label: "guide") { guide { name } } }
    """
    assert await _payloads(federation, query) == [
        {"data": {"tour": {"title": "Barn"}}, "hasNext": True},
        {"incremental": [{"data": {"recordings": ["t2.mp4"]}, "path": ["tour"]}], "hasNext": True},
        {
            "incremental": [
                {"data": {"guide": {"name": "Bob"}}, "path": ["tour"], "label": "guide"}
            ],
            "hasNext": False,
        },
    ]


async def test_defer_if_false_is_no_defer(kit: Any) -> None:
    federation = _tour_page(kit)
    query = 'query($d: Boolean!) { tour(id: "t1") { title ... @defer(if: $d) { recordings } } }'
    whole = {"data": {"tour": {"title": "Loft", "recordings": ["t1.mp4"]}}}
    assert await _payloads(federation, query, {"d": False}) == [whole]
    assert len(await _payloads(federation, query, {"d": True})) == 2


async def test_without_incremental_delivery_the_answer_is_whole(kit: Any) -> None:
    federation = _tour_page(kit)
    result = await federation.run('{ tour(id: "t1") { title ... @defer { recordings } } }')
    assert result == {"data": {"tour": {"title": "Loft", "recordings": ["t1.mp4"]}}}


async def test_a_failing_deferred_fetch_errs_in_its_payload_only(kit: Any) -> None:
    def broken(rep: dict[str, Any]) -> Any:
        raise RuntimeError("media store is down")

    federation = _tour_page(kit, recordings=broken)
    payloads = await _payloads(federation, '{ tour(id: "t1") { title ... @defer { recordings } } }')
    assert payloads[0] == {"data": {"tour": {"title": "Loft"}}, "hasNext": True}
    # The subgraph's error where its entity was due, then the non-null field that could
    # not be completed: the fragment's data is null, the first payload stands.
    assert payloads[1] == {
        "incremental": [
            {
                "data": None,
                "path": ["tour"],
                "errors": [
                    {"message": "media store is down", "path": ["tour"]},
                    {
                        "message": "Cannot return null for non-nullable field Tour.recordings.",
                        "path": ["tour", "recordings"],
                        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
                    },
                ],
            }
        ],
        "hasNext": False,
    }


async def test_a_null_parent_gets_no_item(kit: Any) -> None:
    federation = _tour_page(kit)
    payloads = await _payloads(
        federation, '{ tour(id: "nope") { title ... @defer { recordings } } }'
    )
    assert payloads == [{"data": {"tour": None}, "hasNext": True}, {"hasNext": False}]
    assert federation.fetched == ["tours"]


async def test_a_streamed_list_sends_its_first_items_then_the_rest(kit: Any) -> None:
    federation = _tour_page(kit)
    query = '{ tours @stream(initialCount: 1, label: "more") { title } }'
    assert await _payloads(federation, query) == [
        {"data": {"tours": [{"title": "Loft"}]}, "hasNext": True},
        {
            "incremental": [{"items": [{"title": "Barn"}], "path": ["tours", 1], "label": "more"}],
            "hasNext": False,
        },
    ]


async def test_stream_and_defer_together(kit: Any) -> None:
    federation = _tour_page(kit)
    query = "{ tours @stream { title ... @defer { recordings } } }"
    assert await _payloads(federation, query) == [
        {"data": {"tours": []}, "hasNext": True},
        {
            "incremental": [
                {"items": [{"title": "Loft"}, {"title": "Barn"}], "path": ["tours", 0]}
            ],
            "hasNext": True,
        },
        {
            "incremental": [
                {"data": {"recordings": ["t1.mp4"]}, "path": ["tours", 0]},
                {"data": {"recordings": ["t2.mp4"]}, "path": ["tours", 1]},
            ],
            "hasNext": False,
        },
    ]


async def test_a_list_no_longer_than_its_initial_count_is_one_payload(kit: Any) -> None:
    federation = _tour_page(kit)
    query = "{ tours @stream(initialCount: 5) { title } }"
    assert await _payloads(federation, query) == [
        {"data": {"tours": [{"title": "Loft"}, {"title": "Barn"}]}, "hasNext": False}
    ]
