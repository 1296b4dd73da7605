"""`@requires` with a field set holding inline fragments on interfaces, nested.

`homes` owns `Listing.feature: Feature` (an interface; `Space` an interface below it,
implemented by `Cellar` and `Attic`). `notes` has the roots `first` and `second`,
`feature` external, and computes `summary` requiring `feature { label ... on Space {
floor ... on Cellar { depth } ... on Attic { light } } }` and `caption` requiring
`feature { ... on Feature { label } }`. `notes` marks `Cellar` `@inaccessible`: a
cellar is never in an answer (its position is null), yet its fields still reach the
subgraph that requires them.
"""

from __future__ import annotations

from typing import Any

CELLAR = {"__typename": "Cellar", "label": "cellar-label", "floor": "-1", "depth": "2m"}
ATTIC = {"__typename": "Attic", "label": "attic-label", "floor": "3", "light": "skylight"}
LISTINGS = {"l1": {"id": "l1", "feature": CELLAR}, "l2": {"id": "l2", "feature": ATTIC}}

SPACES = """
interface Feature { label: String! }
interface Space implements Feature { label: String!  floor: String! }
"""


def _summary(rep: dict[str, Any]) -> Any:
    found: dict[str, Any] = {"id": rep["id"]}
    feature = rep.get("feature")
    if feature is not None:
        found["summary"] = f"{feature['label']}_summary"
        found["caption"] = f"{feature['label']}_caption"
    return found


def _federation(kit: Any) -> Any:
    homes = kit.Service(
        "homes",
        SPACES
        + """
        type Query @shareable { listing: Listing }
        type Listing @key(fields: "id") { id: ID!  feature: Feature }
        type Cellar implements Feature & Space @shareable {
          label: String!  floor: String!  depth: String!
        }
        type Attic implements Feature & Space @shareable {
          label: String!  floor: String!  light: String!
        }
        """,
        root={"listing": LISTINGS["l2"]},
        entities={"Listing": lambda rep: LISTINGS.get(rep["id"])},
    )
    notes = kit.Service(
        "notes",
        SPACES
        + '''
        type Query @shareable { first: Listing  second: Listing }
        type Listing @key(fields: "id") {
          id: ID!
          feature: Feature @external
          summary: String! @requires(fields: """
            feature { label ... on Space { floor ... on Cellar { depth } ... on Attic { light } } }
          """)
          caption: String! @requires(fields: "feature { ... on Feature { label } }")
        }
        type Cellar implements Feature & Space @shareable @inaccessible {
          label: String!  floor: String!  depth: String!
        }
        type Attic implements Feature & Space @shareable {
          label: String!  floor: String!  light: String!
        }
        ''',
        root={"first": {"id": "l1"}, "second": {"id": "l2"}},
        entities={"Listing": _summary},
    )
    return kit.Federation(homes, notes)


async def test_an_inaccessible_member_is_null_and_an_accessible_one_is_typed(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        "{ first { id feature { __typename } } second { id feature { __typename } } }"
    )
    assert result == {
        "data": {
            "first": {"id": "l1", "feature": None},
            "second": {"id": "l2", "feature": {"__typename": "Attic"}},
        }
    }
    assert federation.fetched == ["notes", "homes"]
    assert federation.subgraph_errors() == []


async def test_the_fragments_of_the_requirement_are_sent_with_the_key(kit: Any) -> None:
    federation = _federation(kit)
    assert await federation.run("{ listing { summary } }") == {
        "data": {"listing": {"summary": "attic-label_summary"}}
    }
    assert federation.fetched == ["homes", "notes"]
    [[rep]] = federation.services["notes"].representations
    assert rep["id"] == "l2"
    assert {k: v for k, v in rep["feature"].items() if k != "__typename"} == {
        "label": "attic-label",
        "floor": "3",
        "light": "skylight",
    }
    result = await federation.run("{ listing { feature { __typename } summary } }")
    assert result == {
        "data": {"listing": {"feature": {"__typename": "Attic"}, "summary": "attic-label_summary"}}
    }
    assert federation.subgraph_errors() == []


async def test_a_requirement_from_another_root_goes_out_and_back(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ second { feature { __typename } summary } }")
    assert result == {
        "data": {"second": {"feature": {"__typename": "Attic"}, "summary": "attic-label_summary"}}
    }
    assert federation.fetched == ["notes", "homes", "notes"]
    assert federation.subgraph_errors() == []


async def test_an_inaccessible_member_still_reaches_the_requiring_subgraph(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ first { feature { __typename } summary } }")
    assert result == {"data": {"first": {"feature": None, "summary": "cellar-label_summary"}}}
    assert federation.fetched == ["notes", "homes", "notes"]
    [rep] = federation.services["notes"].representations[-1]
    assert rep["feature"]["depth"] == "2m"
    assert federation.subgraph_errors() == []


async def test_a_requirement_through_a_fragment_on_the_interface_itself(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ second { feature { __typename } caption } }")
    assert result == {
        "data": {"second": {"feature": {"__typename": "Attic"}, "caption": "attic-label_caption"}}
    }
    assert federation.fetched == ["notes", "homes", "notes"]
    [rep] = federation.services["notes"].representations[-1]
    assert {k: v for k, v in rep["feature"].items() if k != "__typename"} == {
        "label": "attic-label"
    }
    assert federation.subgraph_errors() == []
