"""`@defer`: deferred fragments planned as fetches of their own, after the first payload.

While the builder plans the operation, a deferred fragment met at a position is set
aside (`Deferred`) with what the position knew: its group, path and the trail above it.
Once everything else is planned, each fragment is planned in turn (nested ones after
their parent) as a *part*: its fields go through `_entities` from the parent object,
re-entered by its key, even where the parent's own subgraph resolves them, so the first
payload waits for none of their fetches. A field of an object no key reaches (a value
type) is fetched with the parent and only delivered with the part. Every group records
the part it belongs to; `planner` turns each part into steps of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.planner.operation import NFragment, NSel, fragment_applies
from gateway.planner.plan import FetchSel, Group, PathSeg

if TYPE_CHECKING:
    from gateway.planner.builder import Builder

__all__ = ["Deferred", "plan_deferred", "split_deferred"]


@dataclass(slots=True)
class Deferred:
    """A deferred fragment as met by the builder, waiting to be planned as part `part`."""

    part: int
    parent: int  # the part the position belongs to (0: the first payload)
    label: str
    type_name: str
    selections: tuple[NSel, ...]
    path: tuple[PathSeg, ...]
    group: Group
    out: FetchSel
    provided: Any
    trail: list[Any]


def split_deferred(
    builder: Builder,
    type_name: str,
    selections: Sequence[NSel],
    path: tuple[PathSeg, ...],
    group: Group,
    out: FetchSel,
    provided: Any,
) -> tuple[NSel, ...]:
    """The selections without the deferred fragments applying here, which are set aside."""
    kept: list[NSel] = []
    changed = False
    deferred = builder.deferred
    assert deferred is not None  # only called for operations using @defer
    for selection in selections:
        if isinstance(selection, NFragment):
            applies = selection.type_condition is None or fragment_applies(
                builder.schema, selection.type_condition, type_name
            )
            if selection.defer is not None and applies:
                deferred.append(
                    Deferred(
                        part=len(deferred) + 1,
                        parent=builder.part,
                        label=selection.defer,
                        type_name=type_name,
                        selections=selection.selections,
                        path=path,
                        group=group,
                        out=out,
                        provided=provided,
                        trail=list(builder.trail),
                    )
                )
                changed = True
                continue
            if applies and selection.defer is None:
                inner = split_deferred(
                    builder, type_name, selection.selections, path, group, out, provided
                )
                if inner is not selection.selections:
                    kept.append(NFragment(selection.type_condition, inner))
                    changed = True
                    continue
        kept.append(selection)
    return tuple(kept) if changed else tuple(selections)


def plan_deferred(builder: Builder, part: Deferred) -> None:
    """Plan one deferred fragment's fields as fetches of its own part."""
    builder.part = part.part
    builder.trail = list(part.trail)
    selections = split_deferred(
        builder, part.type_name, part.selections, part.path, part.group, part.out, part.provided
    )
    fields = builder.collect(part.type_name, selections)
    group = part.group
    pending = []
    for occurrences in fields.values():
        name = occurrences[0].name
        if name == "__typename":
            continue
        if builder.routes(part.type_name, name) or not builder.local(
            group.graph, part.type_name, name, part.provided
        ):
            pending.append(occurrences)
        else:
            # No key reaches the object: fetched with its parent, delivered with the part.
            builder.add_local(
                group, part.out, part.type_name, occurrences, part.path, part.provided
            )
    if pending:
        builder.force_remote = True
        try:
            builder.plan_remote(
                group, part.out, part.type_name, fields, pending, part.path, part.provided
            )
        finally:
            builder.force_remote = False
