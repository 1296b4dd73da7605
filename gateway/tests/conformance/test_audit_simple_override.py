"""A field taken over with `@override`: asked of its new owner, even from the old one's root.

`drafts` and `posts` both resolve the shareable `feed`; `posts` takes `Post.createdAt`
over from `drafts`, whose value (never right) must not be seen. `feed` is therefore
answered by `posts` alone; `draftFeed` (in `drafts`) gets the date through the key.
"""

from __future__ import annotations

from typing import Any

POSTS = [{"id": "p1", "createdAt": "p1-created"}, {"id": "p2", "createdAt": "p2-created"}]
STALE = [{"id": p["id"], "createdAt": "NEVER"} for p in POSTS]


def _federation(kit: Any) -> Any:
    drafts = kit.Service(
        "drafts",
        """
        type Post @key(fields: "id") { id: ID!  createdAt: String! @shareable }
        type Query { feed: [Post] @shareable  draftFeed: [Post] }
        """,
        root={"feed": STALE, "draftFeed": [STALE[1]]},
        entities={"Post": lambda rep: next(p for p in STALE if p["id"] == rep["id"])},
    )
    posts = kit.Service(
        "posts",
        """
        type Post @key(fields: "id") {
          id: ID!
          createdAt: String! @override(from: "drafts") @shareable
        }
        type Query { feed: [Post] @shareable  postFeed: [Post] }
        """,
        root={"feed": POSTS, "postFeed": [POSTS[0]]},
        entities={"Post": lambda rep: next(p for p in POSTS if p["id"] == rep["id"])},
    )
    return kit.Federation(drafts, posts)


async def test_a_shareable_root_goes_to_the_owner_of_the_overridden_field(kit: Any) -> None:
    federation = _federation(kit)
    assert await federation.run("{ feed { createdAt } }") == {
        "data": {"feed": [{"createdAt": "p1-created"}, {"createdAt": "p2-created"}]}
    }
    assert federation.fetched == ["posts"]


async def test_the_old_owners_root_gets_the_field_through_the_key(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ draftFeed { createdAt } postFeed { createdAt } }")
    assert result == {
        "data": {
            "draftFeed": [{"createdAt": "p2-created"}],
            "postFeed": [{"createdAt": "p1-created"}],
        }
    }
    assert sorted(federation.fetched) == ["drafts", "posts", "posts"]
    assert federation.services["posts"].representations == [[{"__typename": "Post", "id": "p2"}]]
    assert federation.subgraph_errors() == []
