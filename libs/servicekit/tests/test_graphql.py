"""Every error leaves a subgraph with `extensions.code`; unexpected ones are masked."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from servicekit.errors import Conflict
from servicekit.graphql import SubgraphSchema


@strawberry.type
class Query:
    @strawberry.field
    def taken(self) -> str:
        raise Conflict("that slot is taken", slot="10:00")

    @strawberry.field
    def broken(self) -> str:
        raise RuntimeError("database password is hunter2")

    @strawberry.field
    def page(self, first: int = 20) -> int:
        return first


schema = SubgraphSchema(query=Query)


async def run(query: str, variables: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    result = await schema.execute(query, variable_values=variables)
    return [e.formatted for e in result.errors or []]


async def test_service_errors_keep_their_code_and_details() -> None:
    [error] = await run("{ taken }")
    assert error["message"] == "that slot is taken"
    assert error["extensions"] == {"code": "CONFLICT", "slot": "10:00"}
    assert error["path"] == ["taken"]


async def test_unexpected_errors_are_masked() -> None:
    [error] = await run("{ broken }")
    assert error["message"] == "Internal server error"
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "hunter2" not in str(error)


async def test_invalid_documents_and_variables_are_the_callers_fault() -> None:
    [error] = await run("{ nope }")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    [error] = await run("query($n: Int!) { page(first: $n) }", {"n": "ten"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    [error] = await run("query($n: Int) { page(first: $n) }", {"n": None})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


def test_an_id_that_is_not_a_uuid_is_bad_input() -> None:
    import uuid

    import pytest
    from servicekit.errors import BadUserInput, parse_id

    known = uuid.uuid4()
    assert parse_id(str(known)) == known
    with pytest.raises(BadUserInput) as caught:
        parse_id("listing-42", "listingId")
    assert caught.value.extensions() == {"code": "BAD_USER_INPUT", "field": "listingId"}


async def test_documents_are_parsed_and_validated_once_per_text_and_bounded() -> None:
    small = SubgraphSchema(query=Query, cache_size=2)
    for _ in range(3):
        result = await small.execute("{ page }")
        assert result.data == {"page": 20} and not result.errors
    first = small.documents.get("{ page }")
    assert small.documents.get("{ page }") is first  # the same parsed, validated document
    await small.execute("{ page(first: 1) }")
    await small.execute("{ page(first: 2) }")
    assert len(small.documents) == 2
    assert small.documents.get("{ page }") is not first  # the least recently used went first


async def test_a_refused_document_stays_refused_from_the_cache() -> None:
    for _ in range(2):
        [error] = await run("{ nope }")
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        [error] = await run("{ page(")
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_the_operation_is_chosen_by_name_and_its_type_checked() -> None:
    from strawberry.schema.exceptions import (
        CannotGetOperationTypeError,
        InvalidOperationTypeError,
    )
    from strawberry.types.graphql import OperationType

    two = "query A { page(first: 1) } query B { page(first: 2) }"
    assert (await schema.execute(two, operation_name="B")).data == {"page": 2}
    with pytest.raises(CannotGetOperationTypeError):
        await schema.execute(two)
    with pytest.raises(InvalidOperationTypeError):
        await schema.execute("{ page }", allowed_operation_types={OperationType.MUTATION})
