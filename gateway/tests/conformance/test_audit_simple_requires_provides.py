"""`@requires` and `@provides` together over four subgraphs, the classic review shape.

`people` has the root `me` and owns `Buyer.username`; `catalog` the root `homes` and
`name`, `price`, `size`; `stock` computes `viewingFee` and `viewingTag` requiring
`price size` and owns `available`; `opinions` owns `Opinion`, `Buyer.opinions` and
`Home.opinions`, and provides the author's `username` (external there). Every case
asserts the answer; where a plan could over-fetch, which subgraphs answered.
"""

from __future__ import annotations

from typing import Any

import pytest

HOMES = {
    "h1": {"upc": "h1", "name": "Mill house", "price": 11, "size": 1},
    "h2": {"upc": "h2", "name": "Barn", "price": 22, "size": 2},
}
AVAILABLE = {"h1"}
BUYER = {"id": "b1", "username": "ann-b"}
OPINIONS = [{"id": "o1", "home": "h1"}, {"id": "o2", "home": "h2"}]


def _opinion(entry: dict[str, Any], depth: int = 1) -> dict[str, Any]:
    """An opinion as `opinions` resolves it, its home holding that home's opinions."""
    home: dict[str, Any] = {"upc": entry["home"]}
    if depth:
        home["opinions"] = [_opinion(o, 0) for o in OPINIONS if o["home"] == entry["home"]]
    return {"id": entry["id"], "author": dict(BUYER), "home": home}


def _stock(rep: dict[str, Any]) -> Any:
    found: dict[str, Any] = {"upc": rep["upc"], "available": rep["upc"] in AVAILABLE}
    if "price" in rep and "size" in rep:
        fee = rep["price"] * rep["size"] * 10
        found.update(viewingFee=fee, viewingTag=f"#{rep['upc']}#{fee}#")
    return found


def _federation(kit: Any) -> Any:
    people = kit.Service(
        "people",
        """
        type Query { me: Buyer }
        type Buyer @key(fields: "id") { id: ID!  username: String @shareable }
        """,
        root={"me": BUYER},
        entities={"Buyer": lambda rep: BUYER if rep["id"] == BUYER["id"] else None},
    )
    catalog = kit.Service(
        "catalog",
        """
        type Query { homes: [Home] }
        type Home @key(fields: "upc") { upc: String!  name: String  price: Int  size: Int }
        """,
        root={"homes": list(HOMES.values())},
        entities={"Home": lambda rep: HOMES.get(rep["upc"])},
    )
    stock = kit.Service(
        "stock",
        """
        type Home @key(fields: "upc") {
          upc: String!
          size: Int @external
          price: Int @external
          available: Boolean
          viewingFee: Int @requires(fields: "price size")
          viewingTag: String @requires(fields: "price size")
        }
        """,
        entities={"Home": _stock},
    )
    opinions = kit.Service(
        "opinions",
        """
        type Opinion @key(fields: "id") {
          id: ID!
          body: String
          author: Buyer @provides(fields: "username")
          home: Home
        }
        type Buyer @key(fields: "id") { id: ID!  username: String @external  opinions: [Opinion] }
        type Home @key(fields: "upc") { upc: String!  opinions: [Opinion] }
        """,
        entities={
            "Buyer": lambda rep: {"id": rep["id"], "opinions": [_opinion(o) for o in OPINIONS]},
            "Home": lambda rep: {
                "upc": rep["upc"],
                "opinions": [_opinion(o) for o in OPINIONS if o["home"] == rep["upc"]],
            },
            "Opinion": lambda rep: next(_opinion(o) for o in OPINIONS if o["id"] == rep["id"]),
        },
    )
    return kit.Federation(people, catalog, stock, opinions)


CASES = [
    ("{ me { id } }", {"me": {"id": "b1"}}, ["people"]),
    (
        "{ me { id opinions { id } } }",
        {"me": {"id": "b1", "opinions": [{"id": "o1"}, {"id": "o2"}]}},
        ["people", "opinions"],
    ),
    (
        "{ me { opinions { id author { id username } home { available } } } }",
        {
            "me": {
                "opinions": [
                    {
                        "id": "o1",
                        "author": {"id": "b1", "username": "ann-b"},
                        "home": {"available": True},
                    },
                    {
                        "id": "o2",
                        "author": {"id": "b1", "username": "ann-b"},
                        "home": {"available": False},
                    },
                ]
            }
        },
        ["people", "opinions", "stock"],  # the username is provided: `people` not again
    ),
    ("{ homes { name } }", {"homes": [{"name": "Mill house"}, {"name": "Barn"}]}, ["catalog"]),
    ("{ homes { price } }", {"homes": [{"price": 11}, {"price": 22}]}, ["catalog"]),
    (
        "{ homes { viewingFee } }",
        {"homes": [{"viewingFee": 110}, {"viewingFee": 440}]},
        ["catalog", "stock"],
    ),
    (
        "{ homes { viewingFee size price } }",
        {
            "homes": [
                {"viewingFee": 110, "size": 1, "price": 11},
                {"viewingFee": 440, "size": 2, "price": 22},
            ]
        },
        ["catalog", "stock"],
    ),
    (
        "{ homes { opinions { id author { username } home { name viewingFee } } } }",
        {
            "homes": [
                {
                    "opinions": [
                        {
                            "id": "o1",
                            "author": {"username": "ann-b"},
                            "home": {"name": "Mill house", "viewingFee": 110},
                        }
                    ]
                },
                {
                    "opinions": [
                        {
                            "id": "o2",
                            "author": {"username": "ann-b"},
                            "home": {"name": "Barn", "viewingFee": 440},
                        }
                    ]
                },
            ]
        },
        None,
    ),
    (
        "{ me { opinions { home { opinions { id } } } } }",
        {
            "me": {
                "opinions": [
                    {"home": {"opinions": [{"id": "o1"}]}},
                    {"home": {"opinions": [{"id": "o2"}]}},
                ]
            }
        },
        ["people", "opinions"],
    ),
    (
        "{ me { opinions { home { available } } } }",
        {"me": {"opinions": [{"home": {"available": True}}, {"home": {"available": False}}]}},
        ["people", "opinions", "stock"],
    ),
    (
        "{ me { opinions { home { viewingFee } } } }",
        {"me": {"opinions": [{"home": {"viewingFee": 110}}, {"home": {"viewingFee": 440}}]}},
        ["people", "opinions", "catalog", "stock"],
    ),
    (
        "{ me { opinions { home { viewingFee viewingTag } } } }",
        {
            "me": {
                "opinions": [
                    {"home": {"viewingFee": 110, "viewingTag": "#h1#110#"}},
                    {"home": {"viewingFee": 440, "viewingTag": "#h2#440#"}},
                ]
            }
        },
        ["people", "opinions", "catalog", "stock"],
    ),
]


@pytest.mark.parametrize(("query", "expected", "fetched"), CASES)
async def test_requires_and_provides_across_the_review_subgraphs(
    kit: Any, query: str, expected: dict[str, Any], fetched: list[str] | None
) -> None:
    federation = _federation(kit)
    assert await federation.run(query) == {"data": expected}
    assert federation.subgraph_errors() == []
    if fetched is not None:
        assert federation.fetched == fetched
