"""Checks of one subgraph's own federation directives, before anything is merged.

`@key`, `@requires` and `@provides` name fields by string; each must select fields that
exist in that subgraph, in a shape the directive allows. While walking them this also
records the facts the merge needs: which fields are key fields (implicitly shareable),
which `@external` fields are only the "fake" externals of a federation-1 style entity
extension, which fields a subgraph provides and which it requires.
"""

from __future__ import annotations

from collections.abc import Callable

from .fieldsets import FieldSetSyntaxError, Selection, parse_field_set
from .subgraph import (
    ENUM,
    INPUT,
    INTERFACE,
    KIND_LABELS,
    OBJECT,
    SCALAR,
    UNION,
    Field,
    Key,
    Subgraph,
)
from .types import IssueLog

Visit = Callable[[str, str, Field, int], None]


class _FieldSetChecker:
    """Walks one field set against one subgraph, reporting with a directive-specific code."""

    def __init__(self, subgraph: Subgraph, issues: IssueLog, directive: str, prefix: str) -> None:
        self.subgraph = subgraph
        self.issues = issues
        self.directive = directive
        self.code = directive.upper()
        self.prefix = f"[{subgraph.name}] {prefix}"
        self.ok = True

    def error(self, code: str, message: str, coordinate: str | None = None) -> None:
        self.ok = False
        self.issues.add(code, self.prefix + message, [self.subgraph.name], coordinate)

    def walk(
        self, type_name: str, selections: tuple[Selection, ...], visit: Visit, depth: int = 0
    ) -> None:
        owner = self.subgraph.types.get(type_name)
        for selection in selections:
            if selection.type_condition is not None or not selection.name:
                condition = selection.type_condition or type_name
                if condition not in self.subgraph.types:
                    self.error(f"{self.code}_INVALID_FIELDS", f'Unknown type "{condition}".')
                else:
                    self.walk(condition, selection.children, visit, depth)
                continue
            if selection.name == "__typename":
                continue
            found = owner.fields.get(selection.name) if owner is not None else None
            if found is None:
                advice = (
                    "the field should either be added to this subgraph or, if it should not be "
                    "resolved by this subgraph, you need to add it to this subgraph with @external"
                    if self.directive == "key"
                    else "if the field is defined in another subgraph, you need to add it to "
                    "this subgraph with @external"
                )
                self.error(
                    f"{self.code}_INVALID_FIELDS",
                    f'Cannot query field "{selection.name}" on type "{type_name}" ({advice}).',
                    f"{type_name}.{selection.name}",
                )
                continue
            coordinate = f"{type_name}.{selection.name}"
            if selection.has_alias:
                self.error(
                    f"{self.code}_INVALID_FIELDS",
                    f'Cannot use an alias on field "{coordinate}": aliases are not allowed in '
                    f"@{self.directive}",
                    coordinate,
                )
            if selection.has_args and self.directive == "key":
                self.error(
                    "KEY_FIELDS_HAS_ARGS",
                    f"field {coordinate} cannot be included because it has arguments (fields "
                    "with argument are not allowed in @key)",
                    coordinate,
                )
            target = self.subgraph.types.get(found.type.named)
            composite = target is not None and target.kind in (OBJECT, INTERFACE, UNION)
            if self.directive == "key" and target is not None and target.kind in (INTERFACE, UNION):
                label = "Interface" if target.kind == INTERFACE else "Union"
                self.error(
                    "KEY_FIELDS_SELECT_INVALID_TYPE",
                    f'field "{coordinate}" is a {label} type which is not allowed in @key',
                    coordinate,
                )
                continue
            if composite and not selection.children:
                self.error(
                    f"{self.code}_INVALID_FIELDS",
                    f'Invalid empty selection set for field "{coordinate}" of non-leaf type '
                    f"{found.type}",
                    coordinate,
                )
                continue
            if not composite and selection.children:
                self.error(
                    f"{self.code}_INVALID_FIELDS",
                    f'Field "{selection.name}" must not have a selection since type '
                    f'"{found.type}" has no subfields.',
                    coordinate,
                )
                continue
            visit(type_name, selection.name, found, depth)
            if selection.children:
                self.walk(found.type.named, selection.children, visit, depth + 1)

    def parse(self, text: str) -> tuple[Selection, ...] | None:
        try:
            return parse_field_set(text)
        except FieldSetSyntaxError as exc:
            self.error(f"{self.code}_INVALID_FIELDS", str(exc))
            return None


