"""Positions of an interface that a subgraph knows only as an `@interfaceObject`.

Such a subgraph resolves the interface's fields for every implementation without
knowing the implementations: it answers with the interface's own name as `__typename`.
Its fields are fetched there; the concrete type, and every field it lacks, come from a
subgraph that owns the interface, through the interface's key, and only when the client
needs them (`__typename`, such fields, or type conditions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.planner.budget import PlanningError
from gateway.planner.operation import NField, NSel
from gateway.planner.plan import FetchSel, Group, PathSeg

if TYPE_CHECKING:
    from gateway.planner.builder import Builder, Provided

__all__ = ["plan_interface_object"]


def plan_interface_object(
    builder: Builder,
    group: Group,
    out: FetchSel,
    type_name: str,
    selections: Sequence[NSel],
    path: tuple[PathSeg, ...],
    provided: Provided | None,
) -> set[Group]:
    """An interface this subgraph knows only as an `@interfaceObject`.

    Its own fields are fetched here; the concrete type and everything else come from
    a subgraph that owns the interface, through the interface's key (only when the
    client needs them: `__typename`, fields this subgraph lacks, or type conditions).
    """
    out.add("__typename", "__typename", "", False)
    fields = builder.collect(type_name, selections)
    deps: set[Group] = set()
    done: set[str] = set()
    for key, occurrences in fields.items():
        name = occurrences[0].name
        if name != "__typename" and builder.local(group.graph, type_name, name, provided):
            deps |= builder.add_local(group, out, type_name, occurrences, path, provided)
            done.add(key)
    rest = tuple(s for s in selections if not (isinstance(s, NField) and s.key in done))
    if not _needs_concrete_type(builder, type_name, rest, done):
        return deps  # shaping reads interface-level fields without knowing the object type
    owners = [
        graph
        for graph, join in builder.sg.graphs_of_type(type_name).items()
        if not join.is_interface_object and join.resolvable_keys
    ]
    if not owners:
        raise PlanningError(f"no subgraph owns interface {type_name} with a resolvable key")
    owner = min(owners, key=lambda g: (builder.cost(g, type_name, rest), builder.graph_order[g]))
    fetch = builder.entity_group(
        group, out, type_name, type_name, owner, fields, path, provided, None
    )
    deps.add(fetch)
    deps |= builder.plan_position(fetch, fetch.selection, type_name, rest, path, None)
    return deps


def _needs_concrete_type(
    builder: Builder, type_name: str, selections: Sequence[NSel], done: set[str]
) -> bool:
    for selection in selections:
        if isinstance(selection, NField):
            if selection.name == "__typename" or selection.key not in done:
                return True
        elif selection.type_condition not in (None, type_name) or _needs_concrete_type(
            builder, type_name, selection.selections, done
        ):
            return True
    return False
