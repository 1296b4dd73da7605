"""Checking that every field of the supergraph can actually be fetched.

Starting from each root field, the check walks the API schema keeping, for every path,
the set of subgraphs a query planner could be "in" at that point. From there it may jump
to another subgraph through a resolvable `@key` whose fields the current subgraph can
provide, or whose fields the subgraphs already reachable there provide between them (a
planner gathers them before the call). A field that no reachable subgraph resolves is unsatisfiable: the report shows a
query that reaches it and, per subgraph, why it cannot be served.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from .fieldsets import FieldSetSyntaxError, Selection, parse_field_set, top_level_names
from .model import SType, Supergraph
from .subgraph import INTERFACE, OBJECT, UNION, Key, Subgraph
from .types import IssueLog

Alternatives = frozenset[str]


class _Graph:
    """The subgraphs with the lookups the walk needs, memoised."""

    def __init__(self, supergraph: Supergraph, subgraphs: Sequence[Subgraph]) -> None:
        self.supergraph = supergraph
        self.by_name = {s.name: s for s in subgraphs}
        self.order = [s.name for s in subgraphs]
        self._closures: dict[tuple[str, Alternatives], Alternatives] = {}
        self._keys: dict[str, tuple[Selection, ...] | None] = {}

    def key_selections(self, key: Key) -> tuple[Selection, ...] | None:
        if key.fields not in self._keys:
            try:
                self._keys[key.fields] = parse_field_set(key.fields)
            except FieldSetSyntaxError:
                self._keys[key.fields] = None
        return self._keys[key.fields]

    def can_provide(
        self, subgraph: Subgraph, type_name: str, selections: Iterable[Selection]
    ) -> bool:
        """Whether `subgraph` can produce these key fields of `type_name` itself."""
        for selection in selections:
            if selection.type_condition is not None or not selection.name:
                if not self.can_provide(
                    subgraph, selection.type_condition or type_name, selection.children
                ):
                    return False
                continue
            if selection.name == "__typename":
                continue
            if not subgraph.resolves(type_name, selection.name):
                return False
            found = subgraph.field(type_name, selection.name)
            assert found is not None
            if selection.children and not self.can_provide(
                subgraph, found.type.named, selection.children
            ):
                return False
        return True

    def key_usable_from(self, origin: Subgraph, type_name: str, key: Key) -> bool:
        selections = self.key_selections(key)
        return (
            key.is_resolvable
            and selections is not None
            and self.can_provide(origin, type_name, selections)
        )

    def closure(self, type_name: str, alternatives: Alternatives) -> Alternatives:
        """Every subgraph reachable from `alternatives` through `@key` jumps on this type."""
        cache_key = (type_name, alternatives)
        cached = self._closures.get(cache_key)
        if cached is not None:
            return cached
        self._closures[cache_key] = alternatives  # a key that needs itself reaches nothing
        reached = set(alternatives)
        grown = True
        while grown:
            queue = deque(reached)
            while queue:
                origin = self.by_name[queue.popleft()]
                for name in self.order:
                    if name in reached:
                        continue
                    owner = self.by_name[name].types.get(type_name)
                    if owner is None:
                        continue
                    if any(self.key_usable_from(origin, type_name, key) for key in owner.keys):
                        reached.add(name)
                        queue.append(name)
            # A key whose parts come from different reachable subgraphs (a planner gathers
            # them before the call), as Apollo's validation resolves key conditions.
            grown = False
            for name in self.order:
                owner = self.by_name[name].types.get(type_name)
                if name in reached or owner is None:
                    continue
                for key in owner.keys:
                    selections = self.key_selections(key)
                    if (
                        key.is_resolvable
                        and selections is not None
                        and self.can_gather(frozenset(reached), type_name, selections)
                    ):
                        reached.add(name)
                        grown = True
                        break
        result = frozenset(reached)
        self._closures[cache_key] = result
        return result

    def can_gather(
        self, reached: Alternatives, type_name: str, selections: Iterable[Selection]
    ) -> bool:
        """Whether the subgraphs in `reached` together produce these fields of `type_name`."""
        for selection in selections:
            if selection.type_condition is not None or not selection.name:
                if not self.can_gather(
                    reached, selection.type_condition or type_name, selection.children
                ):
                    return False
                continue
            if selection.name == "__typename":
                continue
            served = False
            for name in self.order:
                subgraph = self.by_name[name]
                if name not in reached or not subgraph.resolves(type_name, selection.name):
                    continue
                found = subgraph.field(type_name, selection.name)
                assert found is not None
                if not selection.children or self.can_gather(
                    self.closure(found.type.named, frozenset({name})),
                    found.type.named,
                    selection.children,
                ):
                    served = True
                    break
            if not served:
                return False
        return True

    def requirements_met(
        self, type_name: str, field_name: str, serving: str, alternatives: Alternatives
    ) -> bool:
        """Whether the `@requires` of the field in `serving` can be fetched from here."""
        found = self.by_name[serving].field(type_name, field_name)
        if found is None or found.requires is None:
            return True
        try:
            selections = parse_field_set(found.requires)
        except FieldSetSyntaxError:
            return False
        # The requirements are fetched for the requiring subgraph: from there, other
        # subgraphs must be reachable through keys it can provide itself.
        reachable = self.closure(type_name, frozenset({serving}))
        return all(
            any(self.by_name[n].resolves(type_name, required) for n in reachable)
            for required in top_level_names(selections)
        )

    def requires_reason(self, origin: Subgraph, type_name: str, field_name: str) -> str:
        reason = f'cannot satisfy @require conditions on field "{type_name}.{field_name}"'
        owner = origin.types[type_name]
        external_keys = [
            name
            for key in owner.keys
            for name in top_level_names(self.key_selections(key) or ())
            if (found := owner.fields.get(name)) is not None and found.external
        ]
        if external_keys:
            reason += (
                f' (please ensure that this is not due to key field "{external_keys[0]}" being '
                "accidentally marked @external)"
            )
        return reason + "."

    def reasons(self, type_name: str, field_name: str, alternatives: Alternatives) -> list[str]:
        """Why each subgraph in `alternatives` cannot serve `type_name.field_name`."""
        coordinate = f"{type_name}.{field_name}"
        lines: list[str] = []
        owners = [n for n in self.order if self.by_name[n].resolves(type_name, field_name)]
        for name in self.order:
            if name not in alternatives:
                continue
            origin = self.by_name[name]
            found = origin.field(type_name, field_name)
            if origin.resolves(type_name, field_name):
                lines.append(
                    f'- from subgraph "{name}": {self.requires_reason(origin, type_name, field_name)}'
                )
                continue
            why = [
                f'field "{coordinate}" is not resolvable because marked @external.'
                if found is not None and found.external
                else f'cannot find field "{coordinate}".'
            ]
            for owner_name in owners:
                if owner_name in alternatives:
                    continue
                owner = self.by_name[owner_name].types[type_name]
                if not owner.keys:
                    why.append(
                        f'cannot move to subgraph "{owner_name}", which has field '
                        f'"{coordinate}", because type "{type_name}" has no @key defined in '
                        f'subgraph "{owner_name}".'
                    )
                elif not any(k.is_resolvable for k in owner.keys):
                    why.append(
                        f'cannot move to subgraph "{owner_name}", which has field '
                        f'"{coordinate}", because none of the @key defined on type '
                        f'"{type_name}" in subgraph "{owner_name}" are resolvable (they are all '
                        'declared with their "resolvable" argument set to false).'
                    )
                else:
                    for key in owner.keys:
                        if key.is_resolvable:
                            why.append(
                                f'cannot move to subgraph "{owner_name}" using @key(fields: '
                                f'"{key.fields}") of "{type_name}", the key field(s) cannot be '
                                f'resolved from subgraph "{name}".'
                            )
            if len(why) == 1:
                lines.append(f'- from subgraph "{name}": {why[0]}')
            else:
                lines.append(f'- from subgraph "{name}":')
                lines.extend(f"  - {w}" for w in why)
        return lines

    def via_interface_object(
        self, object_type: SType, field_name: str, alternatives: Alternatives
    ) -> bool:
        """Whether an `@interfaceObject` subgraph serves this field for the object's interface."""
        for interface in object_type.interfaces:
            for owner_name in self.order:
                owner = self.by_name[owner_name]
                definition = owner.types.get(interface)
                if definition is None or not definition.interface_object:
                    continue
                if not owner.resolves(interface, field_name):
                    continue
                for origin_name in alternatives:
                    origin = self.by_name[origin_name]
                    if interface in origin.types and any(
                        self.key_usable_from(origin, interface, key) for key in definition.keys
                    ):
                        return True
        return False


