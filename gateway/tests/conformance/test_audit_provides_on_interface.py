"""`@provides` through interfaces: a root of an interface type providing a list of another.

`brochures` and `listings` both resolve the shareable root `brochure: Brochure` (an
interface implemented by `Flyer`); `listings` provides `rooms { id name }` on it, the
rooms being `Room` interface members (`Bedroom`, `Kitchen`) external there. `layouts`
owns the rooms (entities there, with `size`) and `Flyer` as an entity. Ids and names
come with the root from `listings`, never from `brochures`; a kitchen's size needs a
second fetch from `layouts`, and a bedroom is never resolved there.
"""

from __future__ import annotations

from typing import Any

ROOMS = {
    "r1": {"__typename": "Bedroom", "id": "r1", "name": "Blue room", "size": 12},
    "r2": {"__typename": "Kitchen", "id": "r2", "name": "Galley", "size": 6},
}
FLYER = {"__typename": "Flyer", "id": "f1", "rooms": ["r1", "r2"]}


def _federation(kit: Any) -> Any:
    brochures = kit.Service(
        "brochures",
        """
        type Query { brochure: Brochure @shareable }
        interface Brochure { id: ID! }
        type Flyer implements Brochure { id: ID! @shareable }
        """,
        root={"brochure": {"__typename": "Flyer", "id": "f1"}},
    )
    listings = kit.Service(
        "listings",
        """
        type Query { brochure: Brochure @shareable @provides(fields: "rooms { id name }") }
        interface Brochure { id: ID!  rooms: [Room] }
        interface Room { id: ID!  name: String }
        type Flyer implements Brochure { id: ID! @shareable  rooms: [Room] @external }
        type Bedroom implements Room { id: ID! @external  name: String @external }
        type Kitchen implements Room { id: ID! @external  name: String @external }
        """,
        root={
            "brochure": lambda args: {
                "__typename": "Flyer",
                "id": "f1",
                "rooms": [
                    {k: v for k, v in ROOMS[r].items() if k != "size"} for r in FLYER["rooms"]
                ],
            }
        },
    )

    def flyer(rep: dict[str, Any]) -> Any:
        return {"id": rep["id"], "rooms": [ROOMS[r] for r in FLYER["rooms"]]}

    def kitchen(rep: dict[str, Any]) -> Any:
        return ROOMS[rep["id"]]

    def bedroom(rep: dict[str, Any]) -> Any:
        raise AssertionError("no bedroom's size was asked for")

    layouts = kit.Service(
        "layouts",
        """
        interface Brochure { id: ID!  rooms: [Room] }
        interface Room { id: ID!  name: String }
        type Flyer implements Brochure @key(fields: "id") { id: ID!  rooms: [Room] @shareable }
        type Bedroom implements Room @key(fields: "id") { id: ID!  name: String @shareable  size: Int }
        type Kitchen implements Room @key(fields: "id") { id: ID!  name: String @shareable  size: Int }
        """,
        entities={"Flyer": flyer, "Kitchen": kitchen, "Bedroom": bedroom},
    )
    return kit.Federation(brochures, listings, layouts)


async def test_the_provided_list_comes_with_the_root(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ brochure { id rooms { id name } } }")
    assert result == {
        "data": {
            "brochure": {
                "id": "f1",
                "rooms": [{"id": "r1", "name": "Blue room"}, {"id": "r2", "name": "Galley"}],
            }
        }
    }
    assert federation.fetched == ["listings"]
    assert federation.subgraph_errors() == []


async def test_a_member_field_not_provided_is_fetched_from_its_owner(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ brochure { id rooms { id name ... on Kitchen { size } } } }")
    assert result == {
        "data": {
            "brochure": {
                "id": "f1",
                "rooms": [
                    {"id": "r1", "name": "Blue room"},
                    {"id": "r2", "name": "Galley", "size": 6},
                ],
            }
        }
    }
    assert len(federation.fetched) == 2 and federation.fetched[-1] == "layouts"
    assert federation.subgraph_errors() == []
