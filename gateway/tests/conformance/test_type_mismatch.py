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
    result = await federation.run("{ lead { id ... on Buyer { inbox } } }")
    assert federation.subgraph_errors() == []
    assert result == {"data": {"lead": {"id": "b1", "inbox": 3}}}
    assert federation.fetched == ["mail"]
    assert "Seller" not in federation.transport.calls[0][1]
    # Asking for a member mail's `lead` cannot be sends the field to crm, which can.
    result = await federation.run(
        "{ lead { id ... on Seller { contact } ... on Buyer { inbox } } }"
    )
    assert federation.subgraph_errors() == []
    assert result == {"data": {"lead": {"id": "b1", "inbox": 3}}}
    assert federation.fetched == ["crm", "mail"]


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


def _digest(kit: Any) -> Any:
    # `alerts` knows only the `Visit` member of `Item`; `feed` knows all three.
    alerts = kit.Service(
        "alerts",
        """
        type Query { inbox: Digest @shareable }
        type Digest @shareable { items: [Item!]!  badge: Int }
        union Item = Visit
        type Visit @shareable { id: ID!  when: String }
        """,
        root={"inbox": {"badge": 2, "items": [{"__typename": "Visit", "id": "v1"}]}},
    )
    feed = kit.Service(
        "feed",
        """
        type Query { inbox: Digest @shareable }
        type Digest @shareable { items: [Item!]! }
        union Item = Visit | Offer | Note
        type Visit @shareable { id: ID!  when: String }
        type Offer { id: ID!  amount: Int }
        type Note { id: ID!  text: String }
        """,
        root={
            "inbox": {
                "items": [
                    {"__typename": "Visit", "id": "v1", "when": "noon"},
                    {"__typename": "Offer", "id": "o1", "amount": 5},
                    {"__typename": "Note", "id": "n1", "text": "call back"},
                ]
            }
        },
    )
    return kit.Federation(alerts, feed)


async def test_a_shareable_path_is_served_where_every_selected_member_can_be(kit: Any) -> None:
    federation = _digest(kit)
    result = await federation.run(
        "{ inbox { items { __typename ... on Visit { id } ... on Offer { amount } "
        "... on Note { text } } } }"
    )
    assert result == {
        "data": {
            "inbox": {
                "items": [
                    {"__typename": "Visit", "id": "v1"},
                    {"__typename": "Offer", "amount": 5},
                    {"__typename": "Note", "text": "call back"},
                ]
            }
        }
    }
    assert federation.fetched == ["feed"]
    # Only `Visit` fields: either subgraph can serve it; the first in composition order does.
    result = await federation.run("{ inbox { items { ... on Visit { id } } } }")
    assert federation.fetched == ["alerts"]


async def test_members_only_one_subgraph_has_come_from_it_and_the_rest_is_merged(
    kit: Any,
) -> None:
    federation = _digest(kit)
    result = await federation.run("{ inbox { badge items { ... on Offer { amount } } } }")
    assert result == {"data": {"inbox": {"badge": 2, "items": [{}, {"amount": 5}, {}]}}}
    assert sorted(federation.fetched) == ["alerts", "feed"]
    assert federation.subgraph_errors() == []
