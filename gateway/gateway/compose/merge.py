"""Merging the subgraphs' types into one supergraph.

Objects and interfaces take the union of their fields; input objects the intersection
(a required input field missing somewhere is an error); enums the union when only
returned, the intersection when only accepted, and must agree when both. Every type
records, through `@join__type` and friends, which subgraph knows what.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .directives import merge_composed
from .fields import FieldMerger, Source, pass_through
from .model import Graph, JoinField, JoinType, SEnumValue, SField, SType, Supergraph
from .subgraph import (
    ENUM,
    INPUT,
    INTERFACE,
    KIND_LABELS,
    OBJECT,
    ROOT_NAMES,
    SCALAR,
    UNION,
    Subgraph,
    Type,
)
from .types import IssueLog
from .wording import subgraph_list

BUILT_IN_SCALARS = frozenset({"String", "Int", "Float", "Boolean", "ID"})


def graph_enum_names(names: Sequence[str]) -> dict[str, str]:
    """`join__Graph` value per subgraph: upper snake case, made unique when needed."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9]", "_", name).upper()
        if not base or base[0].isdigit():
            base = "_" + base
        candidate, counter = base, 0
        while candidate in taken:
            counter += 1
            candidate = f"{base}_{counter}"
        taken.add(candidate)
        out[name] = candidate
    return out


