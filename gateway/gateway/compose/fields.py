"""Merging one field (and its arguments) across the subgraphs that define its parent type.

This is where the supergraph's `@join__field` annotations are decided. A field gets none
when every subgraph that knows the parent type resolves the field itself, with the same
type and without `@requires`/`@provides`/`@external`/`@override`; otherwise every
subgraph that defines it gets one, saying how it takes part.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from .guards import merge_guards
from .model import JoinField, SArgument, SField
from .printer import string
from .subgraph import OBJECT, Argument, Field, Marks, Subgraph
from .typeref import TypeRef, is_strict_subtype
from .types import IssueLog
from .wording import grouped, subgraph_list


@dataclass(slots=True)
class Source:
    """The field as one subgraph defines it (`field` None when that subgraph lacks it)."""

    subgraph: Subgraph
    field: Field | None


def most_common(descriptions: Sequence[str | None]) -> str | None:
    """The description most subgraphs agree on (the first one written wins ties)."""
    written = [d for d in descriptions if d]
    if not written:
        return None
    counts = Counter(written)
    best = max(counts.values())
    return next(d for d in written if counts[d] == best)


def pass_through(marks: Sequence[Marks]) -> tuple[list[str], bool, bool, set[str]]:
    """Printed pass-through applications, whether `@inaccessible` / `@tag` are used, and
    the guard specs (`guards.links`) the applications need.

    `@inaccessible` comes first (the printer places it where composition applies it, before
    the join directives of a field); the others follow in the order the subgraphs wrote
    them, then the merged guards, then the applications of composed directives.
    """
    names: list[str] = []
    for mark in marks:
        names.extend(n for n in mark.order if n not in names)
    tags: list[str] = []
    for mark in marks:
        tags.extend(t for t in mark.tags if t not in tags)
    out = ["@inaccessible"] if "inaccessible" in names else []
    for name in names:
        if name == "deprecated":
            out.append(next(m.deprecated for m in marks if m.deprecated))
        elif name == "specifiedBy":
            out.append(next(m.specified_by for m in marks if m.specified_by))
        elif name == "tag":
            out.extend(f"@tag(name: {string(tag)})" for tag in tags)
    guarded, specs = merge_guards([mark.guards for mark in marks])
    return out + guarded + _composed(marks), "inaccessible" in names, bool(tags), specs


def _composed(marks: Sequence[Marks]) -> list[str]:
    """Composed directives' applications: each distinct one once; of a non-repeatable
    directive, the first subgraph's only."""
    out: list[str] = []
    seen: set[str] = set()
    for mark in marks:
        for name, printed, repeatable in mark.composed:
            if printed in out or (not repeatable and name in seen):
                continue
            seen.add(name)
            out.append(printed)
    return out


