"""The input fuzzer finds a resolver that lets hostile input reach a 500, and passes one that
refuses it with a coded error."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import strawberry
from servicekit import values
from servicekit.graphql import SubgraphSchema
from servicekit.testing.fuzz import find_internal_errors, generate, root_fields


def schema_with(check_zone: bool) -> SubgraphSchema:
    @strawberry.type
    class Query:
        @strawberry.field
        def local_time(self, time_zone: str, at: datetime) -> str:
            zone = values.zone_info(time_zone) if check_zone else ZoneInfo(time_zone)
            return values.instant(at, "at").astimezone(zone).isoformat()

        @strawberry.field
        def echo(self, words: list[str], times: int = 1) -> str:
            return " ".join(values.text(w, "words", max_length=100) for w in words) * max(
                0, min(times, 3)
            )

    return SubgraphSchema(query=Query)


async def run_all(schema: SubgraphSchema) -> list[Any]:
    async def execute(document: str) -> list[dict[str, Any]]:
        result = await schema.execute(document)
        return [e.formatted for e in result.errors or []]

    documents = generate(schema._schema, fields=root_fields(schema._schema), examples=60)
    assert len(documents) >= 60
    return await find_internal_errors(documents, {"anyone": execute})


async def test_unchecked_zone_names_are_found() -> None:
    failures = await run_all(schema_with(check_zone=False))
    assert failures
    assert all("localTime" in f.document for f in failures)


async def test_checked_inputs_never_reach_a_500() -> None:
    assert await run_all(schema_with(check_zone=True)) == []
