"""Entity fetches under one member of a union are made only for objects of that member.

`feedback` answers `note: Note` (`GuestNote | AgentNote`, each with a `home`) with a
guest's note. The client asks the home's `price` under `GuestNote` and `photo` and
`plan` under `AgentNote`; those three come from `prices`, `photos` and `floorplans` by the
home's key. Only the guest's home is fetched: no agent's note holds a home here, so
`photos` and `floorplans` (whose references fail if called) are not asked at all.
"""

from __future__ import annotations

from typing import Any


def _never(rep: dict[str, Any]) -> Any:
    raise AssertionError(f"no agent's note holds {rep}")


def _federation(kit: Any) -> Any:
    feedback = kit.Service(
        "feedback",
        """
        type Query { note: Note }
        type Home @key(fields: "id") { id: ID! }
        union Note = GuestNote | AgentNote
        type GuestNote { home: Home }
        type AgentNote { home: Home }
        """,
        root={"note": {"__typename": "GuestNote", "home": {"id": "1"}}},
    )
    prices = kit.Service(
        "prices",
        'type Home @key(fields: "id") { id: ID!  price: String! }',
        entities={"Home": lambda rep: {"id": rep["id"], "price": f"asking {rep['id']}00000"}},
    )
    photos = kit.Service(
        "photos",
        'type Home @key(fields: "id") { id: ID!  photo: String! }',
        entities={"Home": _never},
    )
    floorplans = kit.Service(
        "floorplans",
        'type Home @key(fields: "id") { id: ID!  plan: String! }',
        entities={"Home": _never},
    )
    return kit.Federation(feedback, prices, photos, floorplans)


async def test_only_the_member_present_has_its_entities_fetched(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        """
        { note {
            ... on GuestNote { home { price } }
            ... on AgentNote { home { photo plan } } } }
        """
    )
    assert result == {"data": {"note": {"home": {"price": "asking 100000"}}}}
    assert federation.fetched == ["feedback", "prices"]
    assert federation.subgraph_errors() == []
