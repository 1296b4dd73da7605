"""`@override` of a field an interface declares, by a subgraph where the type implements
another interface.

`photos` has `interface Post { id createdAt }` with only `PhotoPost` implementing it and
the root `feed: [Post]`; `posts` has `Post` implemented by `NotePost`, its own
`interface Entry` implemented by `PhotoPost`, the root `entries: [Entry]`, and takes
`PhotoPost.createdAt` over from `photos` (whose value must never be seen). So
`feed { createdAt }` asks `photos` for the key and `posts` for the date; a `NotePost`
fragment on `feed` selects nothing (`photos` returns no note); `entries` is `posts` alone.
"""

from __future__ import annotations

from typing import Any

PHOTOS = [
    {"__typename": "PhotoPost", "id": "p1", "createdAt": "p1-created"},
    {"__typename": "PhotoPost", "id": "p2", "createdAt": "p2-created"},
]
NOTES = [{"__typename": "NotePost", "id": "n1", "createdAt": "n1-created", "body": "n1-body"}]


def _federation(kit: Any) -> Any:
    # The overridden field's old value: never part of an answer.
    stale = [{**photo, "createdAt": "NEVER"} for photo in PHOTOS]
    photos = kit.Service(
        "photos",
        """
        interface Post { id: ID!  createdAt: String! }
        type PhotoPost implements Post @key(fields: "id") { id: ID!  createdAt: String! }
        type Query { feed: [Post] }
        """,
        root={"feed": stale},
        entities={"PhotoPost": lambda rep: next(p for p in stale if p["id"] == rep["id"])},
    )
    posts = kit.Service(
        "posts",
        """
        interface Post { id: ID!  createdAt: String! }
        type NotePost implements Post @key(fields: "id") { id: ID!  createdAt: String!  body: String! }
        interface Entry { id: ID!  createdAt: String! }
        type PhotoPost implements Entry @key(fields: "id") {
          id: ID!
          createdAt: String! @override(from: "photos")
        }
        type Query { entries: [Entry] }
        """,
        root={"entries": PHOTOS},
        entities={
            "PhotoPost": lambda rep: next(p for p in PHOTOS if p["id"] == rep["id"]),
            "NotePost": lambda rep: next(n for n in NOTES if n["id"] == rep["id"]),
        },
    )
    return kit.Federation(photos, posts)


async def test_the_overridden_field_is_fetched_from_its_new_owner(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ feed { id createdAt } }")
    assert result == {
        "data": {
            "feed": [
                {"id": "p1", "createdAt": "p1-created"},
                {"id": "p2", "createdAt": "p2-created"},
            ]
        }
    }
    assert federation.fetched == ["photos", "posts"]
    assert federation.services["posts"].representations == [
        [{"__typename": "PhotoPost", "id": "p1"}, {"__typename": "PhotoPost", "id": "p2"}]
    ]
    assert federation.subgraph_errors() == []


async def test_a_member_the_root_subgraph_lacks_selects_nothing(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ feed { ... on NotePost { id body } } }")
    assert result == {"data": {"feed": [{}, {}]}}
    assert federation.fetched == ["photos"]
    assert federation.subgraph_errors() == []


async def test_the_new_owners_own_interface_is_answered_by_it_alone(kit: Any) -> None:
    federation = _federation(kit)
    assert await federation.run("{ entries { createdAt } }") == {
        "data": {"entries": [{"createdAt": "p1-created"}, {"createdAt": "p2-created"}]}
    }
    assert federation.fetched == ["posts"]
    result = await federation.run("{ entries { createdAt id ... on PhotoPost { createdAt id } } }")
    assert result == {
        "data": {
            "entries": [
                {"createdAt": "p1-created", "id": "p1"},
                {"createdAt": "p2-created", "id": "p2"},
            ]
        }
    }
    assert federation.fetched == ["posts"]
    assert federation.subgraph_errors() == []