class FieldMerger:
    """Merges fields for one supergraph; `possible` maps abstract types to their members."""

    def __init__(
        self, issues: IssueLog, graph_enum: Mapping[str, str], possible: Mapping[str, Set[str]]
    ) -> None:
        self.issues = issues
        self.graph_enum = graph_enum
        self.possible = possible
        self.uses_inaccessible = False
        self.uses_tag = False
        self.uses_specs: set[str] = set()

    def description(self, element: str, written: Sequence[tuple[str, str | None]]) -> str | None:
        """The description to keep; a hint when subgraphs describe the element differently."""
        chosen = most_common([d for _, d in written])
        others: dict[str, list[str]] = {}
        for subgraph, text in written:
            if text and text != chosen:
                others.setdefault(text, []).append(subgraph)
        if chosen is not None and others:
            keeping = [subgraph for subgraph, text in written if text == chosen]
            parts = [
                f"In {subgraph_list(names)}, the description is:\n{_quoted_block(text)}"
                for text, names in others.items()
            ]
            self.issues.hint(
                "INCONSISTENT_DESCRIPTION",
                f'Element "{element}" has inconsistent descriptions across subgraphs. The '
                f"supergraph will use description (from {subgraph_list(keeping)}):\n"
                f"{_quoted_block(chosen)}\n" + " and \n".join(parts),
                keeping + [n for names in others.values() for n in names],
                element,
            )
        return chosen

    def marks(self, marks: Sequence[Marks]) -> list[str]:
        out, inaccessible, tags, specs = pass_through(marks)
        self.uses_inaccessible |= inaccessible
        self.uses_tag |= tags
        self.uses_specs |= specs
        return out

    # -- output fields -------------------------------------------------------------------

    def merge_output(
        self, parent: str, parent_kind: str, name: str, sources: Sequence[Source]
    ) -> SField | None:
        coordinate = f"{parent}.{name}"
        present = [s for s in sources if s.field is not None]
        overridden = self._overrides(parent, name, present)
        resolving = [s for s in present if not _field(s).external]
        if not resolving:
            names = [s.subgraph.name for s in present]
            self.issues.add(
                "EXTERNAL_MISSING_ON_BASE",
                f'Field "{coordinate}" is marked @external on all the subgraphs in which it is '
                f"listed ({subgraph_list(names)}).",
                names,
                coordinate,
            )
            return None
        merged_type = self._output_type(coordinate, resolving)
        if merged_type is None:
            if parent_kind == OBJECT:
                self._check_sharing(parent, coordinate, present, overridden)
            return None
        self._check_externals(coordinate, merged_type, present)
        all_equal = len({_field(s).type for s in present}) == 1
        result = SField(
            name,
            merged_type,
            self.description(
                coordinate, [(s.subgraph.name, _field(s).description) for s in present]
            ),
            self._arguments(coordinate, resolving),
            directives=self.marks([_field(s).marks for s in present]),
        )
        if parent_kind == OBJECT:
            self._check_sharing(parent, coordinate, present, overridden)
        if self._needs_join(sources, overridden, all_equal):
            for source in present:
                item = _field(source)
                state = overridden.get(source.subgraph.name)
                if state == "unused":
                    continue
                result.joins.append(
                    JoinField(
                        graph=self.graph_enum[source.subgraph.name],
                        requires=item.requires,
                        provides=item.provides,
                        override=item.override,
                        type=None if all_equal else str(item.type),
                        external=item.external,
                        used_overridden=state == "used",
                        # Both sides of a progressive override carry its label.
                        override_label=item.override_label
                        if item.override is not None
                        else _label_of(state),
                        context_arguments=self._context_arguments(source),
                    )
                )
        return result

    def _needs_join(
        self, sources: Sequence[Source], overridden: Mapping[str, str], all_equal: bool
    ) -> bool:
        if not all_equal or "used" in overridden.values():
            return True
        if any(state.startswith("label:") for state in overridden.values()):
            return True
        for source in sources:
            item = source.field
            if item is None or overridden.get(source.subgraph.name) == "unused":
                return True
            if item.external or item.requires is not None or item.provides is not None:
                return True
            if any(arg.from_context is not None for arg in item.args.values()):
                return True
        return False

    def _context_arguments(self, source: Source) -> list[str]:
        """`contextArguments` items for a field's `@fromContext` arguments in one subgraph.

        `@fromContext(field: "$name { a }")` reads `{ a }` from the nearest ancestor
        whose type sets context `name` in that subgraph; the supergraph names the context
        `<subgraph>__<name>`, as composition does, and drops the argument from the API.
        """
        out: list[str] = []
        for arg in _field(source).args.values():
            written = arg.from_context
            if written is None:
                continue
            name, _, selection = written.strip().lstrip("$").partition(" ")
            context = f"{source.subgraph.name}__{name}"
            out.append(
                f"{{context: {json.dumps(context)}, name: {json.dumps(arg.name)}, "
                f"type: {json.dumps(str(arg.type))}, selection: {json.dumps(' ' + selection)}}}"
            )
        return out

    def _overrides(self, parent: str, name: str, present: Sequence[Source]) -> dict[str, str]:
        """Which subgraphs' definitions an `@override` takes over: name -> "used"/"unused".

        A progressive override (`@override(from:, label:)`) leaves the overridden
        definition in use while its label is off: "label:<label>".
        """
        by_name = {s.subgraph.name: s for s in present}
        out: dict[str, str] = {}
        coordinate = f"{parent}.{name}"
        for source in present:
            origin = _field(source).override
            if origin is None:
                continue
            if origin == source.subgraph.name:
                self.issues.add(
                    "OVERRIDE_FROM_SELF_ERROR",
                    f'Source and destination subgraphs "{origin}" are the same for overridden '
                    f'field "{coordinate}"',
                    [origin],
                    coordinate,
                )
                continue
            target = by_name.get(origin)
            if target is None:
                self.issues.hint(
                    "FROM_SUBGRAPH_DOES_NOT_EXIST",
                    f'Source subgraph "{origin}" for field "{coordinate}" on subgraph '
                    f'"{source.subgraph.name}" does not exist or does not define that field.',
                    [source.subgraph.name],
                    coordinate,
                )
                continue
            if _field(target).override is not None:
                self.issues.add(
                    "OVERRIDE_SOURCE_HAS_OVERRIDE",
                    f'Field "{coordinate}" on subgraph "{source.subgraph.name}" is also marked '
                    f'with directive @override in subgraph "{origin}". Only one @override '
                    "directive is allowed per field.",
                    [source.subgraph.name, origin],
                    coordinate,
                )
                continue
            if _field(target).external:
                continue
            label = _field(source).override_label
            if label is not None:
                out[origin] = "label:" + label
                continue
            used = (parent, name) in target.subgraph.key_fields or (
                parent,
                name,
            ) in target.subgraph.required
            out[origin] = "used" if used else "unused"
        return out

    def _output_type(self, coordinate: str, sources: Sequence[Source]) -> TypeRef | None:
        """The most general of the types (outputs may be narrower in one subgraph)."""
        merged = _field(sources[0]).type
        incompatible = False
        for source in sources[1:]:
            candidate = _field(source).type
            if candidate == merged or is_strict_subtype(merged, candidate, self.possible):
                continue
            if is_strict_subtype(candidate, merged, self.possible):
                merged = candidate
            else:
                incompatible = True
        if incompatible:
            self._type_mismatch("FIELD_TYPE_MISMATCH", f'field "{coordinate}"', sources, coordinate)
            return None
        narrower = [s for s in sources if _field(s).type != merged]
        if narrower:
            self.issues.hint(
                "INCONSISTENT_BUT_COMPATIBLE_FIELD_TYPE",
                f'Type of field "{coordinate}" is inconsistent but compatible across subgraphs: '
                f'the supergraph uses "{merged}" while '
                + " and ".join(
                    f'{subgraph_list([s.subgraph.name])} returns "{_field(s).type}"'
                    for s in narrower
                )
                + ".",
                [s.subgraph.name for s in sources],
                coordinate,
            )
        return merged

    def _check_externals(self, coordinate: str, merged: TypeRef, present: Sequence[Source]) -> None:
        for source in present:
            item = _field(source)
            if not item.external or item.type == merged:
                continue
            if not (
                is_strict_subtype(merged, item.type, self.possible)
                or is_strict_subtype(item.type, merged, self.possible)
            ):
                self._type_mismatch(
                    "EXTERNAL_TYPE_MISMATCH",
                    f'field "{coordinate}"',
                    present,
                    coordinate,
                    " (where marked @external)",
                )
                return

    def _type_mismatch(
        self,
        code: str,
        what: str,
        sources: Sequence[Source],
        coordinate: str,
        qualifier: str = "",
        types: Sequence[TypeRef] | None = None,
    ) -> None:
        listed = types if types is not None else [_field(s).type for s in sources]
        pairs = [(f'"{t}"', s.subgraph.name) for t, s in zip(listed, sources, strict=True)]
        self.issues.add(
            code,
            f"Type of {what} is incompatible across subgraphs{qualifier}: it has "
            + grouped(pairs, "type"),
            [s.subgraph.name for s in sources],
            coordinate,
        )

    def _check_sharing(
        self,
        parent: str,
        coordinate: str,
        present: Sequence[Source],
        overridden: Mapping[str, str],
    ) -> None:
        resolving: list[str] = []
        unshared: list[str] = []
        for source in present:
            subgraph, item = source.subgraph, _field(source)
            if subgraph.name in overridden:
                continue  # overridden: another subgraph resolves the field now
            if item.external:
                if (parent, item.name) in subgraph.provided:
                    resolving.append(subgraph.name)
                continue
            resolving.append(subgraph.name)
            if not item.shareable and (parent, item.name) not in subgraph.key_fields:
                unshared.append(subgraph.name)
        if parent == "Subscription" and len(resolving) > 1:
            self.issues.add(
                "INVALID_FIELD_SHARING",
                "Fields on root level subscription object cannot be marked as shareable",
                resolving,
                coordinate,
            )
            return
        if len(resolving) < 2 or not unshared:
            return
        where = "all of them" if len(unshared) == len(resolving) else subgraph_list(unshared)
        self.issues.add(
            "INVALID_FIELD_SHARING",
            f'Non-shareable field "{coordinate}" is resolved from multiple subgraphs: it is '
            f"resolved from {subgraph_list(resolving)} and defined as non-shareable in {where}",
            resolving,
            coordinate,
        )

    # -- arguments and input fields ------------------------------------------------------

    def _arguments(self, coordinate: str, sources: Sequence[Source]) -> list[SArgument]:
        names: list[str] = []
        for source in sources:
            names.extend(n for n in _field(source).args if n not in names)
        # An argument taken `@fromContext` is the subgraph's business: not part of the API.
        contextual = {name for s in sources for name, a in _field(s).args.items() if a.from_context}
        names = [name for name in names if name not in contextual]
        out: list[SArgument] = []
        for name in names:
            arg_coordinate = f"{coordinate}({name}:)"
            holders = [s for s in sources if name in _field(s).args]
            args = [_field(s).args[name] for s in holders]
            if len(holders) < len(sources):
                required = [
                    s.subgraph.name
                    for s, a in zip(holders, args, strict=True)
                    if a.type.is_non_null and a.default is None
                ]
                if required:
                    missing = [s.subgraph.name for s in sources if s not in holders]
                    self.issues.add(
                        "REQUIRED_ARGUMENT_MISSING_IN_SOME_SUBGRAPH",
                        f'Argument "{arg_coordinate}" is required in some subgraphs but does not '
                        f"appear in all subgraphs: it is required in {subgraph_list(required)} "
                        f"but does not appear in {subgraph_list(missing)}",
                        required + missing,
                        arg_coordinate,
                    )
                else:
                    present = [s.subgraph.name for s in holders]
                    missing = [s.subgraph.name for s in sources if s not in holders]
                    self.issues.hint(
                        "INCONSISTENT_ARGUMENT_PRESENCE",
                        f'Optional argument "{arg_coordinate}" will not be included in the '
                        "supergraph as it does not appear in all subgraphs: it is defined in "
                        f"{subgraph_list(present)} but not in {subgraph_list(missing)}.",
                        present + missing,
                        arg_coordinate,
                    )
                continue
            merged = self._input_value(
                "FIELD_ARGUMENT_TYPE_MISMATCH",
                "FIELD_ARGUMENT_DEFAULT_MISMATCH",
                f'argument "{arg_coordinate}"',
                f'Argument "{arg_coordinate}"',
                arg_coordinate,
                holders,
                args,
            )
            if merged is not None:
                merged_type, default = merged
                out.append(
                    SArgument(
                        name,
                        merged_type,
                        self.description(
                            arg_coordinate,
                            [
                                (s.subgraph.name, a.description)
                                for s, a in zip(holders, args, strict=True)
                            ],
                        ),
                        default,
                        self.marks([a.marks for a in args]),
                    )
                )
        return out

    def _input_value(
        self,
        type_code: str,
        default_code: str,
        what: str,
        subject: str,
        coordinate: str,
        sources: Sequence[Source],
        values: Sequence[Argument | Field],
    ) -> tuple[TypeRef, str | None] | None:
        """Merge an argument or input field: the most restrictive type, one default value."""
        merged = values[0].type
        incompatible = False
        for value in values[1:]:
            if value.type == merged or is_strict_subtype(value.type, merged, self.possible):
                continue
            if is_strict_subtype(merged, value.type, self.possible):
                merged = value.type
            else:
                incompatible = True
        if incompatible:
            self._type_mismatch(
                type_code, what, sources, coordinate, types=[v.type for v in values]
            )
            return None
        defaults = [(v.default, s.subgraph.name) for v, s in zip(values, sources, strict=True)]
        distinct = {d for d, _ in defaults if d is not None}
        if len(distinct) > 1:
            pairs = [(d if d is not None else "(none)", n) for d, n in defaults]
            self.issues.add(
                default_code,
                f"{subject} has incompatible default values across subgraphs: it has "
                + grouped(pairs, "default value"),
                [n for _, n in defaults],
                coordinate,
            )
            return None
        return merged, next(iter(distinct), None)

    def merge_input(self, parent: str, name: str, sources: Sequence[Source]) -> SField | None:
        """An input field every subgraph defines (the caller drops the others)."""
        coordinate = f"{parent}.{name}"
        items = [_field(s) for s in sources]
        merged = self._input_value(
            "FIELD_TYPE_MISMATCH",
            "INPUT_FIELD_DEFAULT_MISMATCH",
            f'field "{coordinate}"',
            f'Input field "{coordinate}"',
            coordinate,
            sources,
            items,
        )
        if merged is None:
            return None
        merged_type, default = merged
        result = SField(
            name,
            merged_type,
            self.description(
                coordinate, [(s.subgraph.name, _field(s).description) for s in sources]
            ),
            default=default,
            directives=self.marks([i.marks for i in items]),
        )
        if len({i.type for i in items}) > 1:
            result.joins = [
                JoinField(graph=self.graph_enum[s.subgraph.name], type=str(_field(s).type))
                for s in sources
            ]
        return result


def _quoted_block(text: str) -> str:
    lines = ['"""', *text.split("\n"), '"""']
    return "\n".join("  " + line for line in lines)


def _field(source: Source) -> Field:
    assert source.field is not None
    return source.field


def _label_of(state: str | None) -> str | None:
    """The label of a progressive override recorded as "label:<label>" by `_overrides`."""
    return state[len("label:") :] if state is not None and state.startswith("label:") else None
