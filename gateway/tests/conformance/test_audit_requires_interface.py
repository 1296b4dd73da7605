"""`@requires` of a field of an interface type, and of one member's field only.

`buyers` computes `Buyer.city` requiring `address { id }` (an `Address` interface) and
`Buyer.region` requiring `address { ... on OfficeAddress { id } }`; `address` is
external there and owned by `contacts`, whose `Address` has a third member
(`SpareAddress`). Both have a root returning a buyer. The required address goes out with
the key, whatever its type; for a home address the office fragment selects nothing, so
the region is null.
"""

from __future__ import annotations

from typing import Any

ADDRESSES = {
    "ad1": {"__typename": "HomeAddress", "id": "ad1", "city": "Leeds", "region": "Yorkshire"},
    "ad2": {"__typename": "OfficeAddress", "id": "ad2", "city": "York", "region": "North"},
}
BUYERS = {"b1": {"id": "b1", "address": "ad1"}, "b2": {"id": "b2", "address": "ad2"}}


def _buyer(rep: dict[str, Any]) -> Any:
    found: dict[str, Any] = {"id": rep["id"], "name": rep["id"].upper()}
    address = rep.get("address")
    if address is not None:
        place = ADDRESSES.get(address.get("id", ""))
        found["city"] = place["city"] if place else None
        found["region"] = place["region"] if place else None
    return found


def _federation(kit: Any) -> Any:
    buyers = kit.Service(
        "buyers",
        """
        type Query { firstBuyer: Buyer }
        interface Address { id: ID! }
        type HomeAddress implements Address @key(fields: "id") { id: ID!  city: String @shareable }
        type OfficeAddress implements Address @key(fields: "id") { id: ID!  city: String @shareable }
        type Buyer @key(fields: "id") {
          id: ID!
          name: String! @shareable
          address: Address @external
          city: String @requires(fields: "address { id }")
          region: String @requires(fields: "address { ... on OfficeAddress { id } }")
        }
        """,
        root={"firstBuyer": {"id": "b1", "name": "B1"}},
        entities={
            "Buyer": _buyer,
            "HomeAddress": lambda rep: ADDRESSES[rep["id"]],
            "OfficeAddress": lambda rep: ADDRESSES[rep["id"]],
        },
    )

    def contact(rep: dict[str, Any]) -> Any:
        buyer = BUYERS[rep["id"]]
        place = ADDRESSES[buyer["address"]]
        return {
            "id": buyer["id"],
            "address": {"__typename": place["__typename"], "id": place["id"]},
        }

    contacts = kit.Service(
        "contacts",
        """
        type Query { secondBuyer: Buyer }
        interface Address { id: ID! }
        type HomeAddress implements Address @key(fields: "id") { id: ID! }
        type OfficeAddress implements Address @key(fields: "id") { id: ID! }
        type SpareAddress implements Address @key(fields: "id") { id: ID! }
        type Buyer @key(fields: "id") { id: ID!  address: Address }
        """,
        root={"secondBuyer": contact({"id": "b2"})},
        entities={"Buyer": contact},
    )
    return kit.Federation(buyers, contacts)


async def test_a_requirement_on_the_interface_from_the_other_subgraph(kit: Any) -> None:
    federation = _federation(kit)
    assert await federation.run("{ firstBuyer { city } }") == {
        "data": {"firstBuyer": {"city": "Leeds"}}
    }
    assert federation.fetched == ["buyers", "contacts", "buyers"]
    rep = federation.services["buyers"].representations[-1][0]
    assert rep["id"] == "b1" and rep["address"]["id"] == "ad1"
    assert federation.subgraph_errors() == []


async def test_a_requirement_on_the_interface_from_the_root(kit: Any) -> None:
    federation = _federation(kit)
    assert await federation.run("{ secondBuyer { city } }") == {
        "data": {"secondBuyer": {"city": "York"}}
    }
    assert federation.fetched == ["contacts", "buyers"]
    assert federation.subgraph_errors() == []


async def test_a_member_fragment_the_address_does_not_match_requires_nothing(kit: Any) -> None:
    federation = _federation(kit)
    assert await federation.run("{ firstBuyer { region } }") == {
        "data": {"firstBuyer": {"region": None}}
    }
    assert federation.fetched == ["buyers", "contacts", "buyers"]
    rep = federation.services["buyers"].representations[-1][0]
    assert {k: v for k, v in rep["address"].items() if k != "__typename"} == {}
    assert federation.subgraph_errors() == []


async def test_the_interface_itself_from_either_root(kit: Any) -> None:
    federation = _federation(kit)
    assert await federation.run("{ firstBuyer { address { __typename id } } }") == {
        "data": {"firstBuyer": {"address": {"__typename": "HomeAddress", "id": "ad1"}}}
    }
    assert federation.fetched == ["buyers", "contacts"]
    assert await federation.run("{ secondBuyer { address { __typename id } } }") == {
        "data": {"secondBuyer": {"address": {"__typename": "OfficeAddress", "id": "ad2"}}}
    }
    assert federation.fetched == ["contacts"]
    assert federation.subgraph_errors() == []
