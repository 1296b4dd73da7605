"""Demo data is valid and self-consistent (it feeds `make seed` and the benchmark), and the
two ways of loading it: through the use case (announced) and COPY (silent)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime

from listings.demo import MARKETS, generate_listings
from listings.domain import PUBLIC_STATUSES, PropertyType
from listings.store import copy_listings
from listings.timezones import zone_for_address
from servicekit.tables import outbox
from sqlalchemy import func, select


def test_generated_listings_are_consistent():
    realtors = [uuid.uuid4() for _ in range(5)]
    now = datetime.now(UTC)
    homes = list(generate_listings(2_000, realtor_ids=realtors, seed=3, now=now))
    assert len({h.id for h in homes}) == len({h.slug for h in homes}) == 2_000
    assert {h.realtor_id for h in homes} == set(realtors)
    assert sum(h.status in PUBLIC_STATUSES for h in homes) > 1_600
    by_market = {m.city: m for m in MARKETS}
    for home in homes:
        d = home.details
        market = by_market[d.address.city]
        assert d.address.state == market.state
        assert d.address.postal_code.startswith(market.zip_prefix)
        assert home.time_zone == zone_for_address("US", market.state)
        assert d.location is not None
        assert abs(d.location.lat - market.lat) < 0.2 and abs(d.location.lng - market.lng) < 0.3
        assert home.created_at <= home.updated_at <= now
        if d.property_type is PropertyType.LAND:
            assert d.bedrooms == 0 and d.living_area_sqft is None
            continue
        assert d.living_area_sqft is not None
        if d.property_type not in (PropertyType.COMMERCIAL, PropertyType.RENTAL):
            per_sqft = d.price.amount / 100 / d.living_area_sqft
            assert 0.4 * market.price_per_sqft < per_sqft < 2.5 * market.price_per_sqft
            assert d.living_area_sqft >= 300 * max(d.bedrooms, 1)
            assert f"{d.bedrooms} bedrooms" in d.description
        if d.property_type is PropertyType.RENTAL:
            assert d.price.amount < 5_000_000  # a monthly rent
    kinds = Counter(h.details.property_type for h in homes)
    assert kinds.most_common(1)[0][0] is PropertyType.RESIDENTIAL


def test_generation_is_deterministic_per_seed():
    realtors = [uuid.UUID(int=1)]
    first = [h.slug for h in generate_listings(20, realtor_ids=realtors, seed=9)]
    again = [h.slug for h in generate_listings(20, realtor_ids=realtors, seed=9)]
    assert first == again


async def test_seeding_through_the_use_case_announces_each_listing(db, service, queries):
    realtors = [uuid.uuid4() for _ in range(3)]
    homes = list(generate_listings(12, realtor_ids=realtors, seed=4))
    assert await service.import_listings(homes, chunk=5) == 12
    found = await queries.by_ids([h.id for h in homes])
    assert {h.id: h.status for h in homes} == {k: v.status for k, v in found.items()}
    async with db.session() as session:
        rows = await session.execute(select(outbox.c.subject, outbox.c.subject_id))
        announced = [(r.subject, r.subject_id) for r in rows]
    assert sorted(announced) == sorted(("listings.listing.created", str(h.id)) for h in homes)


async def test_bulk_copy_loads_rows_without_events(db, queries):
    homes = list(generate_listings(50, realtor_ids=[uuid.uuid4()], seed=8))
    assert await copy_listings(db.url, homes) == 50
    found = await queries.by_ids([h.id for h in homes])
    assert {k: v.slug for k, v in found.items()} == {h.id: h.slug for h in homes}
    async with db.session() as session:
        count = (await session.execute(select(func.count()).select_from(outbox))).scalar_one()
    assert count == 0
