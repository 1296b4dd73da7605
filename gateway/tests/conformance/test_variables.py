"""The fast variable coercion gives exactly graphql-core's values, or defers to it."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.variables import coerce_simple, simple_variables
from graphql import OperationDefinitionNode, build_schema, get_variable_values, parse

SCHEMA = build_schema(
    """
    scalar DateTime
    enum Color { RED }
    input Filter { city: String }
    type Query { f(a: ID, b: String, c: Int, d: Boolean, e: Float): String }
    """
)

VALUES: list[Any] = [
    None,
    "",
    "x",
    "12",
    0,
    7,
    -(2**31),
    2**31 - 1,
    2**31,
    -(2**31) - 1,
    1.0,
    1.5,
    True,
    False,
    [],
    ["x"],
    {},
    {"k": 1},
]


def _definitions(text: str) -> Any:
    operation = parse(f"query Q({text}) {{ f }}").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return operation.variable_definitions


@pytest.mark.parametrize("type_name", ["ID", "String", "Int", "Boolean"])
@pytest.mark.parametrize("non_null", [False, True])
def test_matches_graphql_core_for_every_value(type_name: str, non_null: bool) -> None:
    definitions = _definitions(f"$v: {type_name}{'!' if non_null else ''}")
    spec = simple_variables(SCHEMA, definitions)
    assert spec is not None
    canonical = {"ID": "x", "String": "x", "Int": 7, "Boolean": True}[type_name]
    assert coerce_simple(spec, {"v": canonical}) == {"v": canonical}  # the fast path is taken
    for inputs in [{}, *({"v": value} for value in VALUES)]:
        fast = coerce_simple(spec, inputs)
        reference = get_variable_values(SCHEMA, definitions, dict(inputs))
        if fast is None:
            continue  # graphql-core decides (and words any error)
        assert not isinstance(reference, list), (type_name, inputs, reference)
        assert fast == reference.coerced, (type_name, inputs)
        assert [type(v) for v in fast.values()] == [type(v) for v in reference.coerced.values()]


@pytest.mark.parametrize("type_name", ["ID", "String", "Int", "Boolean"])
def test_every_rejected_value_is_left_to_graphql_core(type_name: str) -> None:
    definitions = _definitions(f"$v: {type_name}!")
    spec = simple_variables(SCHEMA, definitions)
    assert spec is not None
    for inputs in [{}, *({"v": value} for value in VALUES)]:
        if isinstance(get_variable_values(SCHEMA, definitions, dict(inputs)), list):
            assert coerce_simple(spec, inputs) is None, (type_name, inputs)


def test_several_variables_and_unknown_inputs() -> None:
    definitions = _definitions("$a: ID!, $b: String, $c: Int, $d: Boolean!")
    spec = simple_variables(SCHEMA, definitions)
    assert spec is not None
    inputs = {"a": "l1", "c": None, "d": True, "other": 1}
    assert coerce_simple(spec, inputs) == get_variable_values(SCHEMA, definitions, inputs).coerced  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "$v: Float",
        "$v: DateTime",
        "$v: Color",
        "$v: Filter",
        "$v: [ID]",
        "$v: [ID!]!",
        '$v: String = "x"',
        "$a: ID, $v: DateTime",
    ],
)
def test_other_declarations_go_to_graphql_core(text: str) -> None:
    assert simple_variables(SCHEMA, _definitions(text)) is None
