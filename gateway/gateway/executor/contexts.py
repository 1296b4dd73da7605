"""Entities of a fetch taking `@fromContext` arguments, grouped by their context values.

Each entity's values come from its ancestor at `ContextUse.depth` on the path from the
root, so the objects are located along with the chain of objects above them. Entities
whose ancestors give the same values share one `_entities` alias; each distinct set of
values gets its own (`Plan.contextual_fetch`), as the reference router splits them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from gateway.planner.plan import ContextUse, Group, PathSeg, RepTemplate

__all__ = ["ContextBatch", "collect_contextual"]

Located = tuple[dict[str, Any], tuple[str | int, ...]]
_Chained = tuple[dict[str, Any], tuple[str | int, ...], tuple[dict[str, Any], ...]]


class ContextBatch:
    """The representations sharing one set of context values, and the objects they fill."""

    __slots__ = ("group", "owners", "reps", "seen", "values")

    def __init__(self, group: Group, values: dict[str, Any]) -> None:
        self.group = group
        self.values = values
        self.reps: list[dict[str, Any]] = []
        self.owners: list[list[Located]] = []
        self.seen: dict[bytes, int] = {}


def _locate_chain(root: dict[str, Any], path: tuple[PathSeg, ...]) -> list[_Chained]:
    """Objects at `path`, each with the objects after each segment on the way (`chain[i]`)."""
    current: list[_Chained] = [(root, (), (root,))]
    for segment in path:
        found: list[_Chained] = []
        if isinstance(segment, str):
            for obj, where, chain in current:
                _flatten(obj.get(segment), (*where, segment), chain, found)
        else:
            found = [
                (obj, where, (*chain, obj))
                for obj, where, chain in current
                if obj.get("__typename") in segment
            ]
        current = found
    return current


def _flatten(
    value: Any, where: tuple[str | int, ...], chain: tuple[dict[str, Any], ...], out: list[_Chained]
) -> None:
    if isinstance(value, dict):
        out.append((value, where, (*chain, value)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, (*where, index), chain, out)


def _value(use: ContextUse, ancestor: dict[str, Any], read: ReadTemplate) -> Any:
    """The single value the context's selection picks from the ancestor (None if absent)."""
    found: Any = read(use.template, ancestor)
    while isinstance(found, dict):
        if len(found) != 1:
            return found or None
        found = next(iter(found.values()))
    return found


ReadTemplate = Callable[[RepTemplate, dict[str, Any]], "dict[str, Any] | None"]
Representation = Callable[[Group, dict[str, Any]], "dict[str, Any] | None"]


def collect_contextual(
    group: Group,
    data: dict[str, Any],
    representation: Representation,
    read: ReadTemplate,
) -> list[ContextBatch]:
    """The group's entities, deduplicated, in one batch per distinct set of context values.

    `representation` builds an object's representation (None: not an entity to fetch);
    `read` applies a template to an object, as representations are read.
    """
    batches: dict[bytes, ContextBatch] = {}
    for obj, where, chain in _locate_chain(data, group.path):
        rep = representation(group, obj)
        if rep is None:
            continue
        values = {use.variable: _value(use, chain[use.depth], read) for use in group.contexts}
        values_key = orjson.dumps(values, option=orjson.OPT_SORT_KEYS)
        batch = batches.get(values_key)
        if batch is None:
            batch = batches[values_key] = ContextBatch(group, values)
        identity = orjson.dumps(rep)
        index = batch.seen.get(identity)
        if index is None:
            batch.seen[identity] = len(batch.reps)
            batch.reps.append(rep)
            batch.owners.append([(obj, where)])
        else:
            batch.owners[index].append((obj, where))
    return list(batches.values())
