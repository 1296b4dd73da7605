"""Response shaping: from merged subgraph data to the response the client asked for.

The merged data holds everything every fetch returned, including fields the planner
added for keys and requirements. Shaping walks the client's selection (compiled once per
plan), emits only the fields asked for, in the order asked, with `__typename` filled in,
and applies the API schema's nullability: a null in a non-null position nulls the
nearest nullable parent and records an error with the client-facing path. A field the
caller may not see is the exception: it is null in place, with its own error, whatever
its type says (it was left out of the operation; its parent and siblings are served).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
)
from servicekit.errors import ErrorCode

from gateway.authorization import UNAUTHORIZED
from gateway.planner.abstract import data_key
from gateway.planner.operation import NField, NSel, collect_fields

__all__ = ["ShapeSet", "Shaper"]

_LEAF, _ENUM, _OBJECT, _TYPENAME, _DENIED = 0, 1, 2, 3, 4
_FAST_LEAF, _FAST_OBJECT, _FAST_OBJECTS, _GENERAL = 0, 1, 2, 3
_BUBBLE: Any = object()  # "null here, and this position is non-null: null the parent"
_INTERNAL = ErrorCode.INTERNAL_SERVER_ERROR.value

# A linked path: (parent, key) pairs, built only where composite values nest.
Path = tuple[Any, str | int] | None


class ShapeField:
    """One client field at one position: where to read it and how to complete its value."""

    __slots__ = ("alias", "enum_values", "key", "kind", "label", "mode", "sub", "wrappers")

    def __init__(
        self,
        key: str,
        label: str,
        kind: int,
        wrappers: str,
        sub: ShapeSet | None,
        enum_values: frozenset[str] | None,
        alias: str = "",
    ) -> None:
        self.key = key
        # Where the planner puts the value when it had to alias it (a sibling fragment's
        # field of the same key has another type in that subgraph): read when `key` is null.
        self.alias = alias
        self.label = label  # "Type.field", for error messages
        self.kind = kind
        self.wrappers = wrappers  # outermost first: "N" non-null, "L" list
        self.sub = sub
        self.enum_values = enum_values
        # How `Shaper._object` takes the value: a fast path for the common shapes, the
        # general `_complete` for the rest (and for anything unusual on a fast path).
        if kind == _LEAF and wrappers in ("", "N"):
            self.mode = _FAST_LEAF
        elif kind == _OBJECT and wrappers in ("", "N"):
            self.mode = _FAST_OBJECT
        elif kind == _OBJECT and wrappers in ("L", "LN", "NL", "NLN"):
            self.mode = _FAST_OBJECTS
        else:
            self.mode = _GENERAL


class ShapeSet:
    """A client selection set on one output type; per runtime type fields are collected lazily."""

    __slots__ = (
        "_by_type",
        "_possible",
        "denied",
        "schema",
        "selections",
        "static_type",
        "type_name",
    )

    def __init__(
        self,
        schema: GraphQLSchema,
        type_name: str,
        selections: Sequence[NSel],
        denied: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        """`denied` (type, field) coordinates are answered null with an authorization error."""
        self.schema = schema
        self.type_name = type_name
        self.denied = denied
        self.selections = tuple(selections)
        gtype = schema.type_map[type_name]
        self.static_type: str | None = type_name if isinstance(gtype, GraphQLObjectType) else None
        if isinstance(gtype, GraphQLInterfaceType | GraphQLUnionType):
            possible = {t.name for t in schema.get_possible_types(gtype)}
            if isinstance(gtype, GraphQLInterfaceType):
                # An `@interfaceObject` subgraph reports the interface itself as the type;
                # the planner lets that through only for interface-level selections.
                possible.add(type_name)
            self._possible = frozenset(possible)
        else:
            self._possible = frozenset((type_name,))
        self._by_type: dict[str, tuple[ShapeField, ...]] = {}

    def fields_for(self, runtime: Any) -> tuple[ShapeField, ...] | None:
        """The fields to emit for an object of `runtime` type, or None when it cannot be here."""
        found = self._by_type.get(runtime)
        if found is None:
            if runtime not in self._possible:
                return None
            found = self._by_type[runtime] = self._compile(runtime)
        return found

    def _compile(self, runtime: str) -> tuple[ShapeField, ...]:
        parent = self.schema.type_map[runtime]
        assert isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
        out: list[ShapeField] = []
        for key, occurrences in collect_fields(self.schema, runtime, self.selections).items():
            first = occurrences[0]
            if first.name == "__typename":
                out.append(ShapeField(key, "__typename", _TYPENAME, "", None, None))
                continue
            if first.name in ("__schema", "__type"):  # answered whole by introspection
                out.append(ShapeField(key, first.name, _LEAF, "", None, None))
                continue
            field = self._field(runtime, parent, key, first, occurrences)
            denied = self.denied
            if denied and (
                (runtime, first.name) in denied or (self.type_name, first.name) in denied
            ):
                field.kind = _DENIED
            out.append(field)
        return tuple(out)

    def _field(
        self,
        runtime: str,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        key: str,
        first: NField,
        occurrences: list[NField],
    ) -> ShapeField:
        gtype: GraphQLOutputType = parent.fields[first.name].type
        wrappers = ""
        while isinstance(gtype, GraphQLNonNull | GraphQLList):
            wrappers += "N" if isinstance(gtype, GraphQLNonNull) else "L"
            gtype = gtype.of_type
        label = f"{runtime}.{first.name}"
        if isinstance(gtype, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            selections: list[NSel] = []
            for occurrence in occurrences:
                selections.extend(occurrence.selections or ())
            sub = ShapeSet(self.schema, gtype.name, selections, self.denied)
            return ShapeField(key, label, _OBJECT, wrappers, sub, None, data_key(key, runtime))
        if isinstance(gtype, GraphQLEnumType):
            values = frozenset(gtype.values)
            return ShapeField(key, label, _ENUM, wrappers, None, values, data_key(key, runtime))
        return ShapeField(key, label, _LEAF, wrappers, None, None, data_key(key, runtime))


def _path_list(path: Path) -> list[str | int]:
    out: list[str | int] = []
    while path is not None:
        path, key = path
        out.append(key)
    out.reverse()
    return out


class Shaper:
    """Shapes one response; collects the errors it finds along the way."""

    __slots__ = ("errors",)

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors

    def root(self, shape: ShapeSet, data: dict[str, Any] | None) -> dict[str, Any] | None:
        result = self._object(shape, data if data is not None else {}, None, shape.static_type)
        return None if result is _BUBBLE else result

    def at(
        self, shape: ShapeSet, data: dict[str, Any], where: Sequence[str | int]
    ) -> dict[str, Any] | None:
        """Shape an object found at `where` in the response (a deferred fragment's data)."""
        path: Path = None
        for segment in where:
            path = (path, segment)
        result = self._object(shape, data, path, shape.static_type or data.get("__typename"))
        return None if result is _BUBBLE else result

    def _object(
        self, shape: ShapeSet, data: dict[str, Any], path: Path, runtime: Any
    ) -> dict[str, Any] | Any:
        fields = shape._by_type.get(runtime)  # compiled: the lookup without a call
        if fields is None:
            fields = shape.fields_for(runtime)
            if fields is None:
                return None
        out: dict[str, Any] = {}
        for field in fields:
            key = field.key
            if field.kind >= _TYPENAME:  # one comparison on the common path
                if field.kind == _TYPENAME:
                    out[key] = runtime
                    continue
                # _DENIED: null in place, non-null or not, as the reference routers
                # answer it (the field was taken out of the operation, not failed).
                self._unauthorized((path, key))
                out[key] = None
                continue
            value = data.get(key)
            if value is None and field.alias:
                value = data.get(field.alias)
            mode = field.mode
            if mode == _FAST_LEAF:
                if value is None and field.wrappers:
                    self._null_error(field, (path, key))
                    return _BUBBLE
                out[key] = value
                continue
            if value is not None:
                if mode == _FAST_OBJECT and value.__class__ is dict:
                    sub = field.sub
                    assert sub is not None
                    done = self._object(
                        sub, value, (path, key), sub.static_type or value.get("__typename")
                    )
                    if done is not None and done is not _BUBBLE:
                        out[key] = done
                        continue
                elif mode == _FAST_OBJECTS and value.__class__ is list:
                    done = self._objects(field, value, (path, key))
                    if done is not None:
                        out[key] = done
                        continue
            value = self._complete(field, value, 0, (path, key))
            if value is _BUBBLE:
                return _BUBBLE
            out[key] = value
        return out

    def _objects(self, field: ShapeField, value: list[Any], path: Path) -> list[Any] | None:
        """A list of objects on the happy path; None sends the caller to `_complete`."""
        sub = field.sub
        assert sub is not None
        static = sub.static_type
        items: list[Any] = []
        for position, item in enumerate(value):
            if item.__class__ is not dict:
                return None
            done = self._object(sub, item, (path, position), static or item.get("__typename"))
            if done is None or done is _BUBBLE:
                return None
            items.append(done)
        return items

    def _complete(self, field: ShapeField, value: Any, index: int, path: Path) -> Any:
        wrappers = field.wrappers
        non_null = index < len(wrappers) and wrappers[index] == "N"
        if non_null:
            index += 1
        if value is None:
            if non_null:
                self._null_error(field, path)
                return _BUBBLE
            return None
        if index < len(wrappers):  # a list
            if not isinstance(value, list):
                return self._invalid(field, path, non_null, "a list")
            items: list[Any] = []
            for position, item in enumerate(value):
                completed = self._complete(field, item, index + 1, (path, position))
                if completed is _BUBBLE:
                    return _BUBBLE if non_null else None
                items.append(completed)
            return items
        kind = field.kind
        if kind == _LEAF:
            return value
        if kind == _ENUM:
            if value in field.enum_values:  # type: ignore[operator]
                return value
            return self._invalid(field, path, non_null, "a value of its enum")
        if not isinstance(value, dict):
            return self._invalid(field, path, non_null, "an object")
        sub = field.sub
        assert sub is not None
        runtime = sub.static_type or value.get("__typename")
        result = self._object(sub, value, path, runtime)
        if result is None:  # an object of a type the client cannot see here
            if non_null:
                self._null_error(field, path)
                return _BUBBLE
            return None
        if result is _BUBBLE:
            return _BUBBLE if non_null else None
        return result

    def _invalid(self, field: ShapeField, path: Path, non_null: bool, expected: str) -> Any:
        error = {
            "message": f"{field.label} did not resolve to {expected}.",
            "path": _path_list(path),
            "extensions": {"code": _INTERNAL},
        }
        if error not in self.errors:  # a fast path may have seen it before falling back
            self.errors.append(error)
        return _BUBBLE if non_null else None

    def _unauthorized(self, path: Path) -> None:
        error = {
            "message": "Unauthorized field or type",
            "path": _path_list(path),
            "extensions": {"code": UNAUTHORIZED},
        }
        if error not in self.errors:  # a fast path may have seen it before falling back
            self.errors.append(error)

    def _null_error(self, field: ShapeField, path: Path) -> None:
        """Record a non-null violation unless an error already explains this position: one
        at it, above it or below it, or at a sibling field — a subgraph nulls an object
        whose non-null field failed (a FORBIDDEN private field nulls its user), and the
        object's other fields are then missing for that one reason."""
        flat = _path_list(path)
        for error in self.errors:
            known = error.get("path")
            if not known:
                continue
            size = min(len(known), len(flat))
            if known[:size] == flat[:size]:
                return
            parent = known[:-1]
            if parent and isinstance(known[-1], str) and flat[: len(parent)] == parent:
                return
        self.errors.append(
            {
                "message": f"Cannot return null for non-nullable field {field.label}.",
                "path": flat,
                "extensions": {"code": _INTERNAL},
            }
        )
