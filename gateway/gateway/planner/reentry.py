"""Reaching a field of a value type that the current subgraph lacks, from higher up.

A type without a key cannot be fetched by `_entities`. When the subgraph that returned
such a value does not resolve one of its fields, the field is fetched by asking another
subgraph for the same path, starting at the nearest position above from which that
subgraph can answer it: the root of a query (shareable root fields, fetched again) or an
entity it knows under a key (the *parent* entity, re-entered through its key). The
fields along the way must all resolve in that subgraph; the new fetch selects them under
the client's response keys, so its result merges into the objects already there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from gateway.planner.operation import NField, NSel
from gateway.planner.plan import FetchSel, Group, PathSeg
from gateway.supergraph import split_field

if TYPE_CHECKING:
    from gateway.planner.builder import Builder, Provided

__all__ = ["Frame", "RawFrame", "keyed_by", "reenter"]


class Frame(NamedTuple):
    """One position of the walk: a value of `type_name` that `group` fetches at `path`.

    `hop` is how the walk got here from the frame above: the client field, or a type
    condition (an object type of an abstract position); None at the root of the walk.
    """

    type_name: str
    path: tuple[PathSeg, ...]
    group: Group
    out: FetchSel
    provided: Any
    selections: tuple[NSel, ...]
    hop: NField | str | None


# A `Frame` as the builder records it: a plain tuple costs less than a named one to make,
# and walks back up the trail are rare.
RawFrame = tuple[
    str, tuple[PathSeg, ...], Group, FetchSel, Any, tuple[NSel, ...], NField | str | None
]


def reenter(
    builder: Builder, group: Group, type_name: str, pending: list[list[NField]]
) -> tuple[set[Group], list[list[NField]]]:
    """Plan fields of `type_name` that no key reaches through ancestors of the position.

    Each field goes to its nearest ancestor from which some subgraph answers it; the
    fields sharing an ancestor go to as few subgraphs as cover them all (the one
    answering most of them first; then one already fetched there, then the composition
    order). Returns the groups the fields come from, and the fields no ancestor reaches.
    """
    trail = [Frame._make(raw) for raw in builder.trail]
    by_anchor: dict[int, list[tuple[list[NField], list[str]]]] = {}
    left: list[list[NField]] = []
    for occurrences in pending:
        found = _nearest(builder, group, trail, type_name, occurrences[0].name)
        if found is None:
            left.append(occurrences)
        else:
            by_anchor.setdefault(found[0], []).append((occurrences, found[1]))
    deps: set[Group] = set()
    for index, fields in by_anchor.items():
        at_root = _at_root(builder, trail, index)
        while fields:
            counts: dict[str, int] = {}
            for _, graphs in fields:
                for graph in graphs:
                    counts[graph] = counts.get(graph, 0) + 1
            graph = min(
                counts, key=lambda g: (-counts[g], *_rank(builder, trail[index], at_root, g))
            )
            through = _through_root if at_root else _through_entity
            for occurrences, graphs in fields:
                if graph in graphs:
                    deps |= through(builder, graph, trail, index, type_name, occurrences)
            fields = [(occ, graphs) for occ, graphs in fields if graph not in graphs]
    return deps, left


def _nearest(
    builder: Builder, group: Group, trail: list[Frame], type_name: str, name: str
) -> tuple[int, list[str]] | None:
    """The nearest ancestor from which other subgraphs answer `type.name`, and those subgraphs."""
    candidates = [g for g in builder.sg.resolving_graphs(type_name, name) if g != group.graph]
    if not candidates:
        return None
    for index in range(len(trail) - 1, -1, -1):
        anchor = trail[index]
        hops = [frame.hop for frame in trail[index + 1 :]]
        usable = [g for g in candidates if _chain_resolves(builder, anchor.type_name, hops, g)]
        if not usable:
            continue
        if _at_root(builder, trail, index):
            return index, usable
        if _is_object(builder, anchor.type_name):
            keyed = [
                g
                for g in usable
                if builder.keys(anchor.type_name, g)
                # At the position itself, a key made of the field asked cannot fetch it.
                and (hops or not keyed_by(builder, (g, anchor.type_name), name))
            ]
            if keyed:
                return index, keyed
    return None


def keyed_by(builder: Builder, route: tuple[str, str], field_name: str) -> bool:
    """Whether every resolvable key of the route's entity (subgraph, type) selects
    `field_name` itself: such a route cannot give that field, it needs it first."""
    keys = builder.keys(route[1], route[0])
    return bool(keys) and all(
        any(split_field(item)[0] == field_name for item, _ in key.fields) for key in keys
    )


def _at_root(builder: Builder, trail: list[Frame], index: int) -> bool:
    """Whether the ancestor is the root of a query (a mutation's fields never run twice)."""
    anchor = trail[index]
    return (
        builder.kind == "query"
        and index == 0
        and anchor.hop is None
        and _is_query_root(builder, anchor.type_name)
    )


def _is_query_root(builder: Builder, type_name: str) -> bool:
    query = builder.schema.query_type
    return query is not None and query.name == type_name


def _is_object(builder: Builder, type_name: str) -> bool:
    from graphql import GraphQLObjectType

    return isinstance(builder.schema.type_map.get(type_name), GraphQLObjectType)


def _rank(builder: Builder, anchor: Frame, at_root: bool, graph: str) -> tuple[int, int]:
    """Prefer a subgraph already fetched from the ancestor, then the composition order."""
    if at_root:
        fetched = any(root.graph == graph for root in builder.roots)
    else:
        fetched = (graph, anchor.type_name, anchor.path, anchor.group.id) in builder.jumps
    return (0 if fetched else 1, builder.graph_order.get(graph, 0))


def _chain_resolves(
    builder: Builder, start: str, hops: list[NField | str | None], graph: str
) -> bool:
    """Whether `graph` resolves every field of the walk from `start` down to the position."""
    parent = start
    for hop in hops:
        if hop is None:
            return False
        if isinstance(hop, str):
            if graph not in builder.sg.graphs_of_type(hop):
                return False
            parent = hop
            continue
        if graph not in builder.sg.resolving_graphs(parent, hop.name):
            return False
        join = builder.sg.field_join(parent, hop.name, graph)
        if join is not None and join.requires is not None:
            return False
        parent = builder.field_type(parent, hop.name).name
    return True


def _descend(
    builder: Builder, fetch: Group, sel: FetchSel, start: str, hops: list[Any]
) -> FetchSel:
    """Select the walk's fields (and type conditions) in `fetch`, returning the innermost set."""
    parent = start
    for hop in hops:
        if isinstance(hop, str):
            sel.add("__typename", "__typename", "", False)
            sel = sel.fragment(hop)
            parent = hop
            continue
        fetch.variables.update(hop.variables)
        inner = sel.add(hop.key, hop.name, builder.with_directives(fetch, hop), True)
        assert inner is not None  # a hop always leads to a composite value
        sel = inner
        parent = builder.field_type(parent, hop.name).name
    return sel


def _through_root(
    builder: Builder,
    graph: str,
    trail: list[Frame],
    index: int,
    type_name: str,
    occurrences: list[NField],
) -> set[Group]:
    fetch = next((root for root in builder.roots if root.graph == graph), None)
    if fetch is None:
        fetch = builder.new_group(graph, entity=False)
        builder.roots.append(fetch)
    hops = [frame.hop for frame in trail[index + 1 :]]
    first = hops[0]
    if isinstance(first, NField) and first.key not in fetch.root_keys:
        fetch.root_keys.append(first.key)
    sel = _descend(builder, fetch, fetch.selection, trail[index].type_name, hops)
    return {fetch} | builder.add_local(fetch, sel, type_name, occurrences, trail[-1].path, None)


def _through_entity(
    builder: Builder,
    graph: str,
    trail: list[Frame],
    index: int,
    type_name: str,
    occurrences: list[NField],
) -> set[Group]:
    anchor = trail[index]
    jump = (graph, anchor.type_name, anchor.path, anchor.group.id)
    fetch = builder.jumps.get(jump)
    if fetch is None:
        # The key is planned at the anchor's position: the walk is cut back to it meanwhile.
        saved = builder.trail
        builder.trail = saved[: index + 1]
        try:
            fetch = builder.entity_group(
                anchor.group,
                anchor.out,
                anchor.type_name,
                anchor.type_name,
                graph,
                builder.collect(anchor.type_name, anchor.selections),
                anchor.path,
                _provided(anchor.provided),
                None,
            )
        finally:
            builder.trail = saved
        builder.jumps[jump] = fetch
    hops = [frame.hop for frame in trail[index + 1 :]]
    sel = _descend(builder, fetch, fetch.selection, anchor.type_name, hops)
    return {fetch} | builder.add_local(fetch, sel, type_name, occurrences, trail[-1].path, None)


def _provided(value: Any) -> Provided | None:
    return value if isinstance(value, dict) else None
