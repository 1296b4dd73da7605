"""Response shaping on its own: field order, nullability and where errors point."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.executor.shape import Shaper, ShapeSet
from gateway.planner.operation import normalize
from graphql import build_schema, parse

SCHEMA = build_schema(
    """
    type Query { strict: [Item!]!  loose: [Item]  one: Item  must: Item!  node: Node }
    type Item { id: ID!  label: String  kind: Kind  tags: [String!] }
    enum Kind { A B }
    interface Node { id: ID! }
    type Thing implements Node { id: ID!  size: Int! }
    """
)


def shape(query: str, data: dict[str, Any]) -> dict[str, Any]:
    operation = parse(query).definitions[0]
    selections = normalize(operation.selection_set, {}, {})  # type: ignore[attr-defined]
    errors: list[dict[str, Any]] = []
    result = Shaper(errors).root(ShapeSet(SCHEMA, "Query", selections), data)
    return {"data": result, "errors": errors} if errors else {"data": result}


def null_error(label: str, path: list[Any]) -> dict[str, Any]:
    return {
        "message": f"Cannot return null for non-nullable field {label}.",
        "path": path,
        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
    }


def test_only_selected_fields_in_selection_order() -> None:
    data = {"one": {"label": "x", "id": "1", "_r_id": "1", "kind": "A", "extra": 1}}
    result = shape("{ one { kind id label } }", data)
    assert result == {"data": {"one": {"kind": "A", "id": "1", "label": "x"}}}
    assert list(result["data"]["one"]) == ["kind", "id", "label"]


def test_null_item_in_non_null_list_nulls_the_whole_non_null_field() -> None:
    result = shape(
        "{ strict { id } one { id } }", {"strict": [{"id": "1"}, {}], "one": {"id": "2"}}
    )
    assert result == {"data": None, "errors": [null_error("Item.id", ["strict", 1, "id"])]}


def test_null_item_in_nullable_list_nulls_only_the_item() -> None:
    result = shape("{ loose { id label } }", {"loose": [{"id": "1", "label": "a"}, {"label": "b"}]})
    assert result == {
        "data": {"loose": [{"id": "1", "label": "a"}, None]},
        "errors": [null_error("Item.id", ["loose", 1, "id"])],
    }


def test_non_null_root_field_missing_nulls_data() -> None:
    assert shape("{ must { id } }", {}) == {
        "data": None,
        "errors": [null_error("Query.must", ["must"])],
    }


def test_existing_error_explains_the_null() -> None:
    errors = [{"message": "boom", "path": ["strict", 0]}]
    selections = normalize(parse("{ strict { id } }").definitions[0].selection_set, {}, {})  # type: ignore[attr-defined]
    result = Shaper(errors).root(ShapeSet(SCHEMA, "Query", selections), {"strict": [{}]})
    assert result is None
    assert errors == [{"message": "boom", "path": ["strict", 0]}]


def test_enum_values_are_checked_once() -> None:
    result = shape("{ strict { id kind } }", {"strict": [{"id": "1", "kind": "Z"}]})
    assert result == {
        "data": {"strict": [{"id": "1", "kind": None}]},
        "errors": [
            {
                "message": "Item.kind did not resolve to a value of its enum.",
                "path": ["strict", 0, "kind"],
                "extensions": {"code": "INTERNAL_SERVER_ERROR"},
            }
        ],
    }


def test_list_of_non_null_leaves() -> None:
    assert shape("{ one { tags } }", {"one": {"tags": ["a", None]}}) == {
        "data": {"one": {"tags": None}},
        "errors": [null_error("Item.tags", ["one", "tags", 1])],
    }


@pytest.mark.parametrize(
    ("typename", "expected"),
    [
        ("Thing", {"node": {"__typename": "Thing", "id": "t", "size": 3}}),
        ("Unknown", {"node": None}),
        (None, {"node": None}),
    ],
)
def test_abstract_positions_use_the_runtime_type(typename: Any, expected: Any) -> None:
    data = {"node": {"__typename": typename, "id": "t", "size": 3}}
    query = "{ node { __typename id ... on Thing { size } } }"
    assert shape(query, data) == {"data": expected}
