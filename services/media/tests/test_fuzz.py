"""Generated input for every operation of the subgraph, as each kind of caller: coded errors
naming their input, or data — never INTERNAL_SERVER_ERROR."""

from __future__ import annotations

from typing import Any

from media.graphql import build_schema
from servicekit.testing.fuzz import find_internal_errors, generate, root_fields

EXAMPLES = 10  # per root field: a bounded budget for `make test`


async def test_no_input_reaches_an_internal_error(stack: Any) -> None:
    schema = build_schema()._schema
    documents = generate(schema, fields=root_fields(schema), examples=EXAMPLES)
    _, buyer, realtor = await stack.tour()  # a tour to join, invite to and leave

    def as_(person: Any) -> Any:
        async def execute(document: str) -> list[dict[str, Any]]:
            body = await stack.gql(document, as_=person)
            return list(body.get("errors") or [])

        return execute

    failures = await find_internal_errors(
        documents, {"anonymous": as_(None), "buyer": as_(buyer), "realtor": as_(realtor)}
    )
    assert failures == [], failures[:3]
