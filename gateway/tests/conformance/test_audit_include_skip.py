"""`@include`/`@skip` on fields that need a chain of `@requires`: the chain runs only when asked.

`tier` needs `rent` (from `catalog`) through `pricing`; `badge` and `warning` need `tier`
in `labels`. A field the variables leave out plans no fetch for it nor for what only it
required, so a subgraph resolver that must never run is never called; a field kept in
runs the whole chain, defaults of the variables included.
"""

from __future__ import annotations

from typing import Any

import pytest


def _labels_federation(kit: Any) -> Any:
    def never(_: str) -> Any:
        raise AssertionError("a field left out by @include/@skip reached its subgraph")

    def label(rep: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {"id": rep["id"]}
        if "tier" in rep:
            found.update(badge=rep["tier"] == "premium", warning=rep["tier"] != "premium")
        return found

    catalog = kit.Service(
        "catalog",
        """
        type Query { home: Home }
        type Home @key(fields: "id") { id: ID!  rent: Float! }
        """,
        root={"home": {"id": "h1", "rent": 699.99}},
        entities={"Home": lambda rep: {"id": rep["id"], "rent": 699.99}},
    )
    pricing = kit.Service(
        "pricing",
        """
        type Home @key(fields: "id") {
          id: ID!
          rent: Float! @external
          tier: String! @requires(fields: "rent")
        }
        """,
        entities={
            "Home": lambda rep: {
                "id": rep["id"],
                "tier": "premium" if rep["rent"] > 500 else "basic",
            }
        },
    )
    labels = kit.Service(
        "labels",
        """
        type Home @key(fields: "id") {
          id: ID!
          tier: String! @external
          badge: Boolean! @requires(fields: "tier")
          warning: Boolean! @requires(fields: "tier")
        }
        """,
        entities={"Home": label},
    )
    federation = kit.Federation(catalog, pricing, labels)
    federation.never = never
    return federation


@pytest.mark.parametrize(
    "query",
    [
        "query($on: Boolean = false) { home { rent badge @include(if: $on) } }",
        "query($off: Boolean = true) { home { rent badge @skip(if: $off) } }",
    ],
)
async def test_a_field_left_out_by_its_variable_fetches_nothing_of_its_chain(
    kit: Any, query: str
) -> None:
    federation = _labels_federation(kit)
    assert await federation.run(query) == {"data": {"home": {"rent": 699.99}}}
    assert federation.fetched == ["catalog"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("query($on: Boolean = true) { home { rent badge @include(if: $on) } }", "badge"),
        ("query($off: Boolean = false) { home { rent warning @skip(if: $off) } }", "warning"),
    ],
)
async def test_a_field_kept_by_its_variable_runs_the_whole_requires_chain(
    kit: Any, query: str, field: str
) -> None:
    federation = _labels_federation(kit)
    expected = {"badge": True} if field == "badge" else {"warning": False}
    assert await federation.run(query) == {"data": {"home": {"rent": 699.99, **expected}}}
    assert federation.fetched == ["catalog", "pricing", "labels"]
    _, _, variables = federation.transport.calls[2]
    assert variables["_reps0"] == [{"__typename": "Home", "id": "h1", "tier": "premium"}]


async def test_a_variable_given_by_the_client_overrides_its_default(kit: Any) -> None:
    federation = _labels_federation(kit)
    result = await federation.run(
        "query($on: Boolean = true) { home { rent badge @include(if: $on) } }", {"on": False}
    )
    assert result == {"data": {"home": {"rent": 699.99}}}
    assert federation.fetched == ["catalog"]
