"""How a subgraph's fields execute cheaply: resolvers rewritten where strawberry's wrapper
ends with one plain call, and graphql-core's executor running compiled selection sets.

Most of a subgraph's answer is leaves read straight off a dataclass (`id`, `status`,
`startsAt`…). For each one graphql-core builds a response path, a resolve info, an empty
argument map, calls the resolver, then walks `complete_value` down to the scalar's
`coerce_output_value`: about as much work as the rest of a lookup by id. A field marked
plain here (its resolver reads one attribute; its type a scalar, an enum, an object of a
concrete type or a list of them; no arguments in the document) needs none of that.

Each selection set of an operation is compiled once, on its first request, into a plan
(response key, attribute, coercer or nested plan), kept with the parsed document with
graphql-core's own collected field sets, so later requests collect nothing again. A
subtree of plain fields is then completed by one recursive function, with no path, no
resolve info and exactly the calls graphql-core would make last. Everything else, and
any subtree with an unusual value (null where null is not allowed, a value the scalar
refuses, an exception, an awaitable), goes through graphql-core's own `execute_field`,
so errors, paths and nulls come out as graphql-core makes them: the compiled path only
reads and coerces, so nothing is lost when graphql-core does it all again.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from inspect import isasyncgenfunction
from math import isfinite
from types import CoroutineType, GeneratorType
from typing import Any, NamedTuple

import strawberry
from graphql import (
    FragmentDefinitionNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
    GraphQLUnionType,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    Undefined,
    VariableNode,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path, gather_with_cancel
from strawberry.relay.types import GlobalID
from strawberry.schema.compat import is_scalar
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.base import StrawberryMaybe, StrawberryObjectDefinition, StrawberryOptional
from strawberry.types.cast import get_strawberry_type_cast
from strawberry.utils.await_maybe import await_maybe

PLAIN = "servicekit.plain"
RUNTIME_TYPES = "servicekit.runtime-types"
_MISSING: Any = object()
_LEAVES = (GraphQLScalarType, GraphQLEnumType)


class PlainField(NamedTuple):
    """A field completed inline: the attribute it reads and the leaf type it coerces to."""

    attribute: str
    leaf: GraphQLLeafType
    nullable: bool


class PlainComposite(NamedTuple):
    """A field read from one attribute whose value is an object of a concrete type (no
    `is_type_of`) or a list, completed by the `LeanExecutor` without a resolve info."""

    attribute: str
    field_type: GraphQLOutputType
    kind: GraphQLObjectType | GraphQLList[Any]
    nullable: bool


def _concrete(kind: Any) -> bool:
    return type(kind) is GraphQLObjectType and kind.is_type_of is None


def mark_plain(object_type: GraphQLObjectType, name: str, attribute: str) -> None:
    """Mark `object_type.name` as read from `attribute`, when it takes no arguments and its
    type is a (non-null) leaf, a concrete object type or a list; other fields stay with
    graphql-core."""
    field = object_type.fields[name]
    if field.args:
        return
    kind = field.type
    nullable = not isinstance(kind, GraphQLNonNull)
    if not nullable:
        kind = kind.of_type  # type: ignore[union-attr]
    plain: dict[str, PlainField | PlainComposite] = object_type.extensions.setdefault(PLAIN, {})  # type: ignore[assignment]
    if isinstance(kind, _LEAVES):
        plain[name] = PlainField(attribute, kind, nullable)
    elif _concrete(kind) or type(kind) is GraphQLList:
        plain[name] = PlainComposite(attribute, field.type, kind, nullable)  # type: ignore[arg-type]


# What a compiled step does with the attribute it reads.
_TYPENAME, _LEAF, _OBJECT, _LEAF_LIST, _OBJECT_LIST, _COMPOSITE, _FIELD = range(7)
_ORDINARY_CLASSES: dict[type, bool] = dict.fromkeys((str, int, float, bool), True)


def _ordinary(cls: type) -> bool:
    """Whether graphql-core takes every instance of `cls` as it is: not an exception
    (raised as a field error), not awaitable (awaited), not `Undefined` (null). Known per
    class: an instance is awaitable through its class (a coroutine, an iterable-coroutine
    generator, `__await__` on its class), and an instance whose class has `__getattr__` may
    answer anything. The class's own attributes count, not its metaclass's (an enum's)."""
    ordinary = _ORDINARY_CLASSES.get(cls)
    if ordinary is None:
        ordinary = not (
            issubclass(cls, (BaseException, CoroutineType, GeneratorType))
            or cls is type(Undefined)
            or any("__await__" in vars(k) or "__getattr__" in vars(k) for k in cls.__mro__)
        )
        _ORDINARY_CLASSES[cls] = ordinary
    return ordinary


class _Unusual(Exception):
    """A value the compiled path leaves to graphql-core; nothing was done for it yet."""


_UNUSUAL = _Unusual()


class Step(NamedTuple):
    """One response key of a compiled selection set: what to read and how to complete it."""

    key: str
    kind: int
    # The attribute read, or for `__typename` the type's name.
    attribute: str
    nullable: bool
    coerce: Callable[[Any], Any] | None
    plan: Plan | None
    items_nullable: bool
    field_details_list: FieldDetailsList
    spec: PlainComposite | None
    # The class of the values completed without the coercer (`_quick_leaf`), what they
    # complete to by value (an enum's members) and the check they need (`_INT32`...).
    same: type | None
    memo: dict[Any, Any] | None
    check: int


class Plan(NamedTuple):
    """A selection set compiled for one object type: its steps in response order, and
    whether all of them (down to the leaves) complete without graphql-core."""

    steps: tuple[Step, ...]
    pure: bool


class OperationPlans:
    """What one operation of one document compiles to, shared by every request running it:
    the root field set, the sub-selections graphql-core collects (its own memo, which keys
    on the identity of the field lists, so the lists themselves must be the same ones
    every time) and a plan per (object type, field set)."""

    def __init__(self) -> None:
        self.root: GroupedFieldSet | None = None
        self.subfields: dict[Any, Any] = {}
        self.plans: dict[tuple[GraphQLObjectType, int], tuple[GroupedFieldSet, Plan]] = {}


class DocumentPlans:
    """The `OperationPlans` of a document's operations, by operation node. A document
    whose selections depend on the variables (`@skip(if: $v)`, fragment variables)
    has none: its field sets differ from one request to the next."""

    def __init__(self) -> None:
        self._operations: dict[int, tuple[OperationDefinitionNode, OperationPlans | None]] = {}

    def of(
        self,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
    ) -> OperationPlans | None:
        known = self._operations.get(id(operation))
        if known is None:
            fixed = _selections_are_fixed(operation, fragments)
            known = (operation, OperationPlans() if fixed else None)
            self._operations[id(operation)] = known
        return known[1]


def _selections_are_fixed(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> bool:
    """Whether no directive of the operation or its fragments takes a variable and no
    fragment declares variables: then graphql-core collects the same fields every time."""
    if any(fragment.variable_definitions for fragment in fragments.values()):
        return False
    pending: list[Any] = [operation.selection_set]
    pending += [fragment.selection_set for fragment in fragments.values()]
    while pending:
        selection_set = pending.pop()
        if selection_set is None:
            continue
        for selection in selection_set.selections:
            for directive in selection.directives or ():
                if any(_has_variable(argument.value) for argument in directive.arguments or ()):
                    return False
            pending.append(getattr(selection, "selection_set", None))
    return True


def _has_variable(value: Any) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_has_variable(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_has_variable(item.value) for item in value.fields)
    return False


def _complete(plan: Plan, source: Any) -> dict[str, Any]:
    """The completed object of a pure plan, read straight off `source`: the same dict
    graphql-core builds, or `_Unusual` (or whatever a read or a coercion raised) as soon as
    a value is one graphql-core must see. Reads and coercions only, so nothing is lost when
    graphql-core then does it all again."""
    result: dict[str, Any] = {}
    for (
        key,
        kind,
        attribute,
        nullable,
        coerce,
        sub,
        items_nullable,
        _,
        _,
        same,
        memo,
        check,
    ) in plan.steps:
        if kind == _TYPENAME:
            result[key] = attribute
            continue
        value = getattr(source, attribute)
        if value is None:
            if nullable:
                result[key] = None
                continue
            raise _UNUSUAL
        cls = type(value)
        if kind == _LEAF:
            if cls is same:
                if memo is not None:
                    value = memo[id(value)]
                elif check and not (
                    -2147483648 <= value <= 2147483647 if check == _INT32 else isfinite(value)
                ):
                    raise _UNUSUAL
            else:
                if not (_ORDINARY_CLASSES.get(cls) or _ordinary(cls)):
                    raise _UNUSUAL
                value = coerce(value)  # type: ignore[misc]
                if value is None or value is Undefined:
                    raise _UNUSUAL
            result[key] = value
            continue
        if not (_ORDINARY_CLASSES.get(cls) or _ordinary(cls)):
            raise _UNUSUAL
        if kind == _OBJECT:
            result[key] = _complete(sub, value)  # type: ignore[arg-type]
        elif cls is not list and cls is not tuple:
            raise _UNUSUAL
        elif kind == _LEAF_LIST:
            result[key] = _leaves(value, coerce, items_nullable, same, memo, check)  # type: ignore[arg-type]
        else:
            result[key] = _objects(value, sub, items_nullable)  # type: ignore[arg-type]
    return result


def _leaves(
    items: Any,
    coerce: Callable[[Any], Any],
    nullable: bool,
    same: type | None,
    memo: dict[Any, Any] | None,
    check: int,
) -> list[Any]:
    completed: list[Any] = []
    for item in items:
        if item is None:
            if not nullable:
                raise _UNUSUAL
            completed.append(None)
            continue
        cls = type(item)
        if cls is same:
            if memo is not None:
                item = memo[id(item)]
            elif check and not (
                -2147483648 <= item <= 2147483647 if check == _INT32 else isfinite(item)
            ):
                raise _UNUSUAL
        else:
            if not (_ORDINARY_CLASSES.get(cls) or _ordinary(cls)):
                raise _UNUSUAL
            item = coerce(item)
            if item is None or item is Undefined:
                raise _UNUSUAL
        completed.append(item)
    return completed


def _objects(items: Any, plan: Plan, nullable: bool) -> list[Any]:
    completed: list[Any] = []
    for item in items:
        if item is None:
            if not nullable:
                raise _UNUSUAL
            completed.append(None)
            continue
        cls = type(item)
        if not (_ORDINARY_CLASSES.get(cls) or _ordinary(cls)):
            raise _UNUSUAL
        completed.append(_complete(plan, item))
    return completed


# What a value of the exact class needs to complete as graphql-core's coercer completes it.
_AS_IS, _INT32, _FINITE = range(3)
_QUICK: dict[Any, tuple[type, int]] = {
    GraphQLString.coerce_output_value: (str, _AS_IS),
    GraphQLID.coerce_output_value: (str, _AS_IS),
    GraphQLBoolean.coerce_output_value: (bool, _AS_IS),
    GraphQLInt.coerce_output_value: (int, _INT32),  # its own value, if 32-bit
    GraphQLFloat.coerce_output_value: (float, _FINITE),  # its own value, if finite
}


def _quick_leaf(leaf: GraphQLLeafType) -> dict[str, Any]:
    """How values of `leaf` complete without its coercer: graphql-core's String, ID and
    Boolean return a `str` or `bool` as it is, Int and Float an `int` or `float` as it is
    once in range; strawberry's enum coerces a member to its name, always the same one, so
    each member's name is known once (members are the enum class's only instances)."""
    quick = _QUICK.get(leaf.coerce_output_value)
    if quick is not None:
        return {"same": quick[0], "check": quick[1]}
    members = getattr(leaf, "wrapped_cls", None)
    if (
        isinstance(leaf, GraphQLEnumType)
        and isinstance(members, type)
        and issubclass(members, Enum)
    ):
        try:
            # by identity: an enum's hash is a Python call, and its members live as long
            # as their class
            memo = {id(member): leaf.coerce_output_value(member) for member in members}
        except Exception:
            return {}
        if all(isinstance(name, str) for name in memo.values()):
            return {"same": members, "memo": memo}
    return {}


def _complete_step(step: Step, source: Any) -> Any:
    """One pure step alone, as `_complete` does it inside a plan."""
    return _complete(Plan((step,), True), source)[step.key]


class LeanExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor (its resolve info), with each selection set compiled once per
    operation into a plan: plain fields, lists and objects of a known type completed
    inline, whole subtrees of them in one call; the rest through graphql-core.

    `plans` (a `DocumentPlans`, kept with the parsed document) shares the compiled plans
    between the requests that run the same document; without it they last one request."""

    def __init__(self, *args: Any, plans: DocumentPlans | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._operation_plans: OperationPlans | None = None
        if self.middleware_manager is None and not self._streams():
            self._operation_plans = (plans or DocumentPlans()).of(
                self.operation, self.fragment_definitions
            )
        if self._operation_plans is not None:
            # graphql-core's memo of sub-selections, shared: the same field lists each time.
            self._relevant_sub_fields = self._operation_plans.subfields

    def execute_collected_root_fields(  # type: ignore[override]
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
        new_defer_usages: Any,
    ) -> Any:
        """The root fields as collected the first time, so every field list under them is
        the one the shared memo and plans know."""
        shared = self._operation_plans
        if shared is not None:
            if shared.root is None:
                shared.root = grouped_field_set
            grouped_field_set = shared.root
        return super().execute_collected_root_fields(
            root_type, root_value, grouped_field_set, serially, new_defer_usages
        )

    def execute_fields(  # type: ignore[override]
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        shared = self._operation_plans
        if shared is None or position_context is not None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        known = shared.plans.get((parent_type, id(grouped_field_set)))
        plan = known[1] if known is not None else self._plan(parent_type, grouped_field_set)
        if not plan.pure:
            return self._execute_plan(plan, parent_type, source_value, path)
        try:
            return _complete(plan, source_value)
        except Exception:
            # Anything unusual on the plain path (a null, a refused value, an attribute
            # that raised): the plan again through graphql-core, which re-reads the same
            # attributes and makes the errors, paths and nulls as it does.
            return self._execute_plan(plan, parent_type, source_value, path)

    def collect_and_execute_subfields(  # type: ignore[override]
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """An object's sub-selection straight to `execute_fields` where nothing is deferred,
        which is where graphql-core's incremental executor ends for it."""
        if self._operation_plans is not None and position_context is None:
            grouped_field_set, new_defer_usages, _ = self.collect_subfields(
                return_type, field_details_list
            )
            if not new_defer_usages:
                return self.execute_fields(return_type, result, path, grouped_field_set, None)
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    async def complete_awaitable_list_item_value(  # type: ignore[override]
        self,
        item: Any,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: Any,
        item_path: Path,
        position_context: Any,
    ) -> Any:
        """graphql-core's, with the item awaited in place where no abort signal can cut it
        short (its `with_abort_signal` then only awaits it, in one more coroutine)."""
        if self.abort_signal is not None or position_context is not None:
            return await super().complete_awaitable_list_item_value(
                item, item_type, field_details_list, info, item_path, position_context
            )
        try:
            completed = self.complete_value(
                item_type, field_details_list, info, item_path, await item, None
            )
            if self.is_awaitable(completed):
                completed = await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, item_type, field_details_list, item_path)
            return None
        return completed

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> Plan:
        """The plan of `grouped_field_set` on `parent_type`, compiled and remembered."""
        shared = self._operation_plans
        assert shared is not None
        plain: dict[str, PlainField | PlainComposite] = parent_type.extensions.get(PLAIN) or {}
        steps: list[Step] = []
        for key, field_details_list in grouped_field_set.items():
            node = field_details_list[0].node
            name = node.name.value
            spec = None if node.arguments else plain.get(name)
            step = Step(
                key, _FIELD, name, True, None, None, True, field_details_list, None, None, None, 0
            )
            if name == "__typename":
                step = step._replace(kind=_TYPENAME, attribute=parent_type.name)
            elif type(spec) is PlainField:
                step = step._replace(
                    kind=_LEAF,
                    attribute=spec.attribute,
                    nullable=spec.nullable,
                    coerce=spec.leaf.coerce_output_value,
                    **_quick_leaf(spec.leaf),
                )
            elif type(spec) is PlainComposite:
                step = self._composite_step(step, spec)
            steps.append(step)
        pure = all(
            step.kind in (_TYPENAME, _LEAF, _LEAF_LIST)
            or (step.kind in (_OBJECT, _OBJECT_LIST) and step.plan.pure)  # type: ignore[union-attr]
            for step in steps
        )
        plan = Plan(tuple(steps), pure)
        shared.plans[(parent_type, id(grouped_field_set))] = (grouped_field_set, plan)
        return plan

    def _composite_step(self, step: Step, spec: PlainComposite) -> Step:
        """The step of a plain object or list field: its items' leaf type or the plan of
        its sub-selection where they are concrete, else the `_composite` way."""
        step = step._replace(
            kind=_COMPOSITE, attribute=spec.attribute, nullable=spec.nullable, spec=spec
        )
        kind: Any = spec.kind
        items_nullable = True
        if type(kind) is GraphQLList:
            kind = kind.of_type
            items_nullable = type(kind) is not GraphQLNonNull
            if not items_nullable:
                kind = kind.of_type
            if isinstance(kind, _LEAVES):
                return step._replace(
                    kind=_LEAF_LIST,
                    coerce=kind.coerce_output_value,
                    items_nullable=items_nullable,
                    **_quick_leaf(kind),
                )
            if not _concrete(kind):
                return step
            list_kind = _OBJECT_LIST
        else:
            list_kind = _OBJECT
        collected = self.collect_subfields(kind, step.field_details_list)
        known = self._operation_plans.plans.get(  # type: ignore[union-attr]
            (kind, id(collected.grouped_field_set))
        )
        plan = known[1] if known is not None else self._plan(kind, collected.grouped_field_set)
        return step._replace(kind=list_kind, plan=plan, items_nullable=items_nullable)

    def _execute_plan(
        self, plan: Plan, parent_type: GraphQLObjectType, source: Any, path: Path | None
    ) -> Any:
        """A plan step by step: pure steps inline, each falling back to graphql-core's
        `execute_field` when its value is unusual; the others through graphql-core (a
        plain composite through `_composite`), with their paths."""
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for step in plan.steps:
                key, kind = step.key, step.kind
                if kind == _TYPENAME:
                    results[key] = step.attribute
                    continue
                if kind != _FIELD and (
                    kind in (_LEAF, _LEAF_LIST) or (kind != _COMPOSITE and step.plan.pure)  # type: ignore[union-attr]
                ):
                    try:
                        results[key] = _complete_step(step, source)
                        continue
                    except Exception:  # noqa: S110 (graphql-core's execute_field below)
                        pass
                elif kind != _FIELD:
                    value = self._composite(
                        step.spec,  # type: ignore[arg-type]
                        source,
                        step.field_details_list,
                        Path(path, key, parent_type.name),
                    )
                    if value is not _MISSING:
                        results[key] = value
                        if is_awaitable(value):
                            awaitable_fields.append(key)
                        continue
                result = self.execute_field(
                    parent_type,
                    source,
                    step.field_details_list,
                    Path(path, key, parent_type.name),
                    None,
                )
                if result is not Undefined:
                    results[key] = result
                    if is_awaitable(result):
                        awaitable_fields.append(key)
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

    def _composite(
        self, spec: PlainComposite, source: Any, field_details_list: Any, path: Path
    ) -> Any:
        """The completed value of an object or list field read off its attribute, as
        graphql-core's `execute_field` makes it, or _MISSING (nothing done yet) when the
        value is one graphql-core must see."""
        try:
            value = getattr(source, spec.attribute)
        except Exception:
            return _MISSING
        if value is None:
            return None if spec.nullable else _MISSING
        if isinstance(value, Exception) or value is Undefined or self.is_awaitable(value):
            return _MISSING
        try:
            if type(spec.kind) is GraphQLList:
                completed = self._complete_list(spec.kind, field_details_list, None, path, value)
                if completed is _MISSING:
                    return _MISSING
            else:
                completed = self.collect_and_execute_subfields(
                    spec.kind,  # type: ignore[arg-type]
                    field_details_list,
                    path,
                    value,
                    None,
                )
        except Exception as raw_error:
            self.handle_field_error(raw_error, spec.field_type, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._settle(completed, spec.field_type, field_details_list, path)
        return completed

    async def _settle(
        self, completed: Any, return_type: Any, field_details_list: Any, path: Path
    ) -> Any:
        """An awaited completion, its error handled where graphql-core handles it."""
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    def complete_value(  # type: ignore[override]
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """An object value (a list's items, a field's object, an entity of a union) goes
        straight to its sub-selection, a list to `_complete_list`, which is where
        graphql-core's `complete_value` ends for them; every other value takes
        graphql-core's way."""
        if position_context is None and not (
            result is None or result is Undefined or isinstance(result, Exception)
        ):
            kind = return_type.of_type if type(return_type) is GraphQLNonNull else return_type
            kind_type = type(kind)
            if kind_type is GraphQLObjectType:
                if kind.is_type_of is None:
                    return self.collect_and_execute_subfields(
                        kind, field_details_list, path, result, None
                    )
            elif kind_type is GraphQLList:
                completed = self._complete_list(kind, field_details_list, info, path, result)
                if completed is not _MISSING:
                    return completed
            elif kind_type is GraphQLUnionType:
                runtime = self._runtime_type(kind, result, info)
                if runtime is not None:
                    return self.collect_and_execute_subfields(
                        runtime, field_details_list, path, result, None
                    )
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _runtime_type(self, union: GraphQLUnionType, result: Any, info: Any) -> Any:
        """The concrete object type strawberry's union resolver gives `result`, remembered
        per Python class: for an instance of a non-generic strawberry type that is not a
        `strawberry.cast`, the resolver's answer depends on the class alone. None when
        graphql-core must decide (casts, generics, types with `is_type_of`, no type)."""
        if get_strawberry_type_cast(result) is not None:
            return None
        known: dict[type, Any] = union.extensions.setdefault(RUNTIME_TYPES, {})  # type: ignore[assignment]
        cls = type(result)
        if cls in known:
            return known[cls]
        runtime = None
        definition = getattr(cls, "__strawberry_definition__", None)
        resolver = union.resolve_type
        if (
            isinstance(definition, StrawberryObjectDefinition)
            and not definition.is_graphql_generic
            and definition.concrete_of is None
            and getattr(resolver, "__name__", "") == "_resolve_union_type"
        ):
            try:
                name = resolver(result, info, union)  # type: ignore[misc]
            except Exception:
                name = None
            found = self.schema.get_type(name) if isinstance(name, str) else None
            if _concrete(found) and found in union.types:
                runtime = found
        known[cls] = runtime
        return runtime

    def _complete_list(
        self,
        list_type: GraphQLList[Any],
        field_details_list: Any,
        info: Any,
        path: Path,
        items: Any,
    ) -> Any:
        """A list (or tuple) of leaves, of objects of a concrete type or of union members,
        completed item by item without graphql-core's per-item calls; an item that is
        unusual goes to graphql-core's own item completion. Without `info` (a field read
        off its attribute) any such item makes it _MISSING, before anything is done.
        _MISSING too for other iterables, and where `@stream` exists."""
        if (type(items) is not list and type(items) is not tuple) or self._streams():
            return _MISSING
        item_type = list_type.of_type
        nullable = type(item_type) is not GraphQLNonNull
        inner = item_type if nullable else item_type.of_type
        is_awaitable = self.is_awaitable
        if isinstance(inner, _LEAVES):
            return self._complete_leaves(
                inner, nullable, items, info, list_type, field_details_list, path
            )
        concrete = _concrete(inner)
        if not concrete and type(inner) is not GraphQLUnionType:
            return _MISSING
        if info is None:
            for item in items:
                if item is None:
                    if nullable:
                        continue
                    return _MISSING
                if (
                    not concrete
                    or item is Undefined
                    or isinstance(item, Exception)
                    or is_awaitable(item)
                ):
                    return _MISSING
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        try:
            for index, item in enumerate(items):
                if item is None and nullable:
                    completed.append(None)
                    continue
                item_path = path.add_key(index, None)
                runtime = inner if concrete else None
                if (
                    item is None
                    or item is Undefined
                    or isinstance(item, Exception)
                    or is_awaitable(item)
                    or (
                        runtime is None
                        and (runtime := self._runtime_type(inner, item, info)) is None  # type: ignore[arg-type]
                    )
                ):
                    # graphql-core's own item completion, for what is unusual.
                    if is_awaitable(item):
                        completed.append(
                            self.complete_awaitable_list_item_value(
                                item, item_type, field_details_list, info, item_path, None
                            )
                        )
                        awaitable_indices.append(index)
                    elif self.complete_list_item_value(
                        item, completed, item_type, field_details_list, info, item_path, None
                    ):
                        awaitable_indices.append(index)
                    continue
                try:
                    value = self.collect_and_execute_subfields(
                        runtime, field_details_list, item_path, item, None
                    )
                except Exception as raw_error:
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    completed.append(None)
                    continue
                if is_awaitable(value):
                    completed.append(self._settle(value, item_type, field_details_list, item_path))
                    awaitable_indices.append(index)
                else:
                    completed.append(value)
        except Exception:
            if awaitable_indices:
                self.settle_in_background([completed[index] for index in awaitable_indices])
            raise
        if not awaitable_indices:
            return completed

        async def get_completed() -> list[Any]:
            if len(awaitable_indices) == 1:
                index = awaitable_indices[0]
                completed[index] = await completed[index]
            else:
                awaited = await gather_with_cancel(*(completed[i] for i in awaitable_indices))
                for index, value in zip(awaitable_indices, awaited, strict=True):
                    completed[index] = value
            return completed

        return get_completed()

    def _complete_leaves(
        self,
        leaf: GraphQLLeafType,
        nullable: bool,
        items: Any,
        info: Any,
        list_type: Any,
        field_details_list: Any,
        path: Path,
    ) -> Any:
        """A list of leaves coerced in one loop; any item graphql-core would refuse or
        await hands the whole list to it (coercion has no effects, so nothing is lost)."""
        coerce = leaf.coerce_output_value
        is_awaitable = self.is_awaitable
        completed: list[Any] = []
        for item in items:
            if item is None:
                if nullable:
                    completed.append(None)
                    continue
                break
            if isinstance(item, Exception) or item is Undefined or is_awaitable(item):
                break
            try:
                coerced = coerce(item)
            except Exception:
                break
            if coerced is None or coerced is Undefined:
                break
            completed.append(coerced)
        else:
            return completed
        if info is None:
            return _MISSING
        return super().complete_list_value(list_type, field_details_list, info, path, items, None)

    def _streams(self) -> bool:
        """Whether `@stream` is known to the schema, so a list may have to stream."""
        streams: bool | None = getattr(self, "_may_stream", None)
        if streams is None:
            streams = self.schema.get_directive("stream") is not None
            self._may_stream = streams
        return streams


def _inline(spec: PlainField, source: Any, is_awaitable: Any) -> Any:
    """The completed value of a plain field, or _MISSING when graphql-core must decide.

    Nothing is swallowed here: on _MISSING graphql-core completes the field itself and
    reports any error with its path, exactly as without this shortcut."""
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


def _scalar_argument(type_: Any, scalar_registry: Any) -> bool:
    """Whether strawberry passes an argument of `type_` on as graphql-core coerced it: a
    scalar (not a `GlobalID`, which it decodes), optional or not, never a `Maybe`."""
    if isinstance(type_, StrawberryMaybe):
        return False
    if isinstance(type_, StrawberryOptional):
        type_ = type_.of_type
    return type_ is not GlobalID and is_scalar(type_, scalar_registry)


def _with_scalar_arguments(
    function: Callable[..., Any],
    names: dict[str, str],
    passes: tuple[bool, str | None, str | None, str | None],
    info_of: Callable[[Any], Any],
    is_async: bool,
) -> Callable[..., Any]:
    """The resolver strawberry would end with: arguments renamed to their Python names,
    `self`, `root`, `parent` and `info` given as the resolver asks for them."""
    takes_self, root, parent, info_name = passes

    def call(source: Any, info: Any, arguments: dict[str, Any]) -> Any:
        kwargs = {names[name]: value for name, value in arguments.items()}
        if root is not None:
            kwargs[root] = source
        if parent is not None:
            kwargs[parent] = source
        if info_name is not None:
            kwargs[info_name] = info_of(info)
        return function(source, **kwargs) if takes_self else function(**kwargs)

    if is_async:

        async def resolve_async(source: Any, info: Any, **arguments: Any) -> Any:
            # strawberry awaits whatever an async resolver's result is, once more
            return await await_maybe(call(source, info, arguments))

        resolve_async._is_default = False  # type: ignore[attr-defined]
        return resolve_async

    def resolve(source: Any, info: Any, **arguments: Any) -> Any:
        return call(source, info, arguments)

    resolve._is_default = False  # type: ignore[attr-defined]
    return resolve


def call_scalar_argument_resolvers_directly(schema: strawberry.federation.Schema) -> None:
    """A resolver whose arguments are all scalars (`listing(id:)`, `me`) is called with the
    values graphql-core coerced, under their Python names, and strawberry's `Info`.

    That is what strawberry's wrapper ends with for such a field, after converting each
    argument (a scalar's value is passed on as it is), looking its reserved parameters up
    and chaining its field extensions; a root field pays it on every request. A field
    extension or permission, an exception handler, an input, enum, list, `Maybe` or
    `GlobalID` argument, an async generator or a subscription keeps strawberry's path."""
    converter = schema.schema_converter
    registry = converter.scalar_registry
    subscription = schema._schema.subscription_type
    for named in schema._schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        if named is subscription:
            continue
        for core_field in named.fields.values():
            definition: Any = (core_field.extensions or {}).get("strawberry-definition")
            resolver = getattr(definition, "base_resolver", None)
            if resolver is None or definition.extensions or not callable(resolver.wrapped_func):
                continue
            if converter._get_field_exception_handlers(definition):
                continue
            if isasyncgenfunction(resolver._unbound_wrapped_func):
                continue
            arguments = definition.arguments
            if not all(_scalar_argument(a.type, registry) for a in arguments):
                continue
            if getattr(core_field.resolve, "__qualname__", "").startswith("_method."):
                continue  # already called directly (`self`-only methods)
            names = {
                converter.config.name_converter.from_argument(a): a.python_name for a in arguments
            }

            def info_of(info: Any, field: Any = definition) -> Any:
                return converter.config.info_class(_raw_info=info, _field=field)

            passes = (
                resolver.self_parameter is not None,
                getattr(resolver.root_parameter, "name", None),
                getattr(resolver.parent_parameter, "name", None),
                getattr(resolver.info_parameter, "name", None),
            )
            core_field.resolve = _with_scalar_arguments(
                resolver.wrapped_func, names, passes, info_of, resolver.is_async
            )
