"""Query planning: split a normalised operation into fetch groups, one subgraph each.

The builder walks the client selection position by position, carrying the group whose
data fills the current position. A field that group's subgraph resolves is added to it;
any other field moves to an `_entities` fetch in a subgraph that resolves it, reached
through a key the current data can supply (`@key`), after fetching what the field needs
(`@requires`). Where several subgraphs could serve a field, each is tried on a scratch
builder and the one needing the fewest fetches wins; a subgraph already being fetched at
the position is preferred, so the plan stays in the current subgraph when it can.

A field of a keyless (value) type is reached from higher up instead (`reentry`);
abstract positions follow the subgraph's own view of the type (`abstract`), interface
objects have their own walk (`interface_objects`), requirements become selections and
representation templates (`requirements`), and every position is counted against the
plan's `budget`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import (
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_leaf_type,
)

from gateway.planner.abstract import named, possible_types, sibling_aliases
from gateway.planner.budget import Budget, PlanningError
from gateway.planner.contexts import plan_contexts
from gateway.planner.defer import split_deferred
from gateway.planner.interface_objects import plan_interface_object
from gateway.planner.operation import NField, NFragment, NSel, collect_fields
from gateway.planner.plan import FetchSel, Group, PathSeg
from gateway.planner.reentry import RawFrame, keyed_by, reenter
from gateway.planner.requirements import merge_field_sets, requirement
from gateway.supergraph import EntityKey, FieldSet, Supergraph, TypeJoin, split_field

__all__ = ["Builder", "PlanningError"]

Provided = dict[str, Any]  # field name (or "... on T") -> nested Provided or None
Fields = dict[str, list[NField]]  # response key -> every occurrence of that key

_INFINITE = 1_000_000.0
_MISSING_MEMBER = 100
_NO_JOIN = TypeJoin("")


def provided_of(field_set: FieldSet | None) -> Provided | None:
    if field_set is None:
        return None
    return {split_field(name)[0]: provided_of(sub) for name, sub in field_set}


def _merge_provided(a: Provided | None, b: Provided | None) -> Provided | None:
    if a is None:
        return b
    if b is None:
        return a
    merged = dict(a)
    for name, sub in b.items():
        merged[name] = _merge_provided(merged.get(name), sub) if name in merged else sub
    return merged


def _provided_for(provided: Provided | None, type_name: str) -> Provided | None:
    if provided is None:
        return None
    plain = {k: v for k, v in provided.items() if not k.startswith("... on ")}
    return _merge_provided(plain, provided.get("... on " + type_name))


class Builder:
    """Builds the groups of one plan. Not reused across operations.

    `kind` is the operation type; only a query may add root fetches of its own (a value
    reached through a shareable root field, fetched again from another subgraph), and
    those go to `roots`, the root groups the planner made.
    """

    def __init__(
        self,
        supergraph: Supergraph,
        memo: dict[Any, float] | None = None,
        *,
        kind: str = "query",
        roots: list[Group] | None = None,
        budget: Budget | None = None,
        scratch: bool = False,
    ) -> None:
        self.sg = supergraph
        # A scratch builder costs a candidate from a position, without the trail above it.
        self.scratch = scratch
        # `@fromContext` arguments: fetches numbered for their variables, and their types.
        self.context_fetches = 0
        self.context_types: dict[str, str] = {}
        # `@defer`: fragments set aside while planning (None: the operation has none), the
        # part being planned (0: the first payload), and whether to leave the subgraph of
        # the current group even for fields it resolves (a deferred part's own fetches).
        self.deferred: list[Any] | None = None
        self.part = 0
        self.force_remote = False
        self.schema: GraphQLSchema = supergraph.schema
        self.groups: list[Group] = []
        self.kind = kind
        self.roots: list[Group] = [] if roots is None else roots
        self.budget = Budget() if budget is None else budget
        # The positions from the root (or the start of a scratch plan) to the current one.
        # Plain tuples (one per field planned), read as `Frame`s when a walk needs them.
        self.trail: list[RawFrame] = []
        # Abstract positions where this plan cannot return object types the client selects
        # although another subgraph could: each weighs like `_MISSING_MEMBER` fetches.
        self.missing_members = 0
        self.memo: dict[Any, float] = {} if memo is None else memo
        # @requires fetches already made, by (graph, type, path, parent group, requirement):
        # two fields needing the same requirement at one position share one fetch.
        self._requiring: dict[tuple[Any, ...], Group] = {}
        # Plain entity fetches, by (graph, type, path, parent group): fields (and keys other
        # fetches need) bound for one subgraph at one position share one fetch.
        self.jumps: dict[tuple[Any, ...], Group] = {}
        # Entity fetches whose key (and requirement) is being planned: asking for the same
        # one again while planning it is a key no subgraph can give (an `@external` key).
        self._entering: set[tuple[Any, ...]] = set()
        self.graph_order = {name: index for index, name in enumerate(supergraph.subgraph_urls)}

    # Groups ---------------------------------------------------------------------------------

    def new_group(self, graph: str, *, entity: bool, **kwargs: Any) -> Group:
        group = Group(id=len(self.groups), graph=graph, entity=entity, part=self.part, **kwargs)
        self.groups.append(group)
        return group

    # Field collection ------------------------------------------------------------------------

    def collect(self, type_name: str, selections: Sequence[NSel]) -> Fields:
        return collect_fields(self.schema, type_name, selections)

    def field_type(self, type_name: str, field_name: str) -> GraphQLNamedType:
        """The named type a field returns in the supergraph."""
        parent = self.schema.type_map[type_name]
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            raise PlanningError(f"{type_name} has no fields")
        field_def = parent.fields.get(field_name)
        if field_def is None:
            raise PlanningError(f"{type_name}.{field_name} is not in the supergraph")
        named: GraphQLNamedType = get_named_type(field_def.type)
        return named

    @staticmethod
    def merged(occurrences: list[NField]) -> tuple[NSel, ...]:
        if len(occurrences) == 1:
            return occurrences[0].selections or ()
        out: list[NSel] = []
        for occurrence in occurrences:
            out.extend(occurrence.selections or ())
        return tuple(out)

    def has_fields(self, type_name: str, selections: Sequence[NSel]) -> bool:
        """Whether anything beyond `__typename` is selected on `type_name`."""
        return any(
            occ[0].name != "__typename" for occ in self.collect(type_name, selections).values()
        )

    # Positions -------------------------------------------------------------------------------

    def plan_position(
        self,
        group: Group,
        out: FetchSel,
        type_name: str,
        selections: Sequence[NSel],
        path: tuple[PathSeg, ...],
        provided: Provided | None,
        local_type: str | None = None,
    ) -> set[Group]:
        """Plan `selections` on a value of `type_name` that `group` fetches at `path`.

        `local_type` is the named type the group's subgraph declares for the field that
        led here, when it differs from the supergraph's. Returns every other group the
        position's data comes from.
        """
        budget = self.budget
        budget.enter()
        try:
            return self._plan_position(
                group, out, type_name, selections, path, provided, local_type
            )
        finally:
            budget.depth -= 1

    def _plan_position(
        self,
        group: Group,
        out: FetchSel,
        type_name: str,
        selections: Sequence[NSel],
        path: tuple[PathSeg, ...],
        provided: Provided | None,
        local_type: str | None,
    ) -> set[Group]:
        gtype = self.schema.type_map[type_name]
        if isinstance(gtype, GraphQLObjectType):
            return self.plan_object(group, out, type_name, selections, path, provided)
        join = self.sg.graphs_of_type(type_name).get(group.graph)
        if join is not None and join.is_interface_object:
            return plan_interface_object(self, group, out, type_name, selections, path, provided)
        out.add("__typename", "__typename", "", False)
        deps: set[Group] = set()
        here = possible_types(self, group.graph, type_name, local_type)
        if not here:
            # No object type the subgraph could return: nothing is fetched below, yet an
            # interface field no route reaches is still a planning error, as elsewhere.
            for occurrences in self.collect(type_name, selections).values():
                name = occurrences[0].name
                if not name.startswith("__") and not self.local(
                    group.graph, type_name, name, provided
                ):
                    self._refuse_unresolvable(type_name, name)
            deps |= self._plan_unpublished(group, out, type_name, selections, path, provided)
        types = [name for name in here if self.has_fields(name, selections)]
        if self._others_could_return(type_name, here, selections):
            self.missing_members += 1
        aliases = sibling_aliases(self, group.graph, types, selections) if len(types) > 1 else {}
        for name in types:
            inner, inner_path = out.fragment(name), (*path, frozenset((name,)))
            inner_provided = _provided_for(provided, name)
            self.trail.append(
                (name, inner_path, group, inner, inner_provided, tuple(selections), name)
            )
            try:
                deps |= self.plan_object(
                    group, inner, name, selections, inner_path, inner_provided, aliases.get(name)
                )
            finally:
                self.trail.pop()
        return deps

    def _plan_unpublished(
        self,
        group: Group,
        out: FetchSel,
        type_name: str,
        selections: Sequence[NSel],
        path: tuple[PathSeg, ...],
        provided: Provided | None,
    ) -> set[Group]:
        """An interface a subgraph publishes with no implementation of its own (a
        Federation 1 `node` root): what it returns is of types it keeps to itself.

        The interface's own leaf fields are all it can be asked, at the interface level;
        an object type another subgraph keys by those fields alone is reached from there
        by that key, for the objects whose `__typename` names it.
        """
        gtype = self.schema.type_map[type_name]
        if not isinstance(gtype, GraphQLInterfaceType):
            return set()
        answered: Provided = {
            name: None
            for name, field_def in gtype.fields.items()
            if is_leaf_type(get_named_type(field_def.type))
            and self.local(group.graph, type_name, name, provided)
        }
        if not answered:
            return set()
        deps: set[Group] = set()
        for member in self.schema.get_possible_types(gtype):
            name = member.name
            if group.graph in self.sg.graphs_of_type(name) or not self.has_fields(name, selections):
                continue
            reachable = any(
                all(sub is None and field in answered for field, sub in key.fields)
                for graph in self.sg.graphs_of_type(name)
                for key in self.keys(name, graph)
            )
            if not reachable:
                continue
            inner_path = (*path, frozenset((name,)))
            inner_provided = _merge_provided(_provided_for(provided, name), answered)
            self.trail.append(
                (name, inner_path, group, out, inner_provided, tuple(selections), name)
            )
            try:
                deps |= self.plan_object(group, out, name, selections, inner_path, inner_provided)
            finally:
                self.trail.pop()
        return deps

    def _others_could_return(
        self, type_name: str, here: list[str], selections: Sequence[NSel]
    ) -> bool:
        """Whether the client selects members this subgraph cannot return at a shareable field.

        The subgraph then answers with fewer objects than the field holds elsewhere, so
        the position is better served by a subgraph that knows those members.
        """
        if len(self.trail) < 2:
            return False
        parent, hop = self.trail[-2][0], self.trail[-1][6]
        if not isinstance(hop, NField):
            return False
        if len(self.sg.resolving_graphs(parent, hop.name)) < 2:
            return False
        # Fields asked of every object here (no type condition) do not single a member out.
        specific = [
            s
            for s in selections
            if isinstance(s, NFragment) and s.type_condition not in (None, type_name)
        ]
        gtype = self.schema.type_map[type_name]
        return bool(specific) and any(
            t.name not in here and self.has_fields(t.name, specific)
            for t in self.schema.get_possible_types(gtype)  # type: ignore[arg-type]
        )

    def plan_object(
        self,
        group: Group,
        out: FetchSel,
        type_name: str,
        selections: Sequence[NSel],
        path: tuple[PathSeg, ...],
        provided: Provided | None,
        aliases: dict[str, str] | None = None,
    ) -> set[Group]:
        """Plan the fields selected on an object of `type_name`.

        `aliases` maps response keys to the keys they are fetched under in this group
        (fields that would clash with a sibling fragment's, see `abstract`).
        """
        if self.deferred is not None:
            selections = split_deferred(self, type_name, selections, path, group, out, provided)
        fields = self.collect(type_name, selections)
        deps: set[Group] = set()
        pending: list[list[NField]] = []
        for key, occurrences in fields.items():
            name = occurrences[0].name
            if name == "__typename":
                continue
            if self.local(group.graph, type_name, name, provided):
                alias = aliases.get(key) if aliases else None
                deps |= self.add_local(group, out, type_name, occurrences, path, provided, alias)
            else:
                pending.append(occurrences)
        if pending:
            deps |= self.plan_remote(group, out, type_name, fields, pending, path, provided)
        return deps

    def local(self, graph: str, type_name: str, field_name: str, provided: Provided | None) -> bool:
        """Whether `graph` answers `type.field` inside the fetch that reached this position."""
        join = self.sg.field_join(type_name, field_name, graph)
        if join is not None and (join.requires is not None or join.context_arguments):
            return False  # a field with @requires or @fromContext is resolved via _entities
        if graph in self.sg.resolving_graphs(type_name, field_name):
            return True
        # An `@external` field, key fields included, is never answered by the subgraph unless
        # provided: composition leaves the "fake" externals of an extension unmarked.
        return provided is not None and field_name in provided

    def add_local(
        self,
        group: Group,
        out: FetchSel,
        type_name: str,
        occurrences: list[NField],
        path: tuple[PathSeg, ...],
        provided: Provided | None,
        alias: str | None = None,
        args: str | None = None,
    ) -> set[Group]:
        """Add a field `group`'s subgraph resolves to `out` (under `alias` when given).

        `args` replaces the client's printed arguments (context arguments added).
        """
        first = occurrences[0]
        for occurrence in occurrences:
            group.variables.update(occurrence.variables)
        field_type = self.field_type(type_name, first.name)
        composite = not is_leaf_type(field_type)
        key = alias or first.key
        sub = out.add(key, first.name, self.with_directives(group, first, args), composite)
        if sub is None:
            return set()
        child_provided = provided.get(first.name) if provided else None
        join = self.sg.field_join(type_name, first.name, group.graph)
        if join is not None and join.provides is not None:
            child_provided = _merge_provided(child_provided, provided_of(join.provides))
        # The subgraph's own type of the field, where composition recorded one that differs.
        local_type = named(join.type) if join is not None and join.type is not None else None
        child_path = (*path, key)
        selections = self.merged(occurrences)
        self.trail.append(
            (field_type.name, child_path, group, sub, child_provided, selections, first)
        )
        try:
            return self.plan_position(
                group, sub, field_type.name, selections, child_path, child_provided, local_type
            )
        finally:
            self.trail.pop()

    def with_directives(self, group: Group, selection: NField, args: str | None = None) -> str:
        """The field's printed arguments (or `args`), then the client directives on it that
        `group`'s subgraph defines (their variables become the fetch's)."""
        printed = selection.args if args is None else args
        for name, text, used in selection.directives:
            if self.sg.client_directives[name].sent_to(group.graph):
                printed += " " + text
                group.variables.update(used)
        return printed

    def plan_root(self, group: Group, root_type: str, occurrences: list[NField]) -> None:
        """Plan one root field (every occurrence of its response key) into a root group."""
        self.trail.append((root_type, (), group, group.selection, None, (), None))
        try:
            self.plan_object(group, group.selection, root_type, occurrences, (), None)
        finally:
            self.trail.pop()

    # Leaving the current subgraph ------------------------------------------------------------

    def plan_remote(
        self,
        group: Group,
        out: FetchSel,
        type_name: str,
        fields: Fields,
        pending: list[list[NField]],
        path: tuple[PathSeg, ...],
        provided: Provided | None,
    ) -> set[Group]:
        deps: set[Group] = set()
        force_remote, self.force_remote = self.force_remote, False
        offered = [(occ, self.routes(type_name, occ[0].name)) for occ in pending]
        routed = offered
        if not self.sg.graphs_of_type(type_name).get(group.graph, _NO_JOIN).keys:
            # A route whose every key needs the very field asked cannot give it: a key field
            # of what is a value type here comes from an ancestor, as if it had no route.
            routed = [
                (occ, [r for r in routes if not keyed_by(self, r, occ[0].name)])
                for occ, routes in offered
            ]
        unrouted = [occ for occ, routes in routed if not routes]
        if unrouted:
            # Fields of a value type: from an ancestor; what none reaches fails below.
            through, left = reenter(self, group, type_name, unrouted)
            deps |= through
            # What no ancestor reaches keeps its routes, to fail (or not) as it did.
            routed = [
                (occ, routes or original)
                for (occ, routes), (_, original) in zip(routed, offered, strict=True)
                if routes or occ in left
            ]
        for occurrences, routes in routed:
            if force_remote:  # a deferred part: stay in the subgraph, but through `_entities`
                here = [r for r in routes if r[0] == group.graph]
                routes = here or routes
            graph, target = self._choose(group, type_name, occurrences, path, provided, routes)
            join = self.sg.field_join(target, occurrences[0].name, graph)
            if join is not None and join.context_arguments:
                deps |= self._plan_contextual(
                    group, out, type_name, target, graph, fields, path, provided, join, occurrences
                )
                continue
            if join is not None and join.requires is not None:
                reuse = (graph, target, path, group.id, join.requires_text)
                found = self._requiring.get(reuse)
                if found is None:
                    found = self.entity_group(
                        group, out, type_name, target, graph, fields, path, provided, join.requires
                    )
                    self._requiring[reuse] = found
                fetch = found
            else:
                jump = (graph, target, path, group.id, self.part)
                fetch = self.jumps.get(jump) or self.entity_group(
                    group, out, type_name, target, graph, fields, path, provided, None
                )
                self.jumps[jump] = fetch
            deps.add(fetch)
            deps |= self.add_local(fetch, fetch.selection, target, occurrences, path, None)
        return deps

    def _plan_contextual(
        self,
        group: Group,
        out: FetchSel,
        type_name: str,
        target: str,
        graph: str,
        fields: Fields,
        path: tuple[PathSeg, ...],
        provided: Provided | None,
        join: Any,
        occurrences: list[NField],
    ) -> set[Group]:
        """A field taking `@fromContext` arguments: an entity fetch of its own (`contexts`)."""
        first = occurrences[0]
        fetch = self.entity_group(
            group, out, type_name, target, graph, fields, path, provided, join.requires
        )
        uses, extra, deps = plan_contexts(self, join, type_name, first.name)
        fetch.contexts = uses
        fetch.variables.update(use.variable for use in uses)
        fetch.deps |= deps
        if extra:
            args = f"{first.args[:-1]}, {extra})" if first.args else f"({extra})"
        else:
            args = first.args
        found = self.add_local(fetch, fetch.selection, target, occurrences, path, None, args=args)
        return {fetch, *deps, *found}

    def routes(self, type_name: str, field_name: str) -> list[tuple[str, str]]:
        """(subgraph, entity type as that subgraph knows it) pairs that can resolve a field."""
        routes = [
            (graph, type_name)
            for graph in self.sg.resolving_graphs(type_name, field_name)
            if self.keys(type_name, graph)
        ]
        if routes:
            return routes
        gtype = self.schema.type_map.get(type_name)
        for interface in getattr(gtype, "interfaces", ()):
            for graph in self.sg.resolving_graphs(interface.name, field_name):
                join = self.sg.graphs_of_type(interface.name).get(graph)
                if join is not None and join.is_interface_object and join.resolvable_keys:
                    routes.append((graph, interface.name))
        return routes

    def _refuse_unresolvable(self, type_name: str, field_name: str) -> None:
        """Raise `NON_RESOLVABLE_KEY` when the field's only way in is a key that cannot be used.

        A subgraph that marks its key `resolvable: false` never receives representations:
        a field only it resolves is out of reach however the plan goes.
        """
        gtype = self.schema.type_map.get(type_name)
        owners = [type_name, *(i.name for i in getattr(gtype, "interfaces", ()))]
        for owner in owners:
            for graph in self.sg.resolving_graphs(owner, field_name):
                join = self.sg.graphs_of_type(owner).get(graph)
                if join is not None and join.keys and not join.resolvable_keys:
                    raise PlanningError(
                        f"cannot plan {type_name}.{field_name}: only subgraph '{graph}' "
                        f"resolves it, and its key for {owner} is marked resolvable: false",
                        "NON_RESOLVABLE_KEY",
                    )

    def keys(self, type_name: str, graph: str) -> list[EntityKey]:
        join = self.sg.graphs_of_type(type_name).get(graph)
        return join.resolvable_keys if join is not None else []

    def _choose(
        self,
        group: Group,
        type_name: str,
        occurrences: list[NField],
        path: tuple[PathSeg, ...],
        provided: Provided | None,
        routes: list[tuple[str, str]],
    ) -> tuple[str, str]:
        name = occurrences[0].name
        if not routes:
            self._refuse_unresolvable(type_name, name)
            raise PlanningError(
                f"cannot plan {type_name}.{name}: no subgraph reachable from "
                f"'{group.graph}' resolves it"
            )
        if len(routes) == 1:
            return routes[0]
        best: tuple[float, int] | None = None
        chosen = routes[0]
        for graph, target in routes:
            cost = 0.0 if (graph, target, path, group.id, self.part) in self.jumps else 1.0
            keys = self.keys(target, graph)
            if not any(
                self._local_field_set(group.graph, type_name, k.fields, provided) for k in keys
            ):
                cost += 2.0
            cost += self.cost(graph, target, tuple(occurrences))
            rank = (cost, self.graph_order.get(graph, 0))
            if best is None or rank < best:
                best, chosen = rank, (graph, target)
        return chosen

    def cost(self, graph: str, type_name: str, selections: tuple[NSel, ...]) -> float:
        """How many more fetches planning `selections` from `graph` takes (memoised per plan)."""
        memo_key = (graph, type_name, tuple(id(s) for s in selections))
        found = self.memo.get(memo_key)
        if found is not None:
            return found
        self.memo[memo_key] = _INFINITE  # a cycle while computing counts as unreachable
        scratch = Builder(self.sg, self.memo, kind=self.kind, budget=self.budget, scratch=True)
        root = scratch.new_group(graph, entity=True)
        scratch.trail.append((type_name, (), root, root.selection, None, selections, None))
        try:
            scratch.plan_position(root, root.selection, type_name, selections, (), None)
            value = float(len(scratch.groups) - 1 + _MISSING_MEMBER * scratch.missing_members)
        except PlanningError as error:
            if error.code == "PLAN_TOO_COMPLEX":
                raise
            value = _INFINITE
        self.memo[memo_key] = value
        return value

    def _local_field_set(
        self, graph: str, type_name: str, field_set: FieldSet, provided: Provided | None
    ) -> bool:
        for item, sub in field_set:
            name = split_field(item)[0]
            if name.startswith("... on ") or name == "__typename":
                continue
            if not self.local(graph, type_name, name, provided):
                return False
            if sub is not None:
                child = self.field_type(type_name, name)
                child_provided = provided.get(name) if provided else None
                if not self._local_field_set(graph, child.name, sub, child_provided):
                    return False
        return True

    def entity_group(
        self,
        group: Group,
        out: FetchSel,
        type_name: str,
        target: str,
        graph: str,
        fields: Fields,
        path: tuple[PathSeg, ...],
        provided: Provided | None,
        requires: FieldSet | None,
    ) -> Group:
        """A new `_entities` fetch to `graph` at `path`, after fetching its key (and requires)."""
        keys = self.keys(target, graph)
        if not keys:
            raise PlanningError(f"subgraph '{graph}' has no resolvable key for {target}")
        key = next(
            (k for k in keys if self._local_field_set(group.graph, type_name, k.fields, provided)),
            keys[0],
        )
        field_set = key.fields if requires is None else merge_field_sets(key.fields, requires)
        template, selections = requirement(self, type_name, field_set, fields)
        entering = (graph, target, path, group.id, key.text, id(requires))
        if entering in self._entering:
            raise PlanningError(
                f"cannot plan {type_name} in subgraph '{graph}': no subgraph reachable from "
                f"'{group.graph}' gives its key {key.text!r}"
            )
        self._entering.add(entering)
        try:
            deps = self.plan_object(group, out, type_name, selections, path, provided)
        finally:
            self._entering.discard(entering)
        is_object = isinstance(self.schema.type_map[type_name], GraphQLObjectType)
        return self.new_group(
            graph,
            entity=True,
            path=path,
            target_type=target,
            rep_typename=target if is_object else None,
            rep=template,
            key=key.fields,
            key_names=tuple(name for name, sub in key.fields if sub is None),
            key_nested=any(sub is not None for _, sub in key.fields),
            deps={group, *deps},
        )
