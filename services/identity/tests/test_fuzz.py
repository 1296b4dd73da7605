"""Generated input for every operation of the subgraph, as each kind of caller: coded errors
or data, never INTERNAL_SERVER_ERROR."""

from __future__ import annotations

from typing import Any

from identity.graphql import build_schema
from servicekit.testing.fuzz import find_internal_errors, generate, root_fields

EXAMPLES = 8  # per root field: a bounded budget for `make test` (passwords are hashed)


async def test_no_input_reaches_an_internal_error(identity: Any) -> None:
    schema = build_schema()._schema
    documents = generate(schema, fields=root_fields(schema), examples=EXAMPLES)
    buyer = (await identity.register(role="BUYER"))["accessToken"]
    realtor = (await identity.register(role="REALTOR"))["accessToken"]

    def as_(token: str | None) -> Any:
        async def execute(document: str) -> list[dict[str, Any]]:
            body = await identity.gql(document, token=token)
            return list(body.get("errors") or [])

        return execute

    failures = await find_internal_errors(
        documents, {"anonymous": as_(None), "buyer": as_(buyer), "realtor": as_(realtor)}
    )
    assert failures == [], failures[:3]
