"""Progressive `@override(from:, label:)`: the field moves per request, as the label says.

`percent(N)` labels are drawn per request from the engine's random source (seeded here,
so the split is exact and repeatable); other labels are feature flags, on when the
engine is configured with them. The plans of both decisions are cached side by side.
"""

from __future__ import annotations

import random
from typing import Any

PRICES_OLD = {"p1": 10, "p2": 20}
PRICES_NEW = {"p1": 11, "p2": 21}


def _shop(kit: Any, label: str, **engine: Any) -> Any:
    catalog = kit.Service(
        "catalog",
        f"""
        type Query {{ products: [Product!]! }}
        type Product @key(fields: "id") {{
          id: ID!
          name: String!
          price: Int! @override(from: "pricing", label: "{label}")
        }}
        """,
        root={
            "products": [
                {"id": "p1", "name": "Lamp", "price": PRICES_NEW["p1"]},
                {"id": "p2", "name": "Desk", "price": PRICES_NEW["p2"]},
            ]
        },
        entities={"Product": lambda rep: {"id": rep["id"], "price": PRICES_NEW[rep["id"]]}},
    )
    pricing = kit.Service(
        "pricing",
        """
        type Product @key(fields: "id") { id: ID!  price: Int! }
        """,
        entities={"Product": lambda rep: {"id": rep["id"], "price": PRICES_OLD[rep["id"]]}},
    )
    return kit.Federation(catalog, pricing, **engine)


QUERY = "{ products { name price } }"
OLD = {"data": {"products": [{"name": "Lamp", "price": 10}, {"name": "Desk", "price": 20}]}}
NEW = {"data": {"products": [{"name": "Lamp", "price": 11}, {"name": "Desk", "price": 21}]}}


async def test_a_feature_flag_label_moves_the_field_only_when_configured(kit: Any) -> None:
    off = _shop(kit, "new-pricing")
    assert await off.run(QUERY) == OLD
    assert off.fetched == ["catalog", "pricing"]
    assert off.transport.calls[1][1] == (
        "query($_reps0: [_Any!]!) { _0: _entities(representations: $_reps0) "
        "{ ... on Product { price } } }"
    )
    on = _shop(kit, "new-pricing", override_labels=["new-pricing"])
    assert await on.run(QUERY) == NEW
    assert on.fetched == ["catalog"]
    assert on.transport.calls[0][1] == "query { products { name price } }"


async def test_percent_labels_split_requests_by_the_seeded_draw(kit: Any) -> None:
    seed = 1234
    federation = _shop(kit, "percent(30)", override_random=random.Random(seed))
    draws = random.Random(seed)
    expected = [NEW if draws.random() * 100 < 30 else OLD for _ in range(40)]
    answers = [await federation.run(QUERY) for _ in range(40)]
    assert answers == expected
    assert 0 < sum(answer == NEW for answer in answers) < 40
    # Two decisions, two plans: every later request was a cache hit.
    assert federation.engine.plan_cache_misses == 2


async def test_percent_zero_and_hundred_are_never_and_always(kit: Any) -> None:
    never = _shop(kit, "percent(0)", override_random=random.Random(7))
    always = _shop(kit, "percent(100)", override_random=random.Random(7))
    for _ in range(5):
        assert await never.run(QUERY) == OLD
        assert await always.run(QUERY) == NEW


async def test_a_decimal_percentage_is_understood(kit: Any) -> None:
    federation = _shop(kit, "percent(99.5)", override_random=random.Random(3))
    draws = random.Random(3)
    expected = [NEW if draws.random() * 100 < 99.5 else OLD for _ in range(10)]
    assert [await federation.run(QUERY) for _ in range(10)] == expected