def _example_query(operation: str, path: Sequence[str], leaf: str, leaf_composite: bool) -> str:
    opener = "{" if operation == "query" else f"{operation} {{"
    lines = [opener]
    depth = 1
    for segment in path:
        lines.append("  " * depth + segment + " {")
        depth += 1
    if leaf_composite:
        lines.append("  " * depth + leaf + " {")
        lines.append("  " * (depth + 1) + "...")
        lines.append("  " * depth + "}")
    else:
        lines.append("  " * depth + leaf)
    for level in range(depth - 1, -1, -1):
        lines.append("  " * level + "}")
    return "\n".join(lines)


def _possible_objects(supergraph: Supergraph, abstract: SType) -> list[str]:
    if abstract.kind == UNION:
        return list(abstract.members)
    return [
        t.name
        for t in supergraph.types.values()
        if t.kind == OBJECT and abstract.name in t.interfaces
    ]


def _knows_as_possible(subgraph: Subgraph, abstract: SType, object_name: str) -> bool:
    definition = subgraph.types.get(object_name)
    if definition is None or definition.kind != OBJECT or definition.interface_object:
        return False
    if abstract.kind == UNION:
        union = subgraph.types.get(abstract.name)
        return union is not None and object_name in union.members
    return abstract.name in definition.interfaces


