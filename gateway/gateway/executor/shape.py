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

from collections.abc import Callable, Sequence
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
        "_compiled",
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
        self._compiled: dict[Any, _ShapeFn] = {}

    def compiled(self, runtime: Any) -> _ShapeFn | None:
        """The shaping function for objects of `runtime` type (see `_generate`), or None
        when such an object cannot be here."""
        found = self._compiled.get(runtime)
        if found is None:
            fields = self.fields_for(runtime)
            if fields is None:
                return None
            found = self._compiled[runtime] = _generate(runtime, fields)
        return found

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


# A compiled shaping function: (shaper, data, path) -> the shaped object or `_BUBBLE`.
_ShapeFn = Callable[["Shaper", dict[str, Any], Path], Any]


def _generate(runtime: str, fields: tuple[ShapeField, ...]) -> _ShapeFn:
    """The shaping of one selection on one runtime type as a Python function of its own.

    It does what a loop over `fields` would do field by field (see `_field_lines`), with
    each field's key, mode and nullability decided here once instead of read and
    compared for every object: the public benchmark's deep answer shapes 656 objects of
    about six fields each, and that loop's own bookkeeping was most of their cost. The
    generated text names nothing but the constants bound in its namespace, and keys are
    written as `repr` literals, so no client string becomes code.
    """
    env: dict[str, Any] = {"_BUBBLE": _BUBBLE, "_dict": dict, "_list": list, "RUNTIME": runtime}
    lines = ["def shape(self, data, path):"]
    lines.append("    out = {}")
    for index, field in enumerate(fields):
        env[f"F{index}"] = field
        lines.extend(_field_lines(index, field, env))
    lines.append("    return out")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), f"<shape {runtime}>", "exec"), env, namespace)  # noqa: S102
    shaped: _ShapeFn = namespace["shape"]
    return shaped


def _field_lines(index: int, field: ShapeField, env: dict[str, Any]) -> list[str]:
    """One field's statements: `out[key]` set, or `return _BUBBLE` when the object must be
    null. Anything off the common path goes to `Shaper._complete`, as a loop would."""
    key = repr(field.key)
    if field.kind == _TYPENAME:
        return [f"    out[{key}] = RUNTIME"]
    if field.kind == _DENIED:
        # Null in place, non-null or not, as the reference routers answer it (the field
        # was taken out of the operation, not failed).
        return [f"    self._unauthorized((path, {key}))", f"    out[{key}] = None"]
    lines = [f"    v = data.get({key})"]
    if field.alias:
        lines.append(f"    if v is None: v = data.get({field.alias!r})")
    complete = [
        f"        v = self._complete(F{index}, v, 0, (path, {key}))",
        "        if v is _BUBBLE: return _BUBBLE",
        f"        out[{key}] = v",
    ]
    if field.mode == _FAST_LEAF:
        if field.wrappers:
            lines.append(
                f"    if v is None: self._null_error(F{index}, (path, {key})); return _BUBBLE"
            )
        lines.append(f"    out[{key}] = v")
        return lines
    if field.mode == _GENERAL:
        return [*lines, *(line[4:] for line in complete)]
    sub = field.sub
    assert sub is not None
    env[f"S{index}"] = sub
    nested = sub.compiled(sub.static_type) if sub.static_type is not None else None
    if nested is not None:
        env[f"C{index}"] = nested
        call = f"C{index}(self, {{item}}, {{where}})"
    else:
        call = f"self._object(S{index}, {{item}}, {{where}}, {{item}}.get('__typename'))"
    if field.mode == _FAST_OBJECT:
        done = call.format(item="v", where=f"(path, {key})")
        return [
            *lines,
            "    if v.__class__ is _dict:",
            f"        done = {done}",
            "        if done is not None and done is not _BUBBLE:",
            f"            out[{key}] = done",
            "        else:",
            *("    " + line for line in complete),
            "    else:",
            *complete,
        ]
    # _FAST_OBJECTS: a list of objects; any item off the common path sends the whole
    # list to `_complete`.
    item = call.format(item="item", where="(at, position)")
    return [
        *lines,
        "    if v.__class__ is _list:",
        f"        at = (path, {key})",
        "        items = []",
        "        for position, item in enumerate(v):",
        "            if item.__class__ is not _dict:",
        "                items = None",
        "                break",
        f"            done = {item}",
        "            if done is None or done is _BUBBLE:",
        "                items = None",
        "                break",
        "            items.append(done)",
        "        if items is not None:",
        f"            out[{key}] = items",
        "        else:",
        *("    " + line for line in complete),
        "    else:",
        *complete,
    ]


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
        """The shaped object, None when its type cannot be here, `_BUBBLE` when it must be
        null and its position is non-null."""
        shaped = shape._compiled.get(runtime)  # compiled: the lookup without a call
        if shaped is None:
            shaped = shape.compiled(runtime)
            if shaped is None:
                return None
        return shaped(self, data, path)

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
