"""Field types that differ between subgraphs: each document a subgraph receives is valid
against that subgraph's own schema.

`Buyer.contact` is `String!` in crm but `String` in mail (and `Seller.contact` is `String`
in crm): the supergraph says `String`, and crm rejects sibling fragments selecting both
under one response key, so the planner aliases one and the response reads it back.
`Query.lead` is the interface `Lead` in crm but the object `Buyer` in mail: a document to
mail keeps only the fragments a `Buyer` can match. `Party` has a member mail lacks.
"""

from __future__ import annotations

from typing import Any

BUYER = {"__typename": "Buyer", "id": "b1", "contact": "ann@example.com", "inbox": 3}
SELLER = {"__typename": "Seller", "id": "s1", "contact": None, "inbox": 9}


def _federation(kit: Any) -> Any:
    crm = kit.Service(
        "crm",
        """
        type Query { parties: [Party!]!  lead: Lead @shareable }
        union Party = Buyer | Seller
        interface Lead { id: ID! }
        type Buyer implements Lead @key(fields: "id") {
          id: ID!  contact: String! @shareable  tags: [String!]! @shareable
        }
        type Seller implements Lead @key(fields: "id") {
          id: ID!  contact: String @shareable  tags: [String] @shareable
        }
        """,
        root={
            "parties": [
                {**BUYER, "tags": ["new"]},
                {**SELLER, "tags": ["vip", None]},
            ],
            "lead": BUYER,
        },
        entities={
            "Buyer": lambda rep: {**BUYER, "tags": ["new"]},
            "Seller": lambda rep: {**SELLER, "tags": ["vip", None]},
        },
    )
    mail = kit.Service(
        "mail",
        """
        type Query { lead: Buyer @shareable  folders: [Folder!]! }
        union Folder = Buyer | Draft
        type Draft { subject: String! }
        type Buyer @key(fields: "id") {
          id: ID!  contact: String @shareable  tags: [String] @shareable  inbox: Int!
        }
        type Seller @key(fields: "id") { id: ID!  inbox: Int! }
        """,
        root={"lead": BUYER, "folders": [BUYER, {"__typename": "Draft", "subject": "hi"}]},
        entities={
            "Buyer": lambda rep: {**BUYER, "tags": ["new"]},
            "Seller": lambda rep: SELLER,
        },
    )
    return kit.Federation(crm, mail)


async def test_conflicting_sibling_fields_are_aliased_and_read_back(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        "{ parties { ... on Buyer { id contact tags } ... on Seller { id contact tags } } }"
    )
    assert federation.subgraph_errors() == []
    assert result == {
        "data": {
            "parties": [
                {"id": "b1", "contact": "ann@example.com", "tags": ["new"]},
                {"id": "s1", "contact": None, "tags": ["vip", None]},
            ]
        }
    }
    assert federation.fetched == ["crm"]


async def test_an_aliased_field_still_gets_its_fields_from_other_subgraphs(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        "{ parties { ... on Buyer { contact inbox } ... on Seller { contact inbox } } }"
    )
    assert federation.subgraph_errors() == []
    assert result == {
        "data": {
            "parties": [
                {"contact": "ann@example.com", "inbox": 3},
                {"contact": None, "inbox": 9},
            ]
        }
    }


async def test_fragments_follow_the_subgraphs_own_type_of_the_field(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        "{ lead { id ... on Seller { contact } ... on Buyer { inbox } } }"
    )
    assert federation.subgraph_errors() == []
    assert result == {"data": {"lead": {"id": "b1", "inbox": 3}}}
    assert federation.fetched == ["mail"]
    assert "Seller" not in federation.transport.calls[0][1]


async def test_union_members_a_subgraph_lacks_are_not_asked_of_it(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ parties { ... on Buyer { id } ... on Seller { id } } }")
    assert result == {"data": {"parties": [{"id": "b1"}, {"id": "s1"}]}}
    result = await federation.run(
        "{ folders { ... on Buyer { id inbox } ... on Draft { subject } } }"
    )
    assert federation.subgraph_errors() == []
    assert result == {"data": {"folders": [{"id": "b1", "inbox": 3}, {"subject": "hi"}]}}
    assert federation.fetched == ["mail"]
