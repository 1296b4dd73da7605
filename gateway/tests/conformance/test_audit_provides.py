"""`@provides` is a hint: only what the client selected is asked of the providing subgraph.

`search` returns homes with `@provides(fields: "title blurb")`; `catalog` owns them. A
field the client did not select is never added to the fetch (`blurb` here fails when
resolved, as an over-fetch would show), the provided fields are never asked of the owner
again (its `title` fails too), and only `floor`, which search cannot give, goes to the
owner. Aliases, fragments and `@skip`/`@include` on fragments keep their meaning.
"""

from __future__ import annotations

from typing import Any

import pytest

HOMES = [
    {"id": "h1", "title": "Elm Row", "blurb": "bright", "floor": 2},
    {"id": "h2", "title": "Leith Walk", "blurb": "quiet", "floor": 4},
]


def _fail(what: str) -> Any:
    def resolve(*_: Any, **__: Any) -> Any:
        raise RuntimeError(f"over-fetch: {what}")

    return resolve


def _federation(kit: Any) -> Any:
    def owned(rep: dict[str, Any]) -> dict[str, Any]:
        home = next(h for h in HOMES if h["id"] == rep["id"])
        return {**home, "title": _fail("catalog title"), "blurb": _fail("catalog blurb")}

    def provided(home: dict[str, Any]) -> dict[str, Any]:
        return {"id": home["id"], "title": home["title"], "blurb": _fail("search blurb")}

    catalog = kit.Service(
        "catalog",
        """
        type Query { ping: Boolean }
        type Home @key(fields: "id") {
          id: ID!  title: String! @shareable  blurb: String! @shareable  floor: Int!
        }
        """,
        entities={"Home": owned},
    )
    search = kit.Service(
        "search",
        """
        type Query {
          home: Home @provides(fields: "title blurb")
          homes: [Home!]! @provides(fields: "title blurb")
        }
        type Home @key(fields: "id") { id: ID!  title: String! @external  blurb: String! @external }
        """,
        root={"home": provided(HOMES[0]), "homes": [provided(h) for h in HOMES]},
        entities={"Home": lambda rep: _fail("search entities")()},
    )
    return kit.Federation(catalog, search)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ home { id } }", {"id": "h1"}),
        ("{ home { id title } }", {"id": "h1", "title": "Elm Row"}),
        ("{ home { id shown: title } }", {"id": "h1", "shown": "Elm Row"}),
        ("{ home { id ... on Home { title } } }", {"id": "h1", "title": "Elm Row"}),
        ("{ home { id ...T } } fragment T on Home { title }", {"id": "h1", "title": "Elm Row"}),
        ("{ home { id ... on Home @skip(if: true) { blurb } } }", {"id": "h1"}),
        ("{ home { id ... on Home @include(if: false) { blurb } } }", {"id": "h1"}),
    ],
)
async def test_only_the_selected_provided_fields_are_asked(
    kit: Any, query: str, expected: dict[str, Any]
) -> None:
    federation = _federation(kit)
    assert await federation.run(query) == {"data": {"home": expected}}
    assert federation.fetched == ["search"]
    assert "blurb" not in federation.transport.calls[0][1]


@pytest.mark.parametrize(
    "query", ["{ home { id title floor } }", "{ home { id ... { title } ... { floor } } }"]
)
async def test_a_field_search_cannot_give_goes_to_the_owner_alone(kit: Any, query: str) -> None:
    federation = _federation(kit)
    assert await federation.run(query) == {
        "data": {"home": {"id": "h1", "title": "Elm Row", "floor": 2}}
    }
    assert federation.fetched == ["search", "catalog"]
    assert "title" not in federation.transport.calls[1][1]


async def test_a_provided_list_is_answered_item_by_item(kit: Any) -> None:
    federation = _federation(kit)
    assert await federation.run("{ homes { id title floor } }") == {
        "data": {
            "homes": [
                {"id": "h1", "title": "Elm Row", "floor": 2},
                {"id": "h2", "title": "Leith Walk", "floor": 4},
            ]
        }
    }
    assert federation.fetched == ["search", "catalog"]