def validate_subgraph(subgraph: Subgraph, issues: IssueLog) -> None:
    """Validate keys, requires and provides of one subgraph and record what they select."""
    if not _check_references(subgraph, issues):
        return
    _check_keys(subgraph, issues)
    _check_requires(subgraph, issues)
    _check_provides(subgraph, issues)
    unused = _unused_externals(subgraph)
    if subgraph.fed2:
        for owner_name, field_name in unused:
            coordinate = f"{owner_name}.{field_name}"
            issues.add(
                "EXTERNAL_UNUSED",
                f'[{subgraph.name}] Field "{coordinate}" is marked @external but is not used in '
                "any federation directive (@key, @provides, @requires) or to satisfy an "
                "interface; the field declaration has no use and should be removed (or the "
                "field should not be @external).",
                [subgraph.name],
                coordinate,
            )
    else:
        # Federation 1 tolerated unused @external declarations: they are simply dropped.
        for owner_name, field_name in unused:
            del subgraph.types[owner_name].fields[field_name]
        # Federation 1 had no @shareable: every field could be resolved anywhere.
        for owner in subgraph.types.values():
            for item in owner.fields.values():
                item.shareable = True


BUILT_IN_SCALARS = frozenset({"String", "Int", "Float", "Boolean", "ID"})
OUTPUT_KINDS = frozenset({OBJECT, INTERFACE, UNION, ENUM, SCALAR})
INPUT_KINDS = frozenset({INPUT, ENUM, SCALAR})


def _check_references(subgraph: Subgraph, issues: IssueLog) -> bool:
    """Every type a subgraph names must exist there, and be usable where it is used."""
    ok = True

    def check(coordinate: str, name: str, allowed: frozenset[str], position: str) -> None:
        nonlocal ok
        if name in BUILT_IN_SCALARS:
            return
        target = subgraph.types.get(name)
        if target is None:
            message = f'[{subgraph.name}] Unknown type {name} (used by "{coordinate}").'
        elif target.kind not in allowed:
            message = (
                f'[{subgraph.name}] The type of "{coordinate}" must be {position} type but got '
                f'"{name}" ({KIND_LABELS[target.kind]}).'
            )
        else:
            return
        ok = False
        issues.add("INVALID_GRAPHQL", message, [subgraph.name], coordinate)

    for owner in subgraph.types.values():
        for item in owner.fields.values():
            coordinate = f"{owner.name}.{item.name}"
            if owner.kind == INPUT:
                check(coordinate, item.type.named, INPUT_KINDS, "an input")
                continue
            check(coordinate, item.type.named, OUTPUT_KINDS, "an output")
            for arg in item.args.values():
                check(f"{coordinate}({arg.name}:)", arg.type.named, INPUT_KINDS, "an input")
        for interface in owner.interfaces:
            check(owner.name, interface, frozenset({INTERFACE}), "an interface")
        for member in owner.members:
            check(owner.name, member, frozenset({OBJECT}), "an object")
    return ok


def _unused_externals(subgraph: Subgraph) -> list[tuple[str, str]]:
    """`@external` fields no key, `@requires`, `@provides` or interface needs."""
    used = subgraph.key_fields | subgraph.required | subgraph.provided
    unused: list[tuple[str, str]] = []
    for owner in subgraph.types.values():
        interface_fields = {
            name
            for interface in owner.interfaces
            if (definition := subgraph.types.get(interface)) is not None
            for name in definition.fields
        }
        for item in owner.fields.values():
            if not item.external or (owner.name, item.name) in used:
                continue
            if item.name not in interface_fields:
                unused.append((owner.name, item.name))
    return unused


