"""How a subgraph's fields execute cheaply: resolvers rewritten where strawberry's wrapper
ends with one plain call, and graphql-core's executor completing plain fields inline.

Most of a subgraph's answer is leaves read straight off a dataclass (`id`, `status`,
`startsAt`…). For each one graphql-core builds a response path, a resolve info, an empty
argument map, calls the resolver, then walks `complete_value` down to the scalar's
`coerce_output_value`: about as much work as the rest of a lookup by id. A field marked
plain here (its resolver reads one attribute; its type a scalar or enum, non-null or
not; no arguments in the document) is read and coerced in the loop over the selection,
with exactly the calls graphql-core would make last. Everything else, and any plain
field whose value is unusual (null where null is not allowed, a value the scalar
refuses, an exception, an awaitable), goes through graphql-core's own `execute_field`,
so errors, paths and nulls come out as graphql-core makes them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

PLAIN = "servicekit.plain"
_MISSING: Any = object()


class PlainField(NamedTuple):
    """A field completed inline: the attribute it reads and the leaf type it coerces to."""

    attribute: str
    leaf: GraphQLLeafType
    nullable: bool


def mark_plain(object_type: GraphQLObjectType, name: str, attribute: str) -> None:
    """Mark `object_type.name` as read from `attribute`, when its type is a (non-null) leaf
    and it takes no arguments; other fields stay with graphql-core."""
    field = object_type.fields[name]
    if field.args:
        return
    kind = field.type
    nullable = not isinstance(kind, GraphQLNonNull)
    if not nullable:
        kind = kind.of_type  # type: ignore[union-attr]
    if not isinstance(kind, (GraphQLScalarType, GraphQLEnumType)):
        return
    plain: dict[str, PlainField] = object_type.extensions.setdefault(PLAIN, {})  # type: ignore[assignment]
    plain[name] = PlainField(attribute, kind, nullable)


class LeanExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor (its resolve info), with plain fields completed inline."""

    def execute_fields(  # type: ignore[override]
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        plain: dict[str, PlainField] | None = parent_type.extensions.get(PLAIN)
        if plain is None or position_context is not None or self.middleware_manager:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                node = field_details_list[0].node
                spec = plain.get(node.name.value)
                if spec is not None and not node.arguments:
                    value = _inline(spec, source_value, is_awaitable)
                    if value is not _MISSING:
                        results[response_name] = value
                        continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited: list[Any] = await gather_with_cancel(
                    *(results[field] for field in awaitable_fields)
                )
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def complete_value(  # type: ignore[override]
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """An object value (a list's items, a field's object) goes straight to its
        sub-selection, which is where graphql-core's `complete_value` ends for it; every other
        value takes graphql-core's way."""
        object_type = _plain_object(return_type, result)
        if object_type is None:
            return super().complete_value(
                return_type, field_details_list, info, path, result, position_context
            )
        return self.collect_and_execute_subfields(
            object_type, field_details_list, path, result, position_context
        )


def _plain_object(return_type: Any, result: Any) -> GraphQLObjectType | None:
    """The object type `result` completes as without graphql-core's type dispatch: an object
    type (non-null or not) with no `is_type_of` check, for a value that is not null, not
    undefined and not an exception; None otherwise."""
    if type(return_type) is GraphQLNonNull:
        return_type = return_type.of_type
    if type(return_type) is not GraphQLObjectType or return_type.is_type_of is not None:
        return None
    if result is None or result is Undefined or isinstance(result, Exception):
        return None
    return return_type


def _inline(spec: PlainField, source: Any, is_awaitable: Any) -> Any:
    """The completed value of a plain field, or _MISSING when graphql-core must decide."""
    try:
        value = getattr(source, spec.attribute)
    except Exception:
        return _MISSING
    if value is None:
        return None if spec.nullable else _MISSING
    if isinstance(value, Exception) or value is Undefined or is_awaitable(value):
        return _MISSING
    try:
        coerced = spec.leaf.coerce_output_value(value)
    except Exception:
        return _MISSING
    if coerced is None or coerced is Undefined:
        return _MISSING
    return coerced


def _attribute(name: str) -> Callable[..., Any]:
    def resolve(source: Any, info: Any, **_: Any) -> Any:
        return getattr(source, name)

    return resolve


def read_basic_fields_directly(schema: strawberry.federation.Schema) -> None:
    """A field with no resolver of its own is read as the attribute it names, in one call.

    Strawberry resolves such a field through two wrappers down to its default resolver,
    `getattr`; a search page reads a few hundred of them. Only fields strawberry itself
    marks basic (no resolver, no field extension) under the default resolver change; those
    of a leaf type are also completed inline by the `LeanExecutor`."""
    if schema.config.default_resolver is not getattr:
        return
    for named in schema._schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for field_name, core_field in named.fields.items():
            if getattr(core_field.resolve, "__name__", "") != "_get_basic_result":
                continue
            definition = (core_field.extensions or {}).get("strawberry-definition")
            python_name = getattr(definition, "python_name", None)
            if python_name:
                core_field.resolve = _attribute(python_name)
                mark_plain(named, field_name, python_name)


def _method(function: Callable[[Any], Any]) -> Callable[..., Any]:
    def resolve(source: Any, info: Any, **_: Any) -> Any:
        return function(source)

    resolve._is_default = False  # type: ignore[attr-defined]  # as strawberry marks its own
    return resolve


def call_self_only_methods_directly(schema: strawberry.federation.Schema) -> None:
    """A field resolved by a plain method of its type that takes `self` alone (`Tour.listing`)
    is called as `method(source)`, which is the call strawberry ends with.

    Strawberry reaches it through its resolve info, argument conversion and an extension
    chain, even when the field has no arguments, no extension, no permission and no
    exception handler; an `upcomingTours` page makes thirty such calls. Any of those, an
    `info`, `root` or `parent` parameter, or an async method keeps strawberry's path."""
    converter = schema.schema_converter
    for named in schema._schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for core_field in named.fields.values():
            definition: Any = (core_field.extensions or {}).get("strawberry-definition")
            resolver = getattr(definition, "base_resolver", None)
            if resolver is None or definition.extensions or resolver.is_async:
                continue
            if converter._get_field_exception_handlers(definition):
                continue
            parameters = list(resolver.signature.parameters.values())
            if len(parameters) != 1 or resolver.self_parameter is None or resolver.arguments:
                continue
            if callable(resolver.wrapped_func):
                core_field.resolve = _method(resolver.wrapped_func)
