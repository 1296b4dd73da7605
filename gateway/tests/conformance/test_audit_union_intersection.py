"""Two unions of the same name with different members: only their intersection resolves.

`homes` has `Pick = House | Plot` and `deals` has `Pick = House | Barge`; both resolve
the shareable roots and `Desk` (a shareable value type) fields. The supergraph's union
holds all three, but a subgraph can only ever return its own members: a `Barge`
fragment on a field `homes` answers selects nothing, a `Plot` one nothing from `deals`.
`homes` types `featured` as the concrete `House` where `deals` has the union (the
supergraph keeps the union). No keys: every value comes from the one fetch that found it.
"""

from __future__ import annotations

from typing import Any

import pytest

HOUSE = {"__typename": "House", "title": "Mill house"}
PLOT = {"__typename": "Plot", "title": "Corner plot"}


def _federation(kit: Any) -> Any:
    homes = kit.Service(
        "homes",
        """
        union Pick = House | Plot
        union DeskPick = House | Plot
        type House { title: String! @shareable }
        type Plot { title: String! @shareable }
        type Query {
          pick: Pick @shareable
          featured: House @shareable
          plot: Pick @shareable
          desk: Desk @shareable
        }
        type Desk { pick: DeskPick @shareable  featured: House @shareable  plot: DeskPick @shareable }
        """,
        root={
            "pick": HOUSE,
            "featured": HOUSE,
            "plot": PLOT,
            "desk": {"pick": HOUSE, "featured": HOUSE, "plot": PLOT},
        },
    )
    deals = kit.Service(
        "deals",
        """
        type Query { pick: Pick @shareable  featured: Pick @shareable  desk: Desk @shareable }
        union Pick = House | Barge
        union DeskPick = House | Barge
        type Barge { title: String! @shareable }
        type House { title: String! @shareable }
        type Desk { pick: DeskPick @shareable  featured: DeskPick @shareable }
        """,
        root={"pick": HOUSE, "featured": HOUSE, "desk": {"pick": HOUSE, "featured": HOUSE}},
    )
    return kit.Federation(homes, deals)


ALL_MEMBERS = "{ __typename ... on Plot { title } ... on Barge { title } ... on House { title } }"


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("... on Barge { title }", {}),
        ("... on House { title }", {"title": "Mill house"}),
        ("... on House { title } ... on Barge { title }", {"title": "Mill house"}),
    ],
)
async def test_a_root_union_answers_only_the_members_it_has(
    kit: Any, selection: str, expected: dict[str, Any]
) -> None:
    federation = _federation(kit)
    result = await federation.run(f"{{ pick {{ {selection} }} }}")
    assert result == {"data": {"pick": expected}}
    assert len(federation.fetched) == 1
    assert federation.subgraph_errors() == []


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("... on Barge { title }", {}),
        ("... on House { title }", {"title": "Mill house"}),
        ("... on House { title } ... on Barge { title }", {"title": "Mill house"}),
    ],
)
async def test_a_nested_union_answers_only_the_members_it_has(
    kit: Any, selection: str, expected: dict[str, Any]
) -> None:
    federation = _federation(kit)
    result = await federation.run(f"{{ desk {{ pick {{ {selection} }} }} }}")
    assert result == {"data": {"desk": {"pick": expected}}}
    assert len(federation.fetched) == 1
    assert federation.subgraph_errors() == []


async def test_members_of_one_side_and_a_concrete_field_together(kit: Any) -> None:
    federation = _federation(kit)
    query = f"{{ desk {{ pick {ALL_MEMBERS} featured {ALL_MEMBERS} plot {ALL_MEMBERS} }} }}"
    expected = {
        "data": {
            "desk": {
                "pick": {"__typename": "House", "title": "Mill house"},
                "featured": {"__typename": "House", "title": "Mill house"},
                "plot": {"__typename": "Plot", "title": "Corner plot"},
            }
        }
    }
    # The audit asks it twice: the second time from the plan cache.
    for _ in range(2):
        assert await federation.run(query) == expected
        assert federation.subgraph_errors() == []