def check_satisfiability(
    supergraph: Supergraph, subgraphs: Sequence[Subgraph], issues: IssueLog
) -> None:
    """Report one SATISFIABILITY_ERROR per supergraph field no query plan could fetch."""
    graph = _Graph(supergraph, subgraphs)
    reported: set[str] = set()
    seen: set[tuple[str, Alternatives]] = set()
    queue: deque[tuple[str, str, Alternatives, tuple[str, ...]]] = deque()
    for operation, root in supergraph.roots.items():
        holders = frozenset(s.name for s in subgraphs if root in s.types)
        queue.append((operation, root, holders, ()))
    while queue:
        operation, type_name, alternatives, path = queue.popleft()
        if (type_name, alternatives) in seen:
            continue
        seen.add((type_name, alternatives))
        current = supergraph.types.get(type_name)
        if current is None:
            continue
        if current.kind in (INTERFACE, UNION):
            expanded = graph.closure(type_name, alternatives)
            for object_name in _possible_objects(supergraph, current):
                knowing = frozenset(
                    n
                    for n in expanded
                    if _knows_as_possible(graph.by_name[n], current, object_name)
                )
                if knowing:
                    queue.append(
                        (operation, object_name, knowing, (*path, f"... on {object_name}"))
                    )
            continue
        if current.kind != OBJECT:
            continue
        expanded = graph.closure(type_name, alternatives)
        for field_name, item in current.fields.items():
            coordinate = f"{type_name}.{field_name}"
            resolving = [
                n
                for n in graph.order
                if n in expanded and graph.by_name[n].resolves(type_name, field_name)
            ]
            serving = frozenset(
                n for n in resolving if graph.requirements_met(type_name, field_name, n, expanded)
            )
            target = supergraph.types.get(item.type.named)
            composite = target is not None and target.kind in (OBJECT, INTERFACE, UNION)
            if not serving:
                if graph.via_interface_object(current, field_name, expanded):
                    continue
                if coordinate in reported:
                    continue
                reported.add(coordinate)
                query = _example_query(operation, path, field_name, composite)
                reasons = graph.reasons(type_name, field_name, expanded)
                issues.add(
                    "SATISFIABILITY_ERROR",
                    "The following supergraph API query:\n"
                    + query
                    + "\ncannot be satisfied by the subgraphs because:\n"
                    + "\n".join(reasons),
                    sorted(expanded),
                    coordinate,
                )
                continue
            if composite and target is not None:
                queue.append((operation, target.name, serving, (*path, field_name)))
