"""The query planner's entry point: an operation in, a finished `Plan` out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from graphql import FragmentDefinitionNode, OperationDefinitionNode, print_ast

from gateway.planner.budget import Budget, PlanningError
from gateway.planner.builder import Builder
from gateway.planner.defer import plan_deferred
from gateway.planner.denied import strip_denied
from gateway.planner.operation import (
    NField,
    has_defer,
    has_stream,
    normalize,
    without_deferred,
)
from gateway.planner.plan import DeferredPart, Group, Plan, Step
from gateway.supergraph import Supergraph

__all__ = ["QueryPlanner"]

log = logging.getLogger(__name__)


class QueryPlanner:
    """Plans operations over one supergraph. Stateless between calls; cache plans outside.

    `budget` makes the `Budget` each plan may spend (the default: 200 000 positions, 2 s).
    """

    def __init__(self, supergraph: Supergraph, *, budget: Callable[[], Budget] = Budget) -> None:
        self.supergraph = supergraph
        self._budget = budget
        self._order = {name: index for index, name in enumerate(supergraph.subgraph_urls)}

    def plan(
        self,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        denied: frozenset[tuple[str, str]] = frozenset(),
        *,
        labels: frozenset[str] = frozenset(),
    ) -> Plan:
        """Plan `operation`; `variables` only decide `@skip`/`@include`.

        `labels` are the override labels enabled for the request: each progressive
        `@override` is planned as they decide it.

        Fields at `denied` coordinates (type, field) are left out of every fetch; the
        plan's `selections` (what the response is shaped by) keep them.

        Every failure is a `PlanningError` with a code, logged once here: an unexpected
        exception (a recursion too deep included) is a planner bug reported as
        `PLANNER_FAILURE`, never an exception escaping to the server.
        """
        name = operation.name.value if operation.name else None
        try:
            return self._plan(operation, fragments, variables, denied, labels)
        except PlanningError as error:
            log.warning("planning %s failed [%s]: %s", name or "<anonymous>", error.code, error)
            raise
        except Exception as error:  # RecursionError included
            log.exception("planning %s raised", name or "<anonymous>")
            raise PlanningError(
                f"the planner failed on this operation ({type(error).__name__})", "PLANNER_FAILURE"
            ) from error

    def _plan(
        self,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        denied: frozenset[tuple[str, str]],
        labels: frozenset[str],
    ) -> Plan:
        kind = operation.operation.value
        supergraph = self.supergraph.for_labels(labels)
        schema = supergraph.schema
        root_type = {
            "query": schema.query_type,
            "mutation": schema.mutation_type,
            "subscription": schema.subscription_type,
        }[kind]
        if root_type is None:
            raise PlanningError(f"the supergraph has no {kind} type", "UNSUPPORTED_OPERATION")
        selections = normalize(
            operation.selection_set, fragments, variables, supergraph.client_directives
        )
        roots: list[Group] = []
        builder = Builder(supergraph, kind=kind, roots=roots, budget=self._budget())
        planned = strip_denied(schema, root_type.name, selections, denied) if denied else selections
        if has_defer(operation, fragments):
            builder.deferred = []
        fields = builder.collect(root_type.name, planned)
        introspection = False
        for occurrences in fields.values():
            if occurrences[0].name.startswith("__"):
                introspection |= occurrences[0].name != "__typename"
                continue
            group = self._root_group(builder, kind, root_type.name, occurrences, roots)
            group.root_keys.append(occurrences[0].key)
            builder.plan_root(group, root_type.name, occurrences)
        parts: list[DeferredPart] = []
        for deferred in builder.deferred or ():  # grows while parts are planned
            plan_deferred(builder, deferred)
            parts.append(
                DeferredPart(
                    part=deferred.part,
                    parent=deferred.parent,
                    label=deferred.label,
                    path=deferred.path,
                    type_name=deferred.type_name,
                    selections=without_deferred(deferred.selections),
                    steps=[],
                )
            )
        # Declared as the client declared them: a default lets a nullable variable stand
        # where the subgraph's argument is non-null, and keeps its value when none is sent.
        variable_types = {
            d.variable.name.value: print_ast(d.type)
            + (f" = {print_ast(d.default_value)}" if d.default_value is not None else "")
            for d in operation.variable_definitions or ()
        }
        variable_types.update(builder.context_types)
        prefix = "_reps"
        while any(name.startswith(prefix) for name in variable_types):
            prefix = "_" + prefix
        steps = self._steps(
            kind, [g for g in builder.groups if g.part == 0], [r for r in roots if r.part == 0]
        )
        for part in parts:
            part.steps = self._part_steps(part.part, builder.groups)
        return Plan(
            kind=kind,
            steps=steps,
            deferred=parts,
            streams=builder.deferred is not None and has_stream(selections),
            variable_types=variable_types,
            reps_prefix=prefix,
            selections=selections,
            introspection=introspection,
        )

    def _root_group(
        self,
        builder: Builder,
        kind: str,
        root_name: str,
        occurrences: list[NField],
        roots: list[Group],
    ) -> Group:
        name = occurrences[0].name
        graphs = builder.sg.resolving_graphs(root_name, name)
        if not graphs:
            raise PlanningError(f"no subgraph resolves {root_name}.{name}")
        if kind == "query":
            reusable = {group.graph: group for group in roots}
        else:
            # Mutation fields run in order: only the previous fetch may take another field.
            reusable = {roots[-1].graph: roots[-1]} if roots and kind == "mutation" else {}

        def rank(graph: str) -> tuple[float, int]:
            extra = 0.0 if graph in reusable else 1.0
            return (extra + builder.cost(graph, root_name, tuple(occurrences)), self._order[graph])

        graph = min(graphs, key=rank)
        group = reusable.get(graph)
        if group is None:
            group = builder.new_group(graph, entity=False)
            roots.append(group)
        return group

    @staticmethod
    def _part_steps(part: int, groups: list[Group]) -> list[Step]:
        """One step for a deferred part: its root fetches, then its waves.

        Fetches of the payloads before it are done when it runs: its waves count only
        the dependencies among its own fetches.
        """
        own = [g for g in groups if g.part == part]
        waves: dict[int, int] = {}

        def place(group: Group) -> int:
            if group.id not in waves:
                if not group.entity:
                    waves[group.id] = 0
                else:
                    inner = [place(dep) for dep in group.deps if dep.part == part]
                    waves[group.id] = 1 + max(inner, default=0)
            return waves[group.id]

        step = Step(roots=[g for g in own if not g.entity], waves=[])
        for group in own:
            group.body = group.selection.print()
            group.variable_names = tuple(sorted(group.variables))
            group.wave = place(group)
            if group.entity:
                while len(step.waves) < group.wave:
                    step.waves.append([])
                step.waves[group.wave - 1].append(group)
        step.waves = [wave for wave in step.waves if wave]
        return [step]

    @staticmethod
    def _steps(kind: str, groups: list[Group], roots: list[Group]) -> list[Step]:
        for group in groups:
            group.body = group.selection.print()
            group.variable_names = tuple(sorted(group.variables))
        step_of: dict[int, int] = {root.id: index for index, root in enumerate(roots)}
        waves: dict[int, int] = {root.id: 0 for root in roots}

        def place(group: Group) -> tuple[int, int]:
            if group.id not in waves:
                placed = [place(dep) for dep in group.deps]
                waves[group.id] = 1 + max(wave for wave, _ in placed)
                step_of[group.id] = max(step for _, step in placed)
            return waves[group.id], step_of[group.id]

        for group in groups:
            place(group)
            group.wave = waves[group.id]
        if kind != "mutation":
            step_of = dict.fromkeys(step_of, 0)
            steps = [Step(roots=list(roots), waves=[])]
        else:
            steps = [Step(roots=[root], waves=[]) for root in roots]
        for group in groups:
            if not group.entity:
                continue
            step = steps[step_of[group.id]]
            while len(step.waves) < group.wave:
                step.waves.append([])
            step.waves[group.wave - 1].append(group)
        return steps
