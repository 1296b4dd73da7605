"""A union whose members differ between subgraphs, under a shareable value type.

`feed` defines `Item = Listing | Tour | Note` and the only root field; `alerts` shares
`Digest` and `Listing` but knows only `Item = Listing`. Members that only `feed` has
(and have no key) can only come from `feed`, so their fragments stay in its fetch: a
planner that filtered them by the narrower subgraph would drop them.
"""

from __future__ import annotations

from typing import Any

ITEMS = [
    {"__typename": "Listing", "id": "l1", "price": "950"},
    {"__typename": "Tour", "id": "t1", "name": "Open day", "room": "kitchen"},
    {"__typename": "Note", "id": "n1", "text": "call back"},
]


def _federation(kit: Any) -> Any:
    feed = kit.Service(
        "feed",
        """
        type Query { digest: Digest }
        type Digest @shareable { items: [Item!]!  headline: String }
        union Item = Listing | Tour | Note
        type Listing @shareable { id: ID!  price: String }
        type Tour { id: ID!  name: String  room: String }
        type Note { id: ID!  text: String }
        """,
        root={"digest": {"headline": "today", "items": ITEMS}},
    )
    alerts = kit.Service(
        "alerts",
        """
        type Digest @shareable { items: [Item!]!  headline: String }
        union Item = Listing
        type Listing @shareable { id: ID!  price: String }
        """,
    )
    return kit.Federation(feed, alerts)


async def test_every_member_comes_from_the_subgraph_that_has_them_all(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        """
        { digest { headline items { __typename
            ... on Listing { id price }  ... on Tour { id name room }  ... on Note { id text } } } }
        """
    )
    assert result == {"data": {"digest": {"headline": "today", "items": ITEMS}}}
    assert federation.fetched == ["feed"]
    assert federation.subgraph_errors() == []


async def test_members_only_one_subgraph_has_are_kept_alone(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        "{ digest { items { __typename ... on Tour { name } ... on Note { text } } } }"
    )
    assert result == {
        "data": {
            "digest": {
                "items": [
                    {"__typename": "Listing"},
                    {"__typename": "Tour", "name": "Open day"},
                    {"__typename": "Note", "text": "call back"},
                ]
            }
        }
    }
    assert federation.fetched == ["feed"]
