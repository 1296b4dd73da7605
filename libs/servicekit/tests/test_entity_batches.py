"""`_entities` of one type that declares `resolve_references` is resolved by one call,
and answers exactly as the same type resolved item by item (`resolve_reference`)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
import strawberry
from servicekit.errors import NotFound
from servicekit.graphql import SubgraphSchema, references_by_id
from strawberry.dataloader import DataLoader

_KNOWN = {"1": "one", "2": "two", "3": "three"}
_CALLS: list[int] = []
_LOADERS: list[DataLoader[str, str | None]] = []  # the request's loader, as a service's


async def _load(ids: list[str]) -> dict[str, str]:
    await asyncio.sleep(0)
    if "fail" in ids:
        raise NotFound("the store is gone")
    if "boom" in ids:
        raise RuntimeError("hunter2")
    return {i: _KNOWN[i] for i in ids if i in _KNOWN}


@strawberry.federation.type(keys=["id"])
class Item:
    id: strawberry.ID
    name: str

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> Item | None:
        if id == "bad":
            return None
        name = await _LOADERS[-1].load(id)
        return cls(id=id, name=name) if name else None


@strawberry.federation.type(keys=["id"])
class BatchedItem(Item):
    @classmethod
    async def resolve_references(
        cls, info: strawberry.Info, references: list[dict[str, Any]]
    ) -> list[BatchedItem | Exception | None]:
        _CALLS.append(len(references))
        ids = [r["id"] for r in references]
        wanted = [i for i in ids if i != "bad"]
        try:
            found = await _load(wanted)
        except Exception as error:
            return [None if i == "bad" else error for i in ids]
        return [cls(id=i, name=found[i]) if i in found else None for i in ids]


@strawberry.federation.type(keys=["id"])
class Short(Item):
    @classmethod
    async def resolve_references(
        cls, info: strawberry.Info, references: list[dict[str, Any]]
    ) -> list[Short | None]:
        return []


@strawberry.type
class Query:
    @strawberry.field
    def ping(self) -> str:
        return "pong"


schema = SubgraphSchema(query=Query, types=[Item, BatchedItem, Short])
QUERY = """query($r: [_Any!]!) { _entities(representations: $r) {
  __typename ... on Item { id name } ... on BatchedItem { id name } } }"""


async def _load_all(ids: list[str]) -> list[str | None]:
    found = await _load(ids)
    return [found.get(i) for i in ids]


async def _answer(typename: str, ids: list[Any]) -> dict[str, Any]:
    _LOADERS.append(DataLoader(load_fn=_load_all))
    representations = [{"__typename": typename, "id": i} for i in ids]
    result = await schema.execute(QUERY, variable_values={"r": representations})
    errors = [e.formatted for e in result.errors or []]
    return {"data": result.data, "errors": errors}


def _as_item(answer: dict[str, Any]) -> dict[str, Any]:
    """The per-item answer with its type named as the batched one, to compare them."""
    value: dict[str, Any] = json.loads(json.dumps(answer).replace('"Item"', '"BatchedItem"'))
    return value


@pytest.mark.parametrize(
    "ids",
    [
        ["1", "2", "3"],
        ["2", "missing", "1", "2"],
        ["bad", "1"],
        ["bad", "bad"],
        ["1", "fail", "bad"],
        ["boom", "2"],
        [],
    ],
)
async def test_a_batch_answers_as_items_resolved_one_by_one(ids: list[str]) -> None:
    _CALLS.clear()
    batched = await _answer("BatchedItem", ids)
    assert ([len(ids)] if ids else []) == _CALLS
    assert batched == _as_item(await _answer("Item", ids))


async def test_representations_that_do_not_fit_the_batch_go_item_by_item() -> None:
    _CALLS.clear()
    _LOADERS.append(DataLoader(load_fn=_load_all))

    def mixed() -> list[dict[str, Any]]:
        return [{"__typename": "BatchedItem", "id": "1"}, {"__typename": "Item", "id": "2"}]

    extra = [{"__typename": "BatchedItem", "id": "1", "other": 1}]
    missing = [{"__typename": "BatchedItem"}]
    for representations in (mixed(), extra, missing):
        await schema.execute(QUERY, variable_values={"r": representations})
    assert _CALLS == []
    result = await schema.execute(QUERY, variable_values={"r": mixed()})
    assert result.data == {
        "_entities": [
            {"__typename": "BatchedItem", "id": "1", "name": "one"},
            {"__typename": "Item", "id": "2", "name": "two"},
        ]
    }


async def test_a_batch_of_the_wrong_length_is_an_error_of_the_field() -> None:
    result = await schema.execute(
        QUERY, variable_values={"r": [{"__typename": "Short", "id": "1"}]}
    )
    assert result.data is None
    assert [e.formatted["extensions"] for e in result.errors or []] == [
        {"code": "INTERNAL_SERVER_ERROR"}
    ]


async def test_references_by_id_reads_the_uuids_once_and_keeps_their_order() -> None:
    one, two, missing = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    reads: list[list[uuid.UUID]] = []

    async def read(ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        reads.append(ids)
        return {one: "one", two: "two"}

    references = [{"id": str(two)}, {"id": "not-a-uuid"}, {"id": str(missing)}, {"id": str(one)}]
    assert await references_by_id(references, read, str.upper) == ["TWO", None, None, "ONE"]
    assert reads == [[two, missing, one]]


async def test_references_by_id_gives_a_failed_read_to_each_uuid_and_asks_nothing_for_none() -> (
    None
):
    failure = NotFound("the store is gone")

    async def read(ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not ids:
            raise AssertionError("asked for nothing")
        raise failure

    answers = await references_by_id([{"id": "x"}, {"id": str(uuid.uuid4())}], read, str)
    assert answers == [None, failure]
    assert await references_by_id([{"id": "x"}], read, str) == [None]
