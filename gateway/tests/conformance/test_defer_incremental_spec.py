"""`@defer` and `@stream` in the newer incremental format (`incrementalSpec=v0.2`).

The first payload announces each deferred object and streamed list (`pending`, ids as
strings); later payloads carry `incremental` entries by id and close them
(`completed`); a fragment nested in another is announced by the payload that completes
its parent; `hasNext` is true exactly while something announced is open. The same
tours and recordings as `test_defer.py`, the same fetches: only the payloads differ.
"""

from __future__ import annotations

from typing import Any

from gateway.incremental import content_type, incremental_spec
from gateway.types import INCREMENTAL_SPEC_V0_2, JSON, GraphQLRequest, RequestContext

from .test_defer import _tour_page


async def _payloads(federation: Any, query: str, variables: Any = None) -> list[JSON]:
    federation.transport.calls.clear()
    result = await federation.engine.execute_incremental(
        GraphQLRequest(query, variables), RequestContext(), spec=INCREMENTAL_SPEC_V0_2
    )
    if isinstance(result, dict):
        return [result]
    return [payload async for payload in result]


async def test_a_deferred_fragment_is_announced_then_completed(kit: Any) -> None:
    federation = _tour_page(kit)
    query = '{ tour(id: "t1") { title ... @defer(label: "media") { recordings } } }'
    assert await _payloads(federation, query) == [
        {
            "data": {"tour": {"title": "Loft"}},
            "pending": [{"id": "0", "path": ["tour"], "label": "media"}],
            "hasNext": True,
        },
        {
            "incremental": [{"id": "0", "data": {"recordings": ["t1.mp4"]}}],
            "completed": [{"id": "0"}],
            "hasNext": False,
        },
    ]
    assert federation.fetched == ["tours", "media"]


async def test_each_list_item_has_its_own_id(kit: Any) -> None:
    federation = _tour_page(kit)
    query = "{ tours { title ... @defer { recordings } } }"
    assert await _payloads(federation, query) == [
        {
            "data": {"tours": [{"title": "Loft"}, {"title": "Barn"}]},
            "pending": [{"id": "0", "path": ["tours", 0]}, {"id": "1", "path": ["tours", 1]}],
            "hasNext": True,
        },
        {
            "incremental": [
                {"id": "0", "data": {"recordings": ["t1.mp4"]}},
                {"id": "1", "data": {"recordings": ["t2.mp4"]}},
            ],
            "completed": [{"id": "0"}, {"id": "1"}],
            "hasNext": False,
        },
    ]
    assert federation.fetched == ["tours", "media"]


async def test_a_nested_fragment_is_announced_when_its_parent_completes(kit: Any) -> None:
    federation = _tour_page(kit)
    query = """
      { tour(id: "t2") { title ...Media @defer } }
      fragment Media on Tour { recordings ... @defer(label: "guide") { guide { name } } }
    """
    assert await _payloads(federation, query) == [
        {
            "data": {"tour": {"title": "Barn"}},
            "pending": [{"id": "0", "path": ["tour"]}],
            "hasNext": True,
        },
        {
            "pending": [{"id": "1", "path": ["tour"], "label": "guide"}],
            "incremental": [{"id": "0", "data": {"recordings": ["t2.mp4"]}}],
            "completed": [{"id": "0"}],
            "hasNext": True,
        },
        {
            "incremental": [{"id": "1", "data": {"guide": {"name": "Bob"}}}],
            "completed": [{"id": "1"}],
            "hasNext": False,
        },
    ]


