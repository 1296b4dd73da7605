"""Inputs PostgreSQL or the standard library would choke on are refused at the edge, naming
the field; what slips through anyway is still the caller's error or an outage, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import strawberry
from servicekit import values
from servicekit.db import Database
from servicekit.errors import BadUserInput
from servicekit.graphql import SubgraphSchema
from sqlalchemy import text


@pytest.mark.parametrize(
    "name", ["Europe/Paris", "UTC", "America/Argentina/Buenos_Aires", " Asia/Tokyo "]
)
def test_zones_of_places_are_accepted(name: str) -> None:
    assert values.time_zone(name) == name.strip()
    assert values.zone_info(name).key == name.strip()


@pytest.mark.parametrize(
    "name",
    ["America", "posixrules", "Factory", "localtime", "posix/Europe/Paris", "right/UTC",
     "Europe/Atlantis", "../../etc/passwd", "", "A" * 10_000, "Europe/Paris\x00"],
)  # fmt: skip
def test_names_that_are_not_zones_of_places_are_bad_input(name: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        values.zone_info(name, "input.timeZone")
    assert caught.value.extensions()["field"] == "input.timeZone"


@pytest.mark.parametrize("raw", ["nul\x00byte", "lone \ud800 surrogate", "bell\x07"])
def test_text_postgresql_cannot_store_is_bad_input(raw: str) -> None:
    with pytest.raises(BadUserInput) as caught:
        values.text(raw, "input.note", max_length=100)
    assert caught.value.field == "input.note"


def test_text_keeps_line_breaks_only_where_asked() -> None:
    assert values.text("two\nlines\ttab", "note", max_length=100) == "two\nlines\ttab"
    with pytest.raises(BadUserInput):
        values.text("two\nlines", "title", max_length=100, multiline=False)
    with pytest.raises(BadUserInput, match="at most 3"):
        values.text("four", "title", max_length=3)


def test_instants_at_the_edges_of_the_calendar() -> None:
    plus_five = timezone(timedelta(hours=5))
    minus_five = timezone(timedelta(hours=-5))
    assert values.instant(datetime(9999, 12, 31, 12, tzinfo=plus_five), "at").tzinfo is UTC
    with pytest.raises(BadUserInput, match="range"):
        values.instant(datetime(1, 1, 1, tzinfo=plus_five), "startsAt")
    with pytest.raises(BadUserInput, match="range"):
        values.instant(datetime(9999, 12, 31, 23, tzinfo=minus_five), "startsAt")
    with pytest.raises(BadUserInput, match="offset"):
        values.instant(datetime(2030, 1, 1), "startsAt")


def test_integers_beyond_a_column_are_bad_input() -> None:
    assert values.integer(2**31 - 1, "price") == 2**31 - 1
    with pytest.raises(BadUserInput):
        values.integer(2**31, "price")
    assert values.integer(2**40, "bytes", maximum=values.INT64[1]) == 2**40


async def test_what_slips_through_is_bad_input_or_unavailable_never_internal(db: Database) -> None:
    unreachable = Database("postgresql://postgres@127.0.0.1:9/nothing", source="demo")

    @strawberry.type
    class Query:
        @strawberry.field
        async def stores_nul(self) -> str:
            async with db.session() as session:
                await session.execute(text("SELECT CAST(:v AS text)"), {"v": "a\x00b"})
            return "stored"

        @strawberry.field
        async def overflows(self) -> str:
            async with db.session() as session:
                await session.execute(text("SELECT CAST(:v AS integer)"), {"v": 2**40})
            return "stored"

        @strawberry.field
        def far_past(self) -> str:
            return (
                datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=3))).astimezone(UTC).isoformat()
            )

        @strawberry.field
        async def database_down(self) -> str:
            async with unreachable.session() as session:
                await session.execute(text("SELECT 1"))
            return "up"

    schema = SubgraphSchema(query=Query)
    try:
        codes: dict[str, Any] = {}
        for field in ("storesNul", "overflows", "farPast", "databaseDown"):
            result = await schema.execute(f"{{ {field} }}")
            assert result.errors, field
            codes[field] = result.errors[0].extensions["code"]
    finally:
        await unreachable.dispose()
    assert codes == {
        "storesNul": "BAD_USER_INPUT",
        "overflows": "BAD_USER_INPUT",
        "farPast": "BAD_USER_INPUT",
        "databaseDown": "UNAVAILABLE",
    }
