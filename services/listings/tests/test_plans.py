"""Each search shape can be answered from its index (EXPLAIN; the benchmark shows real plans)."""

from __future__ import annotations

import uuid
from typing import Any

from listings.criteria import ListingQuery, ListingSort, Near
from listings.domain import ListingStatus, PropertyType
from listings.queries import search_statement
from servicekit.auth import Principal, Role
from sqlalchemy import text
from sqlalchemy.dialects import postgresql


def index_names(plan: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(plan, dict):
        if "Index Name" in plan:
            found.add(plan["Index Name"])
        for value in plan.values():
            found |= index_names(value)
    elif isinstance(plan, list):
        for item in plan:
            found |= index_names(item)
    return found


async def test_search_shapes_use_their_indexes(db, service, details):
    owner = Principal(uuid.uuid4(), Role.REALTOR)
    for n in range(30):
        await service.create(
            owner,
            details(f"Home {n} with pool" if n % 3 else f"Home {n}"),
            status=ListingStatus.ACTIVE,
        )
    cases = [
        (
            ListingQuery(text="pool"),
            ListingSort.RELEVANCE,
            {"listings_search", "listings_city_search"},
        ),
        (
            ListingQuery(text="pool", city="Seattle"),
            ListingSort.RELEVANCE,
            {"listings_city_search", "listings_city"},
        ),
        (ListingQuery(), ListingSort.NEWEST, {"listings_newest"}),
        (ListingQuery(), ListingSort.PRICE_ASC, {"listings_price"}),
        (ListingQuery(), ListingSort.PRICE_DESC, {"listings_price"}),
        (ListingQuery(near=Near.of(45.52, -122.67, 5)), ListingSort.NEWEST, {"listings_geo"}),
        (
            ListingQuery(realtor_id=uuid.uuid4(), property_types=(PropertyType.CONDO,)),
            ListingSort.NEWEST,
            {"listings_realtor"},
        ),
    ]
    async with db.uow() as uow:
        # Many more homes without a pool, so the text is selective as it is in real data
        # (on a table where every row matches, any index is as good as the text index).
        columns = (
            (
                await uow.session.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_name = 'listings' AND is_generated = 'NEVER'"
                    )
                )
            )
            .scalars()
            .all()
        )
        varied = {
            "id": "gen_random_uuid()",
            "slug": "slug || '-' || n",
            "title": "'Plain home ' || n",
            "description": "'Quiet street, small garden.'",
        }
        chosen = ", ".join(varied.get(c, c) for c in columns)
        await uow.session.execute(
            text(
                f"INSERT INTO listings ({', '.join(columns)}) "
                f"SELECT {chosen} FROM listings, generate_series(1, 60) AS n"
            )
        )
        await uow.commit()
    async with db.session() as session:
        await session.execute(text("ANALYZE listings"))
        await session.execute(text("SET enable_seqscan = off"))
        for query, sort, indexes in cases:
            statement = search_statement(query, sort, None, limit=20, after=None)
            sql = statement.compile(
                dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
            )
            plan = (await session.execute(text(f"EXPLAIN (FORMAT JSON) {sql}"))).scalar_one()
            assert indexes & index_names(plan), (query, sort, plan)
