"""Several keys per entity, each subgraph marking a different one resolvable.

`catalog` receives `Home` only by `id`; `offices` only by `id ref { street town }`, and
lists other keys as `resolvable: false`. A home reached in offices gets `title` from
catalog by `id`, then `titleInOffice` (which requires `title`) back in offices by the
composite key, nested fields of the key included in the representation.
"""

from __future__ import annotations

from typing import Any

HOME = {"id": "1", "code": "P1", "ref": {"block": "b", "street": "s", "town": "t"}}


def _federation(kit: Any) -> Any:
    catalog = kit.Service(
        "catalog",
        """
        type Home
          @key(fields: "id", resolvable: true)
          @key(fields: "code", resolvable: false)
          @key(fields: "ref { block street }", resolvable: false)
          @key(fields: "id ref { street town }", resolvable: false) {
          id: ID!  code: ID!  ref: Ref!  title: String!
        }
        type Ref { block: ID!  street: ID!  town: ID! }
        """,
        entities={"Home": lambda rep: {**HOME, "title": "home 1"} if rep["id"] == "1" else None},
    )

    def office_home(rep: dict[str, Any]) -> dict[str, Any]:
        assert rep["ref"] == {"street": "s", "town": "t"}, rep
        return {**HOME, "titleInOffice": f"office {rep['title']}"}

    offices = kit.Service(
        "offices",
        """
        type Query { office: Office }
        type Office @key(fields: "id") { id: ID!  homes: [Home!]! }
        type Home
          @key(fields: "ref { block street }", resolvable: false)
          @key(fields: "id ref { street town }", resolvable: true)
          @key(fields: "code", resolvable: false)
          @key(fields: "id", resolvable: false) {
          id: ID!  code: ID!  ref: Ref!
          title: String! @external
          titleInOffice: String! @requires(fields: "title")
        }
        type Ref { block: ID!  street: ID!  town: ID! }
        """,
        root={"office": {"id": "100", "homes": [HOME]}},
        entities={
            "Office": lambda rep: {"id": rep["id"], "homes": [HOME]},
            "Home": office_home,
        },
    )
    return kit.Federation(catalog, offices)


async def test_each_subgraph_is_entered_by_the_key_it_resolves(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ office { id homes { id title titleInOffice } } }")
    assert result == {
        "data": {
            "office": {
                "id": "100",
                "homes": [{"id": "1", "title": "home 1", "titleInOffice": "office home 1"}],
            }
        }
    }
    assert federation.fetched == ["offices", "catalog", "offices"]
    assert federation.services["catalog"].representations[-1] == [{"__typename": "Home", "id": "1"}]
    assert federation.subgraph_errors() == []
