"""Generated input for every operation of the subgraph, as each kind of caller: coded errors
or data, never INTERNAL_SERVER_ERROR."""

from __future__ import annotations

import uuid
from typing import Any

from scheduling.graphql import build_schema
from servicekit.auth import Role
from servicekit.testing.fuzz import find_internal_errors, generate, root_fields

from .conftest import Person

EXAMPLES = 12  # per root field: a bounded budget for `make test`


async def test_no_input_reaches_an_internal_error(stack: Any) -> None:
    schema = build_schema()._schema
    documents = generate(schema, fields=root_fields(schema), examples=EXAMPLES)
    people = {
        "anonymous": None,
        "buyer": Person(uuid.uuid4(), "b@example.com", "Ben", Role.BUYER),
        "realtor": Person(uuid.uuid4(), "r@example.com", "Rita", Role.REALTOR),
    }

    def as_(person: Person | None) -> Any:
        async def execute(document: str) -> list[dict[str, Any]]:
            body = await stack.gql(document, as_=person)
            return list(body.get("errors") or [])

        return execute

    failures = await find_internal_errors(
        documents, {name: as_(person) for name, person in people.items()}
    )
    assert failures == [], failures[:3]
