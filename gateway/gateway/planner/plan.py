"""What a query plan is made of: fetch groups, their selections, and how results merge back.

A plan is a list of steps (one for a query, one per root-field group for a mutation).
A step starts with root fetches, then runs waves of entity fetches; a group sits in the
wave after the latest of the groups it depends on. Executing a plan needs nothing but
these objects: every document text is printed once, when the plan is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gateway.supergraph import FieldSet

__all__ = [
    "ContextUse",
    "DeferredPart",
    "EntityFetch",
    "FetchField",
    "FetchSel",
    "Group",
    "Plan",
    "RepTemplate",
    "Step",
]

# A path from the response root to the objects an entity fetch resolves. A `str` steps
# into a field (lists are walked through); a `frozenset` keeps only objects whose
# `__typename` is in it.
PathSeg = str | frozenset[str]

# How to build a representation from an object of the merged response:
# (name sent to the subgraph, key it has in the merged data, nested template or None).
# A name starting with "... on " applies the nested template when `__typename` matches.
RepTemplate = tuple[tuple[str, str, "RepTemplate | None"], ...]


@dataclass(frozen=True, slots=True)
class ContextUse:
    """A `@fromContext` argument of an entity fetch: read from an ancestor, sent as a variable.

    The ancestor is the object `depth` path segments from the root on the way to each
    entity (the nearest one whose type sets the context); `template` reads the context's
    selection from it, and the single value it selects is the variable's value.
    """

    variable: str
    type: str
    depth: int
    template: RepTemplate


class FetchSel:
    """A selection set being built for one subgraph fetch."""

    __slots__ = ("fields", "fragments")

    def __init__(self) -> None:
        self.fields: dict[str, FetchField] = {}
        self.fragments: dict[str, FetchSel] = {}

    def add(self, key: str, name: str, args: str, composite: bool) -> FetchSel | None:
        existing = self.fields.get(key)
        if existing is None:
            existing = FetchField(key, name, args, FetchSel() if composite else None)
            self.fields[key] = existing
        return existing.sub

    def fragment(self, type_name: str) -> FetchSel:
        sel = self.fragments.get(type_name)
        if sel is None:
            sel = self.fragments[type_name] = FetchSel()
        return sel

    def print(self) -> str:
        parts = [f.print() for f in self.fields.values()]
        parts.extend(
            f"... on {name} {sel.print()}" for name, sel in self.fragments.items() if sel.fields
        )
        return "{ " + " ".join(parts) + " }" if parts else "{ __typename }"


@dataclass(slots=True)
class FetchField:
    key: str
    name: str
    args: str
    sub: FetchSel | None

    def print(self) -> str:
        head = self.name if self.key == self.name else f"{self.key}: {self.name}"
        text = head + self.args
        return text if self.sub is None else f"{text} {self.sub.print()}"


@dataclass(eq=False, slots=True)
class Group:
    """One fetch to one subgraph: a root operation, or an `_entities` call at `path`."""

    id: int
    graph: str
    entity: bool
    path: tuple[PathSeg, ...] = ()
    target_type: str = ""
    rep_typename: str | None = None  # None: take each object's own __typename
    rep: RepTemplate = ()
    # The key part of `rep`: an object with a null anywhere in it is no entity to fetch.
    key: FieldSet = ()
    key_names: tuple[str, ...] = ()  # the key's plain fields, checked inline per object
    key_nested: bool = False  # the key has nested selections too: checked whole
    selection: FetchSel = field(default_factory=FetchSel)
    deps: set[Group] = field(default_factory=set)
    variables: set[str] = field(default_factory=set)
    # Root groups only: the response keys of the root fields this fetch answers.
    root_keys: list[str] = field(default_factory=list)
    # Context arguments (`@fromContext`) the fetch's fields take: one `_entities` call
    # per distinct set of their values.
    contexts: tuple[ContextUse, ...] = ()
    part: int = 0  # the deferred part this fetch serves (0: the first payload)
    # Filled by `finish()`:
    body: str = ""
    wave: int = 0
    variable_names: tuple[str, ...] = ()

    def __hash__(self) -> int:
        return self.id


@dataclass(slots=True)
class Step:
    """Root fetches that start together, then waves of entity fetches depending on them."""

    roots: list[Group]
    waves: list[list[Group]]


@dataclass(slots=True)
class DeferredPart:
    """A deferred fragment: its own steps, run after the payloads before it.

    The objects it completes are at `path` (of `type_name`); `selections` are its fields
    (nested deferred fragments left out), what its payload is shaped by; `shape` is set
    by the engine. `parent` is the part whose data holds those objects (0: the first).
    """

    part: int
    parent: int
    label: str
    path: tuple[PathSeg, ...]
    type_name: str
    selections: tuple[Any, ...]
    steps: list[Step]
    shape: Any = None


@dataclass(frozen=True, slots=True)
class EntityFetch:
    """An `_entities` operation for one combination of a wave's groups, built once per plan.

    `reps_variables[i]` carries the representations of the i-th group, whose results come
    back under `aliases[i]`; `variable_names` are the client variables the groups use.
    """

    document: str
    variable_names: tuple[str, ...]
    reps_variables: tuple[str, ...]
    aliases: tuple[str, ...]


@dataclass(slots=True)
class Plan:
    """A finished plan; immutable once built and shared by every request that uses it."""

    kind: str  # "query" | "mutation" | "subscription"
    steps: list[Step]
    variable_types: dict[str, str]  # client variable name -> its declared type text
    reps_prefix: str
    shape: Any = None  # executor.shape.ShapeSet for the root selection, set by the engine
    selections: tuple[Any, ...] = ()  # the normalised root selections (NSel)
    introspection: bool = False  # the operation selects __schema or __type at its root
    # `@defer`: the parts delivered after the first payload, in order (empty: none), and
    # the shape of the first payload (set by the engine).
    deferred: list[DeferredPart] = field(default_factory=list)
    primary_shape: Any = None
    streams: bool = False  # some list field is `@stream`ed
    documents: dict[tuple[int, ...], str] = field(default_factory=dict)
    entity_fetches: dict[tuple[int, ...], EntityFetch] = field(default_factory=dict)

    # Root documents, cached under (-1 - group id).
    def root_document(self, group: Group) -> str:
        cache_key = (-1 - group.id,)
        doc = self.documents.get(cache_key)
        if doc is None:
            doc = self._with_variables(self.kind, group.variable_names, group.body)
            self.documents[cache_key] = doc
        return doc

    def entity_document(self, groups: list[Group]) -> str:
        """One operation holding an aliased `_entities` field per group (cached per combination)."""
        return self.entity_fetch(groups).document

    def entity_fetch(self, groups: list[Group]) -> EntityFetch:
        """The document and the names an execution needs for these groups, cached per combination.

        Executions of a cached plan send the same combinations again and again; building
        the names once keeps string formatting off the path of every entity fetch.
        """
        cache_key = tuple(g.id for g in groups)
        found = self.entity_fetches.get(cache_key)
        if found is not None:
            return found
        names: list[str] = []
        defs: list[str] = []
        parts: list[str] = []
        for index, group in enumerate(groups):
            defs.append(f"${self.reps_prefix}{index}: [_Any!]!")
            parts.append(
                f"_{index}: _entities(representations: ${self.reps_prefix}{index}) "
                f"{{ ... on {group.target_type} {group.body} }}"
            )
            names.extend(n for n in group.variable_names if n not in names)
        defs.extend(f"${name}: {self.variable_types[name]}" for name in names)
        found = EntityFetch(
            document=f"query({', '.join(defs)}) {{ {' '.join(parts)} }}",
            variable_names=tuple(names),
            reps_variables=tuple(f"{self.reps_prefix}{index}" for index in range(len(groups))),
            aliases=tuple(f"_{index}" for index in range(len(groups))),
        )
        self.entity_fetches[cache_key] = found
        return found

    def contextual_fetch(self, group: Group, count: int) -> EntityFetch:
        """The `_entities` operation of a group taking context arguments, for `count` value sets.

        Entities whose ancestors give different values go to aliases of their own, each
        with its own representations and context variables (`<variable>_<i>`); a single
        value set keeps the plain variable names.
        """
        cache_key = (-1 - group.id, count)
        found = self.entity_fetches.get(cache_key)
        if found is not None:
            return found
        names = [n for n in group.variable_names if n not in {u.variable for u in group.contexts}]
        defs = [f"${name}: {self.variable_types[name]}" for name in names]
        parts: list[str] = []
        reps: list[str] = []
        for index in range(count):
            body = group.body
            suffix = f"_{index}" if count > 1 else ""
            if suffix:
                for use in group.contexts:
                    body = re.sub(rf"\${use.variable}\b", f"${use.variable}{suffix}", body)
            reps.append(f"{self.reps_prefix}{index}")
            defs.append(f"${self.reps_prefix}{index}: [_Any!]!")
            defs.extend(f"${use.variable}{suffix}: {use.type}" for use in group.contexts)
            parts.append(
                f"_{index}: _entities(representations: ${self.reps_prefix}{index}) "
                f"{{ ... on {group.target_type} {body} }}"
            )
        found = EntityFetch(
            document=f"query({', '.join(defs)}) {{ {' '.join(parts)} }}",
            variable_names=tuple(names),
            reps_variables=tuple(reps),
            aliases=tuple(f"_{index}" for index in range(count)),
        )
        self.entity_fetches[cache_key] = found
        return found

    def describe(self) -> list[dict[str, Any]]:
        """The plan in readable form (for logs and tests): each step's fetches, wave by wave."""
        return [
            {
                "roots": [
                    {"subgraph": g.graph, "document": self.root_document(g)} for g in step.roots
                ],
                "waves": [
                    [
                        {
                            "subgraph": g.graph,
                            "path": [
                                seg if isinstance(seg, str) else sorted(seg) for seg in g.path
                            ],
                            "entities": f"... on {g.target_type} {g.body}",
                        }
                        for g in wave
                    ]
                    for wave in step.waves
                ],
            }
            for step in self.steps
        ]

    def _with_variables(self, op: str, names: tuple[str, ...], body: str) -> str:
        if not names:
            return f"{op} {body}"
        defs = ", ".join(f"${name}: {self.variable_types[name]}" for name in names)
        return f"{op}({defs}) {body}"
