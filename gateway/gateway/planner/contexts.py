"""`@fromContext` arguments: values read from an ancestor, passed to the subgraph as variables.

A field whose join carries `contextArguments` (join v0.5) is always fetched through
`_entities` in its subgraph, as the reference router plans it. Each argument names a
context that some ancestor type sets (`@context`); the nearest ancestor on the way down
whose type sets it gets the context's selection added to its fetch (it is a requirement
of that position, read back by a `RepTemplate`), and the entity fetch declares the value
as a variable `contextualArgument_<n>_<i>` of the argument's type. At execution, each
entity's ancestor gives the value (`executor.contexts`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.planner.budget import PlanningError
from gateway.planner.plan import ContextUse, Group
from gateway.planner.requirements import requirement
from gateway.supergraph import FieldJoin

if TYPE_CHECKING:
    from gateway.planner.builder import Builder

__all__ = ["plan_contexts"]


def plan_contexts(
    builder: Builder, join: FieldJoin, type_name: str, field_name: str
) -> tuple[tuple[ContextUse, ...], str, set[Group]]:
    """Plan the context arguments of `type_name.field_name` from the builder's trail.

    Returns the uses for the entity fetch, the arguments to add to the field
    (`a: $contextualArgument_1_0`), and the groups the ancestors' selections come from.
    A scratch builder (costing a candidate away from the root) has no ancestors to read:
    it plans the field without them. Without an ancestor setting the context, planning
    fails as `UNSATISFIABLE_FIELD`.
    """
    builder.context_fetches += 1
    number = builder.context_fetches
    uses: list[ContextUse] = []
    arguments: list[str] = []
    deps: set[Group] = set()
    for index, argument in enumerate(join.context_arguments):
        frame = next(
            (
                raw
                for raw in reversed(builder.trail)
                if argument.context in builder.sg.contexts_of(raw[0])
            ),
            None,
        )
        if frame is None:
            if builder.scratch:
                continue
            raise PlanningError(
                f"cannot plan {type_name}.{field_name}: its argument '{argument.name}' comes "
                f"from context '{argument.context}', which no enclosing type sets",
                "UNSATISFIABLE_FIELD",
            )
        ancestor, path, group, out, provided, selections, _ = frame
        template, needed = requirement(
            builder, ancestor, argument.selection, builder.collect(ancestor, selections)
        )
        deps |= builder.plan_object(group, out, ancestor, needed, path, provided)
        deps.add(group)
        variable = f"contextualArgument_{number}_{index}"
        builder.context_types[variable] = argument.type
        uses.append(ContextUse(variable, argument.type, len(path), template))
        arguments.append(f"{argument.name}: ${variable}")
    return tuple(uses), ", ".join(arguments), deps
