"""`@interfaceObject`s whose interface nobody can resolve, and one whose owner can.

`notices` sees `Notice` as an `@interfaceObject` with a key it cannot resolve
(`resolvable: false`) and `text`, behind the root `notice`; `boards` owns the interface
`Notice` (keyed) but no object implements it anywhere, behind the root `pinned`. And
`boards` sees `Lot` as an `@interfaceObject` behind `lot`, owned by `sales` where `Plot`
implements it. Interface-level fields of an interface object are served by it alone; a
field no reachable subgraph can give is a planning error; a value of an interface with
no object type cannot be completed; a type condition needs the owner's concrete type.
"""

from __future__ import annotations

from typing import Any


def _federation(kit: Any) -> Any:
    notices = kit.Service(
        "notices",
        """
        type Query { notice: Notice }
        type Notice @key(fields: "id", resolvable: false) @interfaceObject { id: ID!  text: String }
        """,
        root={"notice": {"id": "n1", "text": "boiler check"}},
    )
    boards = kit.Service(
        "boards",
        """
        type Query { pinned: Notice  lot: Lot }
        interface Notice @key(fields: "id") { id: ID! }
        type Lot @key(fields: "id") @interfaceObject { id: ID! }
        """,
        # No object implements `Notice`: whatever `pinned` returns cannot be completed.
        root={"pinned": {"__typename": "Notice", "id": "n1"}, "lot": {"id": "p1"}},
        entities={"Lot": lambda rep: {"id": rep["id"]}},
    )
    sales = kit.Service(
        "sales",
        """
        interface Lot @key(fields: "id") { id: ID!  size: Int! }
        type Plot implements Lot @key(fields: "id") { id: ID!  size: Int! }
        """,
        entities={
            "Lot": lambda rep: {"__typename": "Plot", "id": rep["id"]},
            "Plot": lambda rep: {"id": rep["id"]},
        },
    )
    return kit.Federation(notices, boards, sales)


async def test_interface_level_fields_from_the_interface_object_alone(kit: Any) -> None:
    federation = _federation(kit)
    assert await federation.run("{ notice { id text } }") == {
        "data": {"notice": {"id": "n1", "text": "boiler check"}}
    }
    assert federation.fetched == ["notices"]
    assert await federation.run("{ notice { id } }") == {"data": {"notice": {"id": "n1"}}}
    assert federation.fetched == ["notices"]


async def test_a_field_behind_a_key_no_one_can_resolve_is_a_planning_error(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ pinned { text } }")
    assert result["data"] is None
    assert [e["extensions"]["reason"] for e in result["errors"]] == ["NON_RESOLVABLE_KEY"]
    assert federation.fetched == []


async def test_an_interface_without_objects_cannot_be_completed(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ pinned { id } }")
    assert result["data"] == {"pinned": None}
    assert result["errors"]


async def test_an_interface_object_root_and_its_owner(kit: Any) -> None:
    federation = _federation(kit)
    assert await federation.run("{ lot { id } }") == {"data": {"lot": {"id": "p1"}}}
    assert federation.fetched == ["boards"]
    # `size` is the owner's, and its `Plot` returns no size: a non-null field with no value.
    result = await federation.run("{ lot { id size } }")
    assert result["errors"]
    assert await federation.run("{ lot { ... on Plot { id } } }") == {"data": {"lot": {"id": "p1"}}}
    assert federation.fetched == ["boards", "sales"]