def _check_keys(subgraph: Subgraph, issues: IssueLog) -> None:
    for owner in subgraph.types.values():
        for key in owner.keys:
            checker = _FieldSetChecker(
                subgraph,
                issues,
                "key",
                f'On type "{owner.name}", for @key(fields: "{key.fields}"): ',
            )
            selections = checker.parse(key.fields)
            if selections is None:
                continue

            def visit(
                type_name: str, field_name: str, found: Field, depth: int, key: Key = key
            ) -> None:
                subgraph.key_fields.add((type_name, field_name))
                if key.extension and found.external:
                    # A federation-1 style `extend type T @key` stub marks its key fields
                    # @external although it resolves them: they are not really external.
                    found.external = False

            checker.walk(owner.name, selections, visit)


def _check_requires(subgraph: Subgraph, issues: IssueLog) -> None:
    for owner in subgraph.types.values():
        for item in owner.fields.values():
            if item.requires is None:
                continue
            checker = _FieldSetChecker(
                subgraph,
                issues,
                "requires",
                f'On field "{owner.name}.{item.name}", for @requires(fields: "{item.requires}"): ',
            )
            selections = checker.parse(item.requires)
            if selections is None:
                continue
            # A local field may lead to external ones (`comments { authorId }` with only
            # `authorId` external): the requirement is what lies below it.
            leads_out = {
                s.name
                for s in selections
                if s.name and s.children and _reaches_external(subgraph, owner.name, s)
            }

            def visit(
                type_name: str,
                field_name: str,
                found: Field,
                depth: int,
                checker: _FieldSetChecker = checker,
                leads_out: set[str] = leads_out,
            ) -> None:
                subgraph.required.add((type_name, field_name))
                if (
                    depth == 0
                    and not found.external
                    and subgraph.fed2
                    and field_name not in leads_out
                ):
                    checker.error(
                        "REQUIRES_FIELDS_MISSING_EXTERNAL",
                        f'field "{type_name}.{field_name}" should not be part of a @requires '
                        "since it is already provided by this subgraph (it is not marked "
                        "@external)",
                        f"{type_name}.{field_name}",
                    )

            checker.walk(owner.name, selections, visit)


def _reaches_external(subgraph: Subgraph, type_name: str, selection: Selection) -> bool:
    """Whether a field-set selection on `type_name` holds an `@external` field below it."""
    owner = subgraph.types.get(type_name)
    found = owner.fields.get(selection.name) if owner is not None and selection.name else None
    if found is None:
        return False
    if found.external:
        return True
    child = found.type.named
    for sub in selection.children:
        if sub.type_condition is not None or not sub.name:
            inner = sub.type_condition or child
            if any(_reaches_external(subgraph, inner, s) for s in sub.children):
                return True
        elif _reaches_external(subgraph, child, sub):
            return True
    return False


def _check_provides(subgraph: Subgraph, issues: IssueLog) -> None:
    for owner in subgraph.types.values():
        for item in owner.fields.values():
            if item.provides is None:
                continue
            coordinate = f"{owner.name}.{item.name}"
            target = subgraph.types.get(item.type.named)
            if target is None or target.kind not in (OBJECT, INTERFACE, UNION):
                issues.add(
                    "PROVIDES_ON_NON_OBJECT_FIELD",
                    f'[{subgraph.name}] Invalid @provides directive on field "{coordinate}": '
                    f'field has type "{item.type}" which is not a Composite Type',
                    [subgraph.name],
                    coordinate,
                )
                continue
            checker = _FieldSetChecker(
                subgraph,
                issues,
                "provides",
                f'On field "{coordinate}", for @provides(fields: "{item.provides}"): ',
            )
            selections = checker.parse(item.provides)
            if selections is None:
                continue

            def visit(type_name: str, field_name: str, found: Field, depth: int) -> None:
                # Providing a field this subgraph resolves anyway is harmless (and allowed).
                subgraph.provided.add((type_name, field_name))

            checker.walk(target.name, selections, visit)