class Merger:
    """Merges already-validated subgraphs (sorted by name) into a `Supergraph`."""

    def __init__(self, subgraphs: Sequence[Subgraph], issues: IssueLog) -> None:
        self.subgraphs = list(subgraphs)
        self.issues = issues
        self.graph_enum = graph_enum_names([s.name for s in self.subgraphs])
        self.possible = self._possible_types()
        self.fields = FieldMerger(issues, self.graph_enum, self.possible)
        self.enum_usage = self._enum_usage()

    def _possible_types(self) -> dict[str, set[str]]:
        possible: dict[str, set[str]] = {}
        for subgraph in self.subgraphs:
            for owner in subgraph.types.values():
                for interface in owner.interfaces:
                    possible.setdefault(interface, set()).add(owner.name)
                if owner.kind == UNION:
                    possible.setdefault(owner.name, set()).update(owner.members)
        return possible

    def _enum_usage(self) -> dict[str, tuple[str | None, str | None]]:
        """Per enum: an example input position and an example output position (or None)."""
        enums = {t.name for s in self.subgraphs for t in s.types.values() if t.kind == ENUM}
        inputs: dict[str, str] = {}
        outputs: dict[str, str] = {}
        for subgraph in self.subgraphs:
            for owner in subgraph.types.values():
                for item in owner.fields.values():
                    coordinate = f"{owner.name}.{item.name}"
                    named = item.type.named
                    if named in enums:
                        target = inputs if owner.kind == INPUT else outputs
                        target.setdefault(named, coordinate)
                    for arg in item.args.values():
                        if arg.type.named in enums:
                            inputs.setdefault(arg.type.named, f"{coordinate}({arg.name}:)")
        return {name: (inputs.get(name), outputs.get(name)) for name in enums}

    def merge(self) -> Supergraph:
        names: list[str] = []
        for subgraph in self.subgraphs:
            names.extend(n for n in subgraph.types if n not in names)
        types: dict[str, SType] = {}
        for name in names:
            sources = [(s, s.types[name]) for s in self.subgraphs if name in s.types]
            kind = self._kind(name, sources)
            if kind is None:
                continue
            merged = self._merge_type(name, kind, sources)
            if merged is not None:
                types[name] = merged
        self._spread_interface_object_fields(types)
        self._check_interface_fields(types)
        roots = {op: name for op, name in ROOT_NAMES.items() if name in types}
        query = types.get("Query")
        if query is None or not query.fields:
            self.issues.add(
                "NO_QUERIES",
                "No queries found in any subgraph: a supergraph must have a query root type.",
            )
        graphs = [Graph(self.graph_enum[s.name], s.name, s.url) for s in self.subgraphs]
        return Supergraph(
            graphs,
            types,
            roots,
            uses_inaccessible=self.fields.uses_inaccessible,
            uses_tag=self.fields.uses_tag,
            uses_specs=self.fields.uses_specs,
            uses_context=any(t.contexts for t in types.values()),
            directives=merge_composed(
                [(s.name, s.composed) for s in self.subgraphs], self.graph_enum, self.issues
            ),
        )

    def _kind(self, name: str, sources: Sequence[tuple[Subgraph, Type]]) -> str | None:
        kinds = {
            (INTERFACE if t.kind == OBJECT and t.interface_object else t.kind) for _, t in sources
        }
        if all(t.interface_object for _, t in sources):
            names = [s.name for s, _ in sources]
            self.issues.add(
                "INTERFACE_OBJECT_USAGE_ERROR",
                f'Type "{name}" is declared with @interfaceObject in all the subgraphs in which '
                f"it is defined (it is defined in {subgraph_list(names)} but should be defined "
                "as an interface in at least one subgraph)",
                names,
                name,
            )
            return None
        if len(kinds) == 1:
            return kinds.pop()
        by_kind: dict[str, list[str]] = {}
        for subgraph, owner in sources:
            by_kind.setdefault(KIND_LABELS[owner.kind], []).append(subgraph.name)
        described = [f"{label} in {subgraph_list(names)}" for label, names in by_kind.items()]
        self.issues.add(
            "TYPE_KIND_MISMATCH",
            f'Type "{name}" has mismatched kind: it is defined as ' + " but ".join(described),
            [s.name for s, _ in sources],
            name,
        )
        return None

    def _merge_type(
        self, name: str, kind: str, sources: Sequence[tuple[Subgraph, Type]]
    ) -> SType | None:
        merged = SType(
            name,
            kind,
            self.fields.description(name, [(s.name, t.description) for s, t in sources]),
            directives=self.fields.marks([t.marks for _, t in sources]),
        )
        merged.join_types = self._join_types(sources)
        merged.contexts = [f"{s.name}__{c}" for s, t in sources for c in t.contexts]
        if kind in (OBJECT, INTERFACE):
            self._merge_composite(merged, sources)
        elif kind == INPUT:
            self._merge_input(merged, sources)
            if not merged.fields:
                return None
        elif kind == ENUM:
            self._merge_enum(merged, sources)
            if not merged.values:
                return None
        elif kind == UNION:
            for _, owner in sources:
                merged.members.extend(m for m in owner.members if m not in merged.members)
            merged.member_joins = [
                (self.graph_enum[subgraph.name], member)
                for member in merged.members
                for subgraph, owner in sources
                if member in owner.members
            ]
        elif kind == SCALAR and name in BUILT_IN_SCALARS:
            return None
        return merged

    def _join_types(self, sources: Sequence[tuple[Subgraph, Type]]) -> list[JoinType]:
        out: list[JoinType] = []
        for subgraph, owner in sources:
            graph = self.graph_enum[subgraph.name]
            if not owner.keys:
                out.append(JoinType(graph, interface_object=owner.interface_object))
            for key in owner.keys:
                out.append(
                    JoinType(
                        graph,
                        key=key.fields,
                        # Federation 1 schemas are upgraded as if written for federation 2,
                        # which drops their `extend` keyword (an `@extends` stays).
                        extension=key.extends or (key.extension and subgraph.fed2),
                        resolvable=key.resolvable,
                        interface_object=owner.interface_object,
                    )
                )
        return out

    def _merge_composite(self, merged: SType, sources: Sequence[tuple[Subgraph, Type]]) -> None:
        field_names: list[str] = []
        for subgraph, owner in sources:
            field_names.extend(n for n in owner.fields if n not in field_names)
            for interface in owner.interfaces:
                if interface not in merged.interfaces:
                    merged.interfaces.append(interface)
                merged.implements.append((self.graph_enum[subgraph.name], interface))
        for field_name in field_names:
            field_sources = [Source(s, t.fields.get(field_name)) for s, t in sources]
            result = self.fields.merge_output(merged.name, merged.kind, field_name, field_sources)
            if result is not None:
                merged.fields[field_name] = result

    def _merge_input(self, merged: SType, sources: Sequence[tuple[Subgraph, Type]]) -> None:
        field_names: list[str] = []
        for _, owner in sources:
            field_names.extend(n for n in owner.fields if n not in field_names)
        dropped = False
        for field_name in field_names:
            coordinate = f"{merged.name}.{field_name}"
            holders = [
                Source(s, t.fields[field_name]) for s, t in sources if field_name in t.fields
            ]
            if len(holders) < len(sources):
                dropped = True
                required = [
                    h.subgraph.name
                    for h in holders
                    if h.field is not None and h.field.type.is_non_null and h.field.default is None
                ]
                if required:
                    missing = [s.name for s, t in sources if field_name not in t.fields]
                    self.issues.add(
                        "REQUIRED_INPUT_FIELD_MISSING_IN_SOME_SUBGRAPH",
                        f'Input object field "{coordinate}" is required in some subgraphs but '
                        f"does not appear in all subgraphs: it is required in "
                        f"{subgraph_list(required)} but does not appear in "
                        f"{subgraph_list(missing)}",
                        required + missing,
                        coordinate,
                    )
                else:
                    missing = [s.name for s, t in sources if field_name not in t.fields]
                    present = [h.subgraph.name for h in holders]
                    self.issues.hint(
                        "INCONSISTENT_INPUT_OBJECT_FIELD",
                        f'Input object field "{coordinate}" will not be added to the supergraph '
                        "as it does not appear in all subgraphs: it is defined in "
                        f"{subgraph_list(present)} but not in {subgraph_list(missing)}.",
                        present + missing,
                        coordinate,
                    )
                continue
            result = self.fields.merge_input(merged.name, field_name, holders)
            if result is not None:
                merged.fields[field_name] = result
        if not merged.fields and dropped:
            self.issues.add(
                "EMPTY_MERGED_INPUT_TYPE",
                f'None of the fields of input object type "{merged.name}" are consistently '
                "defined in all the subgraphs defining that type. As only fields common to all "
                "subgraphs are merged, this would result in an empty type.",
                [s.name for s, _ in sources],
                merged.name,
            )

    def _merge_enum(self, merged: SType, sources: Sequence[tuple[Subgraph, Type]]) -> None:
        as_input, as_output = self.enum_usage.get(merged.name, (None, None))
        value_names: list[str] = []
        for _, owner in sources:
            value_names.extend(n for n in owner.values if n not in value_names)
        for value_name in value_names:
            holders = [(s, t.values[value_name]) for s, t in sources if value_name in t.values]
            missing = [s.name for s, t in sources if value_name not in t.values]
            if missing and as_input is not None:
                if as_output is not None:
                    self.issues.add(
                        "ENUM_VALUE_MISMATCH",
                        f'Enum type "{merged.name}" is used as both input type (for example, as '
                        f'type of "{as_input}") and output type (for example, as type of '
                        f'"{as_output}"), but value "{value_name}" is not defined in all the '
                        f'subgraphs defining "{merged.name}": "{value_name}" is defined in '
                        f"{subgraph_list([s.name for s, _ in holders])} but not in "
                        f"{subgraph_list(missing)}",
                        [s.name for s, _ in sources],
                        f"{merged.name}.{value_name}",
                    )
                else:
                    present = [s.name for s, _ in holders]
                    self.issues.hint(
                        "INCONSISTENT_ENUM_VALUE_FOR_INPUT_ENUM",
                        f'Value "{value_name}" of enum type "{merged.name}" will not be part of '
                        "the supergraph as it is not defined in all the subgraphs defining "
                        f'"{merged.name}": "{value_name}" is defined in {subgraph_list(present)} '
                        f"but not in {subgraph_list(missing)}.",
                        present + missing,
                        f"{merged.name}.{value_name}",
                    )
                continue
            directives, inaccessible, tags, specs = pass_through([v.marks for _, v in holders])
            self.fields.uses_inaccessible |= inaccessible
            self.fields.uses_tag |= tags
            self.fields.uses_specs |= specs
            merged.values.append(
                SEnumValue(
                    value_name,
                    self.fields.description(
                        f"{merged.name}.{value_name}", [(s.name, v.description) for s, v in holders]
                    ),
                    directives,
                    [self.graph_enum[s.name] for s, _ in holders],
                )
            )
        if not merged.values and as_output is None:
            self.issues.add(
                "EMPTY_MERGED_ENUM_TYPE",
                f'None of the values of enum type "{merged.name}" are defined consistently in '
                "all the subgraphs defining that type. As only values common to all subgraphs "
                "are merged, this would result in an empty type.",
                [s.name for s, _ in sources],
                merged.name,
            )

    def _check_interface_fields(self, types: dict[str, SType]) -> None:
        """A type implementing an interface in some subgraph must have all its merged fields."""
        for implementation in types.values():
            for interface_name in implementation.interfaces:
                interface = types.get(interface_name)
                if interface is None:
                    continue
                for field_name in interface.fields:
                    if field_name in implementation.fields:
                        continue
                    declared = [
                        s.name
                        for s in self.subgraphs
                        if s.field(interface_name, field_name) is not None
                    ]
                    implementing = [g for g, i in implementation.implements if i == interface_name]
                    names = [
                        s.name for s in self.subgraphs if self.graph_enum[s.name] in implementing
                    ]
                    self.issues.add(
                        "INTERFACE_FIELD_NO_IMPLEM",
                        f'Interface field "{interface_name}.{field_name}" is declared in '
                        f'{subgraph_list(declared)} but type "{implementation.name}", which '
                        f'implements "{interface_name}" only in {subgraph_list(names)} does not '
                        f'have field "{field_name}".',
                        declared + names,
                        f"{implementation.name}.{field_name}",
                    )

    def _spread_interface_object_fields(self, types: dict[str, SType]) -> None:
        """Fields an `@interfaceObject` adds to an interface also exist on its implementations."""
        for interface in types.values():
            if interface.kind != INTERFACE:
                continue
            contributed = {
                field_name
                for subgraph in self.subgraphs
                if (owner := subgraph.types.get(interface.name)) is not None
                and owner.interface_object
                for field_name in owner.fields
            }
            if not contributed:
                continue
            for implementation in types.values():
                if interface.name not in implementation.interfaces:
                    continue
                for field_name, item in interface.fields.items():
                    if field_name in contributed and field_name not in implementation.fields:
                        implementation.fields[field_name] = SField(
                            item.name,
                            item.type,
                            item.description,
                            list(item.args),
                            directives=list(item.directives),
                            joins=[JoinField(graph=None)],
                        )
