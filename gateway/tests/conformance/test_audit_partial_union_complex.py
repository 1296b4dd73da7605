"""A shareable union field whose members differ per subgraph, reached by several roots.

`offers` and `surveys` both resolve `Board` (an entity) and its shareable `panel`, a
shareable value type whose `steps` are a `Step` union: `Viewing | Offer` in `offers`,
`Viewing | Survey` in `surveys`. Each subgraph answers `panel` from its own data, so a
board read through `offers` holds an offer and never a survey; a fragment on the member
the answering subgraph lacks matches nothing there and is not sent. `surveyPanel` only
`surveys` resolves: it is reached by the board's key from there.
"""

from __future__ import annotations

from typing import Any

VIEWING = {"__typename": "Viewing", "label": "Saturday viewing"}
OFFER = {"__typename": "Offer", "amount": "410000"}
SURVEY = {"__typename": "Survey", "score": "4 of 5"}
BOARD = "b1"
ALL = "__typename ... on Viewing { label } ... on Offer { amount } ... on Survey { score }"


def _federation(kit: Any) -> Any:
    offers = kit.Service(
        "offers",
        """
        type Query { offerBoard: Board  board: Board @shareable }
        type Board @key(fields: "id") { id: ID!  panel: Panel @shareable }
        type Panel @shareable { steps: [Step!]! @shareable }
        union Step = Viewing | Offer
        type Viewing @shareable { label: String }
        type Offer { amount: String }
        """,
        root={
            "offerBoard": {"id": BOARD, "panel": {"steps": [VIEWING, OFFER]}},
            "board": {"id": BOARD, "panel": {"steps": [VIEWING]}},
        },
        entities={
            "Board": lambda rep: (
                {"id": BOARD, "panel": {"steps": [VIEWING, OFFER]}} if rep["id"] == BOARD else None
            )
        },
    )
    surveys = kit.Service(
        "surveys",
        """
        type Query { surveyBoard: Board  board: Board @shareable }
        type Board @key(fields: "id") {
          id: ID!
          panel: Panel @shareable
          surveyPanel: Panel
        }
        type Panel @shareable { steps: [Step!]! @shareable }
        union Step = Viewing | Survey
        type Viewing @shareable { label: String }
        type Survey { score: String }
        """,
        root={
            "surveyBoard": {"id": BOARD, "panel": {"steps": [VIEWING, SURVEY]}},
            "board": {"id": BOARD, "panel": {"steps": [VIEWING]}},
        },
        entities={
            "Board": lambda rep: (
                {
                    "id": BOARD,
                    "panel": {"steps": [VIEWING, SURVEY]},
                    "surveyPanel": {"steps": [VIEWING, SURVEY]},
                }
                if rep["id"] == BOARD
                else None
            )
        },
    )
    return kit.Federation(offers, surveys)


async def test_a_root_of_one_subgraph_answers_its_own_members(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(f"{{ offerBoard {{ panel {{ steps {{ {ALL} }} }} }} }}")
    assert result == {"data": {"offerBoard": {"panel": {"steps": [VIEWING, OFFER]}}}}
    assert federation.fetched == ["offers"]
    assert federation.subgraph_errors() == []


async def test_the_other_root_answers_the_other_members(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(f"{{ surveyBoard {{ panel {{ steps {{ {ALL} }} }} }} }}")
    assert result == {"data": {"surveyBoard": {"panel": {"steps": [VIEWING, SURVEY]}}}}
    assert federation.fetched == ["surveys"]
    assert federation.subgraph_errors() == []


async def test_a_fragment_on_a_member_the_subgraph_lacks_matches_nothing(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        "{ offerBoard { panel { steps { __typename ... on Survey { score } } } } }"
    )
    assert result == {
        "data": {
            "offerBoard": {"panel": {"steps": [{"__typename": "Viewing"}, {"__typename": "Offer"}]}}
        }
    }
    assert federation.fetched == ["offers"]
    assert "Survey" not in federation.transport.calls[0][1]


async def test_a_shared_root_answers_the_members_both_have(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(f"{{ board {{ panel {{ steps {{ {ALL} }} }} }} }}")
    assert result == {"data": {"board": {"panel": {"steps": [VIEWING]}}}}
    assert len(federation.fetched) == 1
    assert federation.subgraph_errors() == []


async def test_a_field_only_the_other_subgraph_has_comes_by_the_key(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(f"{{ offerBoard {{ surveyPanel {{ steps {{ {ALL} }} }} }} }}")
    assert result == {"data": {"offerBoard": {"surveyPanel": {"steps": [VIEWING, SURVEY]}}}}
    assert federation.fetched == ["offers", "surveys"]
    assert federation.subgraph_errors() == []
