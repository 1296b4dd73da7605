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
    rest, jumped = _through_other_interface_objects(builder, group, out, type_name, rest, path)
    deps |= jumped
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


def _through_other_interface_objects(
    builder: Builder,
    group: Group,
    out: FetchSel,
    type_name: str,
    selections: tuple[NSel, ...],
    path: tuple[PathSeg, ...],
) -> tuple[tuple[NSel, ...], set[Group]]:
    """Interface fields another `@interfaceObject` subgraph resolves: fetched there at once.

    Asked outside any type condition, such a field is the interface's whatever the
    object's type, so it goes by the interface's key from one interface object to the
    other, without first asking an owner for the concrete type (as the reference routers
    plan it). Returns the selections still to plan and the new fetches.
    """
    by_graph: dict[str, list[NField]] = {}
    for selection in selections:
        if not isinstance(selection, NField) or selection.name.startswith("__"):
            continue
        for graph in builder.sg.resolving_graphs(type_name, selection.name):
            join = builder.sg.graphs_of_type(type_name).get(graph)
            if (
                graph != group.graph
                and join is not None
                and join.is_interface_object
                and join.resolvable_keys
            ):
                by_graph.setdefault(graph, []).append(selection)
                break
    if not by_graph:
        return selections, set()
    deps: set[Group] = set()
    taken: set[int] = set()
    for graph in sorted(by_graph, key=lambda g: builder.graph_order[g]):
        chosen = tuple(by_graph[graph])
        fields = builder.collect(type_name, chosen)
        fetch = builder.entity_group(
            group, out, type_name, type_name, graph, fields, path, None, None
        )
        deps.add(fetch)
        # No `__typename` asked there: it would answer the interface's name, which must
        # not stand over the concrete type an owner's fetch brings beside it.
        for occurrences in fields.values():
            deps |= builder.add_local(fetch, fetch.selection, type_name, occurrences, path, None)
        taken.update(id(s) for s in chosen)
    return tuple(s for s in selections if id(s) not in taken), deps


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
