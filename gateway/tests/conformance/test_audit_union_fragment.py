"""A shareable `node` root two subgraphs have, only one of them with an implementation.

`registry` publishes `interface Node` and `node(id:)` with no object type behind them;
`records` has the same root and `Deed implements Node` (no key). A fragment on `Deed`
can only be answered where `Deed` exists, so the whole field goes to `records`; the
operation's variable keeps its default on the way.
"""

from __future__ import annotations

from typing import Any


def _never(args: dict[str, Any]) -> Any:
    raise AssertionError(f"registry cannot return a Deed for {args}")


def _federation(kit: Any) -> Any:
    registry = kit.Service(
        "registry",
        "interface Node { id: ID! }\ntype Query { node(id: ID!): Node @shareable }",
        root={"node": _never},
    )
    records = kit.Service(
        "records",
        """
        interface Node { id: ID! }
        type Deed implements Node {
          id: ID!
          uuid: String!
          version: Int!
          name: String!
          notes: String
          tags: [String!]
        }
        type Query { node(id: ID!): Node @shareable }
        """,
        root={
            "node": lambda args: {"__typename": "Deed", "id": args["id"], "uuid": f"u-{args['id']}"}
        },
    )
    return kit.Federation(registry, records)


async def test_the_fragment_goes_where_the_member_is_with_the_variable_default(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        """
        query Deed($id: ID! = "deed-1") {
          node(id: $id) { __typename id ... on Deed { uuid } }
        }
        """
    )
    assert result == {"data": {"node": {"__typename": "Deed", "id": "deed-1", "uuid": "u-deed-1"}}}
    assert federation.fetched == ["records"]
    assert federation.subgraph_errors() == []
