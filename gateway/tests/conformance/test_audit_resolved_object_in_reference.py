"""An entity with four keys, resolvable in each subgraph by a different one, and a
`@requires` whose subgraph resolves the reference from the representation alone.

`catalog` resolves `Home` by `id` only (its other keys `resolvable: false`); `shortlists`
lists homes and resolves `Home` only by `id parcel { district lot }`, and its `caption`
requires the `title` `catalog` holds. The title comes from `catalog` by `id`, then the
caption from `shortlists` by its own key with the title beside it: the representation
holds exactly that key's fields and the requirement (`shortlists` answers from it).
"""

from __future__ import annotations

from typing import Any

TITLES = {"1": "Loft on the quay", "2": "Cottage by the mill"}
SHORTLISTS = {"100": ["1"], "200": ["1", "2"]}


def _home(home_id: str) -> dict[str, Any]:
    return {
        "id": home_id,
        "ref": f"r:{home_id}",
        "parcel": {
            "region": f"reg-{home_id}",
            "district": f"dis-{home_id}",
            "lot": f"lot-{home_id}",
        },
    }


def _federation(kit: Any) -> Any:
    catalog = kit.Service(
        "catalog",
        """
        type Home
          @key(fields: "id", resolvable: true)
          @key(fields: "ref", resolvable: false)
          @key(fields: "parcel { region district }", resolvable: false)
          @key(fields: "id parcel { district lot }", resolvable: false) {
          id: ID!
          ref: ID!
          parcel: Parcel!
          title: String!
        }
        type Parcel { region: ID!  district: ID!  lot: ID! }
        """,
        entities={"Home": lambda rep: {"id": rep["id"], "title": TITLES[rep["id"]]}},
    )
    shortlists = kit.Service(
        "shortlists",
        """
        type Query { shortlist: Shortlist }
        type Shortlist @key(fields: "id") { id: ID!  homes: [Home!]! }
        type Home
          @key(fields: "parcel { region district }", resolvable: false)
          @key(fields: "id parcel { district lot }", resolvable: true)
          @key(fields: "ref", resolvable: false)
          @key(fields: "id", resolvable: false) {
          id: ID!
          ref: ID!
          parcel: Parcel!
          title: String! @external
          caption: String! @requires(fields: "title")
        }
        type Parcel { region: ID!  district: ID!  lot: ID! }
        """,
        root={"shortlist": {"id": "100", "homes": [_home(h) for h in SHORTLISTS["100"]]}},
        # The reference resolved as it came: the caption is made from the title it holds.
        entities={"Home": lambda rep: {**rep, "caption": f"Shortlisted: {rep['title']}"}},
    )
    return kit.Federation(catalog, shortlists)


async def test_the_requirement_comes_by_one_key_and_goes_back_by_another(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ shortlist { id homes { id title caption } } }")
    assert result == {
        "data": {
            "shortlist": {
                "id": "100",
                "homes": [
                    {
                        "id": "1",
                        "title": "Loft on the quay",
                        "caption": "Shortlisted: Loft on the quay",
                    }
                ],
            }
        }
    }
    assert federation.fetched == ["shortlists", "catalog", "shortlists"]
    assert federation.services["catalog"].representations == [[{"__typename": "Home", "id": "1"}]]
    assert federation.services["shortlists"].representations == [
        [
            {
                "__typename": "Home",
                "id": "1",
                "parcel": {"district": "dis-1", "lot": "lot-1"},
                "title": "Loft on the quay",
            }
        ]
    ]
    assert federation.subgraph_errors() == []
