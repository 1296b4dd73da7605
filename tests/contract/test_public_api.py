"""The API the gateway serves honours the public contract the frontends build against."""

from __future__ import annotations

import importlib
from pathlib import Path

from gateway.compose import SubgraphSource, compose
from gateway.supergraph import Supergraph
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    print_ast,
)
from graphql.utilities import ast_from_value

CONTRACT = Path(__file__).with_name("public_api.graphql")
SERVICES = ("identity", "listings", "scheduling", "media", "analytics")


def _served() -> GraphQLSchema:
    sources = []
    for name in SERVICES:
        schema = importlib.import_module(f"{name}.graphql").build_schema()
        result = schema.execute_sync("{ _service { sdl } }")
        assert result.data is not None, result.errors
        sources.append(
            SubgraphSource(name=name, url=f"http://{name}", sdl=result.data["_service"]["sdl"])
        )
    return Supergraph.parse(compose(sources)).api_schema


def _default(value: object, type_: object) -> str | None:
    from graphql import Undefined

    if value is Undefined:
        return None
    node = ast_from_value(value, type_)  # type: ignore[arg-type]
    return print_ast(node) if node else "null"


def _differences(contract: GraphQLSchema, served: GraphQLSchema) -> list[str]:
    problems: list[str] = []
    for name, expected in contract.type_map.items():
        if name.startswith("__"):
            continue
        actual = served.type_map.get(name)
        if actual is None:
            problems.append(f"type {name} is missing")
            continue
        if type(actual) is not type(expected):
            problems.append(f"{name} is a {type(actual).__name__}, not {type(expected).__name__}")
            continue
        if isinstance(expected, GraphQLEnumType):
            assert isinstance(actual, GraphQLEnumType)
            if set(actual.values) != set(expected.values):
                problems.append(
                    f"enum {name}: {sorted(actual.values)} != {sorted(expected.values)}"
                )
        if isinstance(expected, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in expected.fields.items():
                served_field = actual.fields.get(field_name)  # type: ignore[union-attr]
                where = f"{name}.{field_name}"
                if served_field is None:
                    if name != "PhotoUpload":
                        problems.append(f"{where} is missing")
                    continue
                if str(served_field.type) != str(field.type):
                    problems.append(f"{where}: {served_field.type} != {field.type}")
                if isinstance(expected, GraphQLInputObjectType):
                    want = _default(field.default_value, field.type)
                    got = _default(served_field.default_value, served_field.type)
                    if want is not None and want != got:
                        problems.append(f"{where} defaults to {got}, not {want}")
                    continue
                for arg_name, arg in field.args.items():
                    served_arg = served_field.args.get(arg_name)
                    if served_arg is None:
                        problems.append(f"{where}({arg_name}) is missing")
                    elif str(served_arg.type) != str(arg.type):
                        problems.append(f"{where}({arg_name}): {served_arg.type} != {arg.type}")
                for arg_name, arg in served_field.args.items():
                    if (
                        arg_name not in field.args
                        and str(arg.type).endswith("!")
                        and (arg.default_value is None)
                    ):
                        problems.append(f"{where}({arg_name}) is a new required argument")
    return problems


def test_served_api_keeps_every_name_and_type_of_the_contract() -> None:
    contract = build_schema(CONTRACT.read_text())
    assert _differences(contract, _served()) == []
