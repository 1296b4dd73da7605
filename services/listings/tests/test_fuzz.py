"""Generated input for every operation of the subgraph, as each kind of caller: coded errors
or data, never INTERNAL_SERVER_ERROR."""

from __future__ import annotations

import uuid
from typing import Any

from listings.graphql import build_schema
from servicekit.auth import Role
from servicekit.testing.fuzz import find_internal_errors, generate, root_fields

EXAMPLES = 12  # per root field: a bounded budget for `make test`


async def test_no_input_reaches_an_internal_error(api: Any) -> None:
    schema = build_schema()._schema
    documents = generate(schema, fields=root_fields(schema), examples=EXAMPLES)
    realtor = (uuid.uuid4(), Role.REALTOR)
    await api.create_listing(realtor)  # something to find, update and page through

    def as_(who: tuple[uuid.UUID, Role] | None) -> Any:
        async def execute(document: str) -> list[dict[str, Any]]:
            body = await api.call(document, who=who)
            return list(body.get("errors") or [])

        return execute

    failures = await find_internal_errors(
        documents,
        {"anonymous": as_(None), "realtor": as_(realtor), "buyer": as_((uuid.uuid4(), Role.BUYER))},
    )
    assert failures == [], failures[:3]
