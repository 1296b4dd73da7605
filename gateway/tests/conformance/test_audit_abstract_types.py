"""Interfaces and unions spread over four subgraphs, with `@include`/`@skip` on fragments.

`catalog` owns the interface `Listing` (`House`, `Flat`) and a union `Seller = Agency |
Owner` where `Agency` has no key; `agencies` keys `Agency` and adds `Agency | Broker` to
the union; `titles` gives a house its `title`; `reviews` sees listings under `Review`.
A listing reached through reviews is an interface position whose fragments go, type by
type, to the subgraph that resolves them, conditions kept; a seller is completed by the
subgraph owning each member, fields of the same name but different types answered under
the client's aliases.
"""

from __future__ import annotations

from typing import Any

import pytest

LISTINGS = [
    {
        "__typename": "House",
        "id": "h1",
        "sku": "sku-h1",
        "seller": {"__typename": "Owner", "email": "o1@x"},
    },
    {
        "__typename": "Flat",
        "id": "f1",
        "sku": "sku-f1",
        "seller": {"__typename": "Agency", "id": "g1"},
    },
]
REVIEWS = {"h1": [1, 2], "f1": [3]}


def _federation(kit: Any) -> Any:
    by_id = {listing["id"]: listing for listing in LISTINGS}
    catalog = kit.Service(
        "catalog",
        """
        type Query { listings: [Listing] }
        interface Listing { id: ID!  sku: String }
        type House implements Listing @key(fields: "id") { id: ID!  sku: String  seller: Seller }
        type Flat implements Listing @key(fields: "id") { id: ID!  sku: String  seller: Seller }
        union Seller = Agency | Owner
        type Agency { id: ID! @shareable }
        type Owner { email: String }
        """,
        root={"listings": LISTINGS},
        entities={"House": lambda rep: by_id[rep["id"]], "Flat": lambda rep: by_id[rep["id"]]},
    )
    titles = kit.Service(
        "titles",
        'type House @key(fields: "id") { id: ID!  title: String }',
        entities={"House": lambda rep: {"id": rep["id"], "title": f"House {rep['id']}"}},
    )
    agencies = kit.Service(
        "agencies",
        """
        type Agency @key(fields: "id") { id: ID!  name: String  email: Email }
        type Email { address: String }
        type Broker @key(fields: "id") { id: ID!  name: String  email: String }
        union Seller = Agency | Broker
        """,
        entities={
            "Agency": lambda rep: {
                "id": rep["id"],
                "name": "Agency 1",
                "email": {"address": "g1@x"},
            },
            "Broker": lambda rep: {"id": rep["id"], "name": "Broker", "email": "b@x"},
        },
    )

    def reviewed(rep: dict[str, Any]) -> dict[str, Any]:
        listing = {"__typename": rep["__typename"], "id": rep["id"]}
        return {
            "id": rep["id"],
            "reviewsCount": len(REVIEWS[rep["id"]]),
            "reviews": [{"id": n, "listing": listing} for n in REVIEWS[rep["id"]]],
        }

    reviews = kit.Service(
        "reviews",
        """
        interface Listing { id: ID!  reviewsCount: Int!  reviews: [Review!]! }
        type House implements Listing @key(fields: "id") { id: ID!  reviewsCount: Int!  reviews: [Review!]! }
        type Flat implements Listing @key(fields: "id") { id: ID!  reviewsCount: Int!  reviews: [Review!]! }
        type Review { id: Int!  listing: Listing }
        """,
        entities={"House": reviewed, "Flat": reviewed},
    )
    return kit.Federation(catalog, titles, agencies, reviews)


def _through_reviews(per_listing: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "listings": [
            {
                "id": lid,
                "reviews": [{"listing": {"id": lid, **per_listing[lid]}}] * len(REVIEWS[lid]),
            }
            for lid in ("h1", "f1")
        ]
    }


HOUSE_TITLE = {"title": "House h1"}
FLAT_SKU = {"sku": "sku-f1"}


@pytest.mark.parametrize(
    ("condition", "house"),
    [
        ("@include(if: $v)", True),
        ("@skip(if: $v)", False),
    ],
)
@pytest.mark.parametrize("value", [True, False])
async def test_a_conditional_fragment_through_an_interface_position(
    kit: Any, condition: str, house: bool, value: bool
) -> None:
    federation = _federation(kit)
    query = (
        f"query($v: Boolean = {str(value).lower()}) {{ listings {{ id reviews {{ listing {{ id"
        f" ... on House {condition} {{ title }} ... on Flat {{ sku }} }} }} }} }}"
    )
    shown = value if house else not value
    expected = _through_reviews({"h1": HOUSE_TITLE if shown else {}, "f1": FLAT_SKU})
    assert await federation.run(query) == {"data": expected}
    assert federation.subgraph_errors() == []
    assert ("titles" in federation.fetched) is shown


@pytest.mark.parametrize(
    ("fragments", "house"),
    [
        ("... on House @skip(if: $v) { title } ... on House { sku }", {"sku": "sku-h1"}),
        (
            "... on House @include(if: $v) { title ... on House { sku } }",
            {**HOUSE_TITLE, "sku": "sku-h1"},
        ),
        ("... on House @include(if: $v) { title ... on House @skip(if: $v) { sku } }", HOUSE_TITLE),
    ],
)
async def test_nested_conditions_on_the_same_type(
    kit: Any, fragments: str, house: dict[str, Any]
) -> None:
    federation = _federation(kit)
    query = (
        "query($v: Boolean = true) { listings { id reviews { listing { id "
        f"{fragments} ... on Flat {{ sku }} }} }} }} }}"
    )
    assert await federation.run(query) == {"data": _through_reviews({"h1": house, "f1": FLAT_SKU})}


@pytest.mark.parametrize(
    ("fragment", "owner", "agency"),
    [
        (
            "... on Agency { id name } ... on Owner { email } ... on Broker { name }",
            {"email": "o1@x"},
            {"id": "g1", "name": "Agency 1"},
        ),
        (
            "... on Agency { mail: email { address } } ... on Owner { text: email }"
            " ... on Broker { text: email }",
            {"text": "o1@x"},
            {"mail": {"address": "g1@x"}},
        ),
    ],
)
async def test_union_members_of_different_subgraphs_complete_a_seller(
    kit: Any, fragment: str, owner: dict[str, Any], agency: dict[str, Any]
) -> None:
    federation = _federation(kit)
    query = (
        "{ listings { id reviews { listing { id ... on House { seller { ...S } }"
        " ... on Flat { seller { ...S } } } } } } fragment S on Seller { " + fragment + " }"
    )
    expected = _through_reviews({"h1": {"seller": owner}, "f1": {"seller": agency}})
    assert await federation.run(query) == {"data": expected}
    assert federation.subgraph_errors() == []


async def test_interface_fields_and_a_member_fragment_from_two_subgraphs(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        "{ listings { sku ... on Listing { sku } ... on House { sku title reviewsCount } } }"
    )
    assert result == {
        "data": {
            "listings": [
                {"sku": "sku-h1", "title": "House h1", "reviewsCount": 2},
                {"sku": "sku-f1"},
            ]
        }
    }
