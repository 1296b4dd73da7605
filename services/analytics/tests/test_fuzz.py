"""Generated input for every operation of the subgraph, as each kind of caller: coded errors
naming their input, or data — never INTERNAL_SERVER_ERROR."""

from __future__ import annotations

import uuid
from typing import Any

from analytics.graphql import build_schema
from servicekit.auth import Role
from servicekit.testing.fuzz import find_internal_errors, generate, root_fields

EXAMPLES = 12  # per root field: a bounded budget for `make test`


async def test_no_input_reaches_an_internal_error(stack: Any) -> None:
    schema = build_schema()._schema
    documents = generate(schema, fields=root_fields(schema), examples=EXAMPLES)

    def as_(user: uuid.UUID | None, role: Role = Role.BUYER) -> Any:
        async def execute(document: str) -> list[dict[str, Any]]:
            body = await stack.gql(document, user=user, role=role)
            return list(body.get("errors") or [])

        return execute

    failures = await find_internal_errors(
        documents,
        {
            "anonymous": as_(None),
            "buyer": as_(uuid.uuid4()),
            "admin": as_(uuid.uuid4(), Role.ADMIN),
        },
    )
    assert failures == [], failures[:3]