async def test_a_fragment_that_cannot_complete_is_closed_with_its_errors(kit: Any) -> None:
    def broken(rep: dict[str, Any]) -> Any:
        raise RuntimeError("media store is down")

    federation = _tour_page(kit, recordings=broken)
    payloads = await _payloads(federation, '{ tour(id: "t1") { title ... @defer { recordings } } }')
    assert payloads == [
        {
            "data": {"tour": {"title": "Loft"}},
            "pending": [{"id": "0", "path": ["tour"]}],
            "hasNext": True,
        },
        {
            "completed": [
                {
                    "id": "0",
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
        },
    ]


async def test_nothing_to_announce_is_one_payload(kit: Any) -> None:
    federation = _tour_page(kit)
    payloads = await _payloads(
        federation, '{ tour(id: "nope") { title ... @defer { recordings } } }'
    )
    assert payloads == [{"data": {"tour": None}, "hasNext": False}]
    assert federation.fetched == ["tours"]


async def test_a_stream_is_announced_at_the_list_and_sends_items(kit: Any) -> None:
    federation = _tour_page(kit)
    query = '{ tours @stream(initialCount: 1, label: "more") { title } }'
    assert await _payloads(federation, query) == [
        {
            "data": {"tours": [{"title": "Loft"}]},
            "pending": [{"id": "0", "path": ["tours"], "label": "more"}],
            "hasNext": True,
        },
        {
            "incremental": [{"id": "0", "items": [{"title": "Barn"}]}],
            "completed": [{"id": "0"}],
            "hasNext": False,
        },
    ]


async def test_fragments_inside_streamed_items_are_announced_with_the_items(kit: Any) -> None:
    federation = _tour_page(kit)
    query = "{ tours @stream { title ... @defer { recordings } } }"
    assert await _payloads(federation, query) == [
        {"data": {"tours": []}, "pending": [{"id": "0", "path": ["tours"]}], "hasNext": True},
        {
            "pending": [{"id": "1", "path": ["tours", 0]}, {"id": "2", "path": ["tours", 1]}],
            "incremental": [{"id": "0", "items": [{"title": "Loft"}, {"title": "Barn"}]}],
            "completed": [{"id": "0"}],
            "hasNext": True,
        },
        {
            "incremental": [
                {"id": "1", "data": {"recordings": ["t1.mp4"]}},
                {"id": "2", "data": {"recordings": ["t2.mp4"]}},
            ],
            "completed": [{"id": "1"}, {"id": "2"}],
            "hasNext": False,
        },
    ]


def test_the_accept_header_chooses_the_format() -> None:
    assert incremental_spec("application/json") is None
    assert incremental_spec(None) is None
    # Apollo Client's default, and a bare `multipart/mixed` (Yoga's clients): the old format.
    assert incremental_spec("multipart/mixed;deferSpec=20220824, application/json") == (
        "20220824",
        "deferSpec=20220824",
    )
    assert incremental_spec("multipart/mixed") == ("20220824", "deferSpec=20220824")
    assert incremental_spec("multipart/mixed;incrementalSpec=v0.2, application/json") == (
        "v0.2",
        "incrementalSpec=v0.2",
    )
    assert incremental_spec('multipart/mixed; incrementalDeliverySpec="3283f8a"') == (
        "v0.2",
        'incrementalDeliverySpec="3283f8a"',
    )
    # The range of the highest quality wins; the first of equals; q=0 is a refusal.
    both = "multipart/mixed;deferSpec=20220824;q=0.5, multipart/mixed;incrementalSpec=v0.2"
    assert incremental_spec(both) == ("v0.2", "incrementalSpec=v0.2")
    assert (
        incremental_spec(
            "multipart/mixed;deferSpec=20220824, multipart/mixed;incrementalSpec=v0.2"
        )[0]
        == "20220824"
    )
    assert incremental_spec("multipart/mixed;incrementalSpec=v0.2;q=0, application/json") is None
    assert content_type("incrementalSpec=v0.2") == (
        'multipart/mixed; boundary="graphql"; incrementalSpec=v0.2'
    )


async def test_a_fragment_with_nothing_to_complete_sends_no_payload(kit: Any) -> None:
    # The second fragment's parent is null: nothing was announced for it, so the payload
    # completing the first one is the last (the older format sends `{"hasNext": false}`).
    federation = _tour_page(kit)
    query = """
      { tours { title ... @defer { recordings } } tour(id: "nope") { ... @defer { recordings } } }
    """
    assert await _payloads(federation, query) == [
        {
            "data": {"tours": [{"title": "Loft"}, {"title": "Barn"}], "tour": None},
            "pending": [{"id": "0", "path": ["tours", 0]}, {"id": "1", "path": ["tours", 1]}],
            "hasNext": True,
        },
        {
            "incremental": [
                {"id": "0", "data": {"recordings": ["t1.mp4"]}},
                {"id": "1", "data": {"recordings": ["t2.mp4"]}},
            ],
            "completed": [{"id": "0"}, {"id": "1"}],
            "hasNext": False,
        },
    ]
