"""Search: each filter and sort against a known set of listings, and keyset pagination."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from listings.domain import ListingDetails, ListingStatus, PropertyType
from servicekit.auth import Principal, Role

SEARCH = """
query($f: ListingFilter, $s: ListingSort, $first: Int, $after: String) {
  listings(filter: $f, sort: $s, first: $first, after: $after) {
    totalCount
    edges { cursor node { id title price { amount } } }
    pageInfo { hasNextPage endCursor hasPreviousPage startCursor }
  }
}
"""


@pytest.fixture
async def homes(service, details) -> dict[str, str]:
    """A known data set: name → listing id."""
    owner = Principal(uuid.uuid4(), Role.REALTOR)
    other = Principal(uuid.uuid4(), Role.REALTOR)
    specs: list[tuple[str, Principal, ListingDetails, ListingStatus]] = [
        ("A", owner, details("Modern loft downtown", description="Exposed brick and tall windows.",
                             kind=PropertyType.CONDO, price=50_000_000, beds=1, baths=1.0, sqft=800,
                             at=(45.527, -122.681)), ListingStatus.ACTIVE),
        ("B", owner, details("Family home", description="Large backyard with a swimming pool.",
                             postal="97214", price=75_000_000, beds=4, baths=3.0, sqft=2400,
                             at=(45.512, -122.643)), ListingStatus.ACTIVE),
        ("C", owner, details("Townhouse near the park", description="Community pool nearby.",
                             city="Seattle", state="WA", postal="98101", kind=PropertyType.TOWNHOUSE,
                             price=65_000_000, beds=3, baths=2.5, sqft=1600, at=(47.61, -122.33)),
         ListingStatus.ACTIVE),
        ("D", owner, details("Ranch on acreage", description="Horse barn and pasture.",
                             city="Bend", postal="97701", price=90_000_000, beds=3, baths=2.0,
                             sqft=2000, at=(44.058, -121.315)), ListingStatus.ACTIVE),
        ("E", other, details("Pool view condo", description="Corner unit.", city="Seattle",
                             state="WA", postal="98109", kind=PropertyType.CONDO, price=40_000_000,
                             beds=2, baths=2.0, sqft=1000, at=(47.62, -122.35)), ListingStatus.ACTIVE),
        ("F", owner, details("Draft with pool", price=30_000_000), ListingStatus.DRAFT),
        ("G", owner, details("Pending cottage", price=30_000_000), ListingStatus.COMING_SOON),
    ]  # fmt: skip
    ids: dict[str, str] = {}
    for name, who, spec, status in specs:
        listing = await service.create(who, spec, status=status)
        ids[name] = str(listing.id)
    pending = Principal(uuid.uuid4(), Role.ADMIN)
    from listings.domain import ListingChanges

    await service.update(pending, uuid.UUID(ids["G"]), ListingChanges(status=ListingStatus.ACTIVE))
    await service.update(pending, uuid.UUID(ids["G"]), ListingChanges(status=ListingStatus.PENDING))
    ids["owner"] = str(owner.user_id)
    ids["other"] = str(other.user_id)
    return ids


async def search(api, f: dict[str, Any] | None = None, s: str | None = None, **kw: Any):
    data = await api.data(SEARCH, {"f": f, "s": s, **kw})
    return data["listings"]


def names(homes: dict[str, str], result: dict[str, Any]) -> list[str]:
    by_id = {v: k for k, v in homes.items()}
    return [by_id[e["node"]["id"]] for e in result["edges"]]


FILTER_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"city": "portland"}, {"A", "B"}),
    ({"state": "wa"}, {"C", "E"}),
    ({"postalCode": "97214"}, {"B"}),
    ({"propertyTypes": ["CONDO"]}, {"A", "E"}),
    ({"propertyTypes": ["CONDO", "TOWNHOUSE"]}, {"A", "C", "E"}),
    ({"minPrice": 60_000_000, "maxPrice": 80_000_000}, {"B", "C"}),
    ({"minPrice": 85_000_000}, {"D"}),
    ({"maxPrice": 45_000_000}, {"E"}),
    ({"minBedrooms": 3}, {"B", "C", "D"}),
    ({"minBathrooms": 2.5}, {"B", "C"}),
    ({"minSqft": 1600}, {"B", "C", "D"}),
    ({"near": {"lat": 45.52, "lng": -122.67, "radiusKm": 10}}, {"A", "B"}),
    ({"near": {"lat": 47.615, "lng": -122.34, "radiusKm": 5}}, {"C", "E"}),
    ({"near": {"lat": 45.52, "lng": -122.67, "radiusKm": 300}}, {"A", "B", "C", "D", "E"}),
    ({"statuses": ["PENDING"]}, {"G"}),
    ({"statuses": ["ACTIVE", "PENDING"], "city": "Portland"}, {"A", "B", "G"}),
    ({"text": "pool"}, {"B", "C", "E"}),
    ({"text": "bend"}, {"D"}),
    ({"text": "pool", "state": "WA"}, {"C", "E"}),
    ({"text": "helicopter"}, set()),
]


async def test_each_filter(api, homes):
    for f, expected in FILTER_CASES:
        result = await search(api, f)
        assert set(names(homes, result)) == expected, f
        assert result["totalCount"] == len(expected), f


async def test_realtor_filter(api, homes):
    result = await search(api, {"realtorId": homes["other"]})
    assert names(homes, result) == ["E"]


async def test_relevance_ranks_title_above_description(api, homes):
    result = await search(api, {"text": "pool"}, "RELEVANCE")
    assert names(homes, result)[0] == "E", "the match in the title ranks first"


SORT_CASES = [
    ("PRICE_ASC", ["E", "A", "C", "B", "D"]),
    ("PRICE_DESC", ["D", "B", "C", "A", "E"]),
    ("NEWEST", ["E", "D", "C", "B", "A"]),
    ("RELEVANCE", ["E", "D", "C", "B", "A"]),  # without text: newest first
]


async def test_each_sort_and_its_pages(api, homes):
    for sort, expected in SORT_CASES:
        assert names(homes, await search(api, None, sort)) == expected, sort
        seen: list[str] = []
        after = None
        while True:
            page = await search(api, None, sort, first=2, after=after)
            seen += names(homes, page)
            assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == expected, sort


async def test_text_relevance_pages(api, homes):
    first = await search(api, {"text": "pool"}, "RELEVANCE", first=1)
    rest = await search(
        api, {"text": "pool"}, "RELEVANCE", first=10, after=first["pageInfo"]["endCursor"]
    )
    everything = names(homes, first) + names(homes, rest)
    assert everything[0] == "E" and sorted(everything) == ["B", "C", "E"]


BAD_FILTERS: list[tuple[dict[str, Any], str]] = [
    ({"minPrice": 10, "maxPrice": 5}, "filter.minPrice"),
    ({"minPrice": -1}, "filter.minPrice"),
    ({"minSqft": -1}, "filter.minSqft"),
    ({"near": {"lat": 45.0, "lng": -122.0, "radiusKm": 0}}, "filter.near.radiusKm"),
    ({"near": {"lat": 95.0, "lng": -122.0, "radiusKm": 5}}, "filter.near.lat"),
    ({"text": "x" * 201}, "filter.text"),
    ({"realtorId": "not-an-id"}, "filter.realtorId"),
    ({"statuses": []}, "filter.statuses"),
]


async def test_bad_filters_are_bad_user_input_naming_the_filter_field(api):
    for f, field in BAD_FILTERS:
        body = await api.call(SEARCH, {"f": f})
        extensions = body["errors"][0]["extensions"]
        assert extensions["code"] == "BAD_USER_INPUT", f
        assert extensions["field"] == field, f


async def test_bad_cursors_are_bad_user_input(api, homes):
    page = await search(api, None, "PRICE_ASC", first=1)
    for after in ("garbage!", page["pageInfo"]["endCursor"]):
        body = await api.call(SEARCH, {"s": "NEWEST", "after": after})
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}
    too_big = await api.call(SEARCH, {"first": 101})
    assert too_big["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_pagination_with_inserts_between_pages_has_no_duplicates_or_gaps(
    api, service, queries, details
):
    """Listings added while a client pages (before and after its cursor, at every price)
    never make a page repeat or skip one that was there. The inserts happen between the
    page requests, so every run interleaves the same way."""
    owner = Principal(uuid.uuid4(), Role.REALTOR)
    rng = random.Random(7)
    prices = [rng.randrange(1_000, 2_000) * 10_000 for _ in range(40)]
    prices[5] = prices[6] = prices[7]  # ties are broken by id
    original = set()
    for i, price in enumerate(prices):
        listing = await service.create(
            owner, details(f"Home {i}", price=price), status=ListingStatus.ACTIVE
        )
        original.add(str(listing.id))

    late = 0
    for sort in ("NEWEST", "PRICE_ASC", "PRICE_DESC"):
        seen: list[str] = []
        after = None
        while True:
            page = await search(api, None, sort, first=6, after=after)
            seen += [e["node"]["id"] for e in page["edges"]]
            for _ in range(2):
                late += 1
                await service.create(
                    owner,
                    details(f"Late {late}", price=rng.randrange(1_000, 2_000) * 10_000),
                    status=ListingStatus.ACTIVE,
                )
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert len(seen) == len(set(seen)), f"{sort}: no listing appears twice"
        assert original <= set(seen), f"{sort}: no listing that existed is skipped"
        found = await queries.by_ids([uuid.UUID(i) for i in seen if i in original])
        shown = [found[uuid.UUID(i)].details.price.amount for i in seen if i in original]
        ordered = sorted(shown, reverse=sort == "PRICE_DESC")
        assert sort == "NEWEST" or shown == ordered, f"{sort}: in order"
    assert late > 20, "listings were added between pages"


async def test_total_count_is_counted_when_selected_even_through_fragments(api, homes):
    """The count is a second statement, made when `totalCount` is selected, however the
    document selects it (directly, in an inline fragment, in a named one)."""
    portland = {"f": {"city": "Portland"}}
    shapes = {
        "plain": "query($f: ListingFilter) { listings(filter: $f) { totalCount } }",
        "inline": "query($f: ListingFilter) { listings(filter: $f) { ... on ListingConnection "
        "{ totalCount } } }",
        "named": "query($f: ListingFilter) { listings(filter: $f) { ...Counted } } "
        "fragment Counted on ListingConnection { totalCount }",
    }
    for name, query in shapes.items():
        assert (await api.data(query, portland))["listings"]["totalCount"] == 2, name
