"""Plan execution: run the fetches, merge what they return, re-path their errors.

Root fetches of a step run concurrently; then each wave of entity fetches runs, every
group's representations collected from the merged data and deduplicated, and all groups
of a wave bound for one subgraph sent as one operation (one aliased `_entities` field per
group). A fetch that fails or times out becomes errors on the fields it owed; it never
raises out of here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Mapping, Sequence
from operator import itemgetter
from typing import Any

import orjson
from opentelemetry.trace import Status, StatusCode, Tracer
from servicekit.errors import ErrorCode

from gateway.caching.entities import EntityView
from gateway.deadlines import Deadlines
from gateway.executor.contexts import ContextBatch, collect_contextual
from gateway.metrics import GatewayMetrics
from gateway.planner.plan import EntityFetch, Group, PathSeg, Plan, RepTemplate, Step
from gateway.supergraph import FieldSet
from gateway.types import JSON, RequestContext, SubgraphTransport

__all__ = ["Execution", "locate", "merge_into", "unavailable"]

log = logging.getLogger(__name__)

Located = tuple[dict[str, Any], tuple[str | int, ...]]  # an object and its response path
# A response path as a linked list, `(parent, key)` pairs ending in None: extending one
# costs a pair, where a tuple path copies every segment above. Read back only for errors.
Linked = tuple[Any, str | int] | None
Found = tuple[dict[str, Any], Linked]  # an object and its linked response path


def unavailable(graph: str, reason: str) -> JSON:
    """The response standing in for a subgraph that could not answer."""
    return {
        "data": None,
        "errors": [
            {
                "message": f"Subgraph '{graph}' {reason}.",
                "extensions": {"code": ErrorCode.UNAVAILABLE.value, "serviceName": graph},
            }
        ],
    }


def merge_into(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    """Deep-merge one fetch's object into the merged data (objects field by field)."""
    for key, value in source.items():
        current = target.get(key)
        if current is None:
            target[key] = value
        elif current is value:  # one answer merged into objects sharing it: already there
            continue
        elif isinstance(value, dict):
            if isinstance(current, dict):
                merge_into(current, value)
            else:
                target[key] = value
        elif isinstance(value, list):
            if isinstance(current, list) and len(current) == len(value):
                _merge_lists(current, value)
            else:
                target[key] = value
        elif value is not None:
            target[key] = value


def _merge_each(located: Sequence[tuple[dict[str, Any], Any]], source: dict[str, Any]) -> None:
    """Merge one entity answer into every object it fills.

    An answer of leaves, none of them null, merges as `dict.update` does: `merge_into`
    sets each such value whatever the target holds. So it is checked once and copied in
    C into each object (the deep query's products take the same answer at ~200 places),
    instead of walked again for every one of them.
    """
    for value in source.values():
        kind = value.__class__
        if kind is dict or kind is list or value is None:
            for obj, _ in located:
                merge_into(obj, source)
            return
    for obj, _ in located:
        obj.update(source)


def _merge_lists(target: list[Any], source: list[Any]) -> None:
    for index, item in enumerate(source):
        current = target[index]
        if isinstance(item, dict) and isinstance(current, dict):
            merge_into(current, item)
        elif isinstance(item, list) and isinstance(current, list) and len(item) == len(current):
            _merge_lists(current, item)
        elif item is not None or current is None:
            target[index] = item


def locate(root: dict[str, Any], path: tuple[PathSeg, ...]) -> list[Located]:
    """The objects at `path` in the merged data, each with its response path."""
    return _locate(root, path)


def _locate(root: dict[str, Any], path: tuple[PathSeg, ...]) -> list[Located]:
    current: list[Located] = [(root, ())]
    for segment in path:
        found: list[Located] = []
        if isinstance(segment, str):
            for obj, where in current:
                _flatten(obj.get(segment), (*where, segment), found)
        else:
            found = [(obj, where) for obj, where in current if obj.get("__typename") in segment]
        current = found
    return current


def _flatten(value: Any, where: tuple[str | int, ...], out: list[Located]) -> None:
    if isinstance(value, dict):
        out.append((value, where))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, (*where, index), out)


def _linked_list(where: Linked) -> list[str | int]:
    out: list[str | int] = []
    while where is not None:
        where, key = where
        out.append(key)
    out.reverse()
    return out


def _find(
    root: dict[str, Any], path: tuple[PathSeg, ...], memo: dict[tuple[PathSeg, ...], list[Found]]
) -> list[Found]:
    """`locate` with linked paths, sharing every prefix already walked in `memo`.

    The groups of a wave often sit at one position or under a common one (a product's
    inventory and its reviews, the authors below those reviews): each prefix of their
    paths is walked once per wave. The memo lives for one wave, while nothing merges.
    """
    found = memo.get(path)
    if found is not None:
        return found
    if not path:
        found = [(root, None)]
    else:
        above = _find(root, path[:-1], memo)
        segment = path[-1]
        found = []
        if isinstance(segment, str):
            append = found.append
            for obj, where in above:
                value = obj.get(segment)
                if isinstance(value, dict):
                    append((value, (where, segment)))
                elif isinstance(value, list):
                    _flatten_linked(value, (where, segment), found)
        else:
            found = [(obj, where) for obj, where in above if obj.get("__typename") in segment]
    memo[path] = found
    return found


def _flatten_linked(items: list[Any], where: Linked, out: list[Found]) -> None:
    for index, item in enumerate(items):
        if isinstance(item, dict):
            out.append((item, (where, index)))
        elif isinstance(item, list):
            _flatten_linked(item, (where, index), out)


async def _together(fetches: list[Coroutine[Any, Any, None]]) -> None:
    """Run a wave's fetches concurrently; return when all are done.

    The first runs in the calling task and the others as tasks of their own: one task
    and the gathering future fewer than `asyncio.gather`, on every multi-fetch wave. The
    fetches handle their own failures; if this is cancelled (or one raises anyway), the
    unfinished ones are cancelled, as `gather` would on cancellation.
    """
    if not fetches:
        return
    tasks = [asyncio.create_task(fetch) for fetch in fetches[1:]]
    try:
        await fetches[0]
        for task in tasks:
            await task
    except BaseException:
        for task in tasks:
            task.cancel()
        raise


_ABSENT: Any = object()


def _representation(template: RepTemplate, obj: dict[str, Any]) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for name, key, sub in template:
        if sub is not None and name.startswith("... on "):
            if obj.get("__typename") == name[7:]:
                nested = _representation(sub, obj)
                if nested is None:
                    return None
                out.update(nested)
            continue
        value = obj.get(key, _ABSENT)
        if value is _ABSENT:
            if name == "__typename":
                continue
            return None  # the data this fetch needs never arrived
        if sub is not None and value is not None:
            value = _nested(sub, value)
            if value is _ABSENT:
                return None
        out[name] = value
    return out


def _null_in_key(key: FieldSet, fields: Mapping[str, Any]) -> bool:
    """Whether a key value is null anywhere: such an object is no entity to resolve.

    The reference routers skip it too; the fields its fetch owed stay null (an error
    only where the schema demands a value).
    """
    for name, sub in key:
        if name.startswith("... on "):
            continue
        value = fields.get(name)
        if value is None:
            return True
        if sub is not None:
            items = value if isinstance(value, list) else [value]
            if any(not isinstance(i, dict) or _null_in_key(sub, i) for i in items):
                return True
    return False


def _nested(template: RepTemplate, value: Any) -> Any:
    if isinstance(value, list):
        items = [_nested(template, item) for item in value]
        return _ABSENT if any(item is _ABSENT for item in items) else items
    if isinstance(value, dict):
        nested = _representation(template, value)
        return _ABSENT if nested is None else nested
    return value


def _entity_representation(group: Group, obj: dict[str, Any]) -> dict[str, Any] | None:
    """An object's representation for `group`, or None when it is no entity to fetch.

    What `Execution._collect` does inline for the common groups, for the rare ones
    taking context arguments.
    """
    fields = _representation(group.rep, obj)
    if fields is None or _null_in_key(group.key, fields):
        return None
    rep_type = group.rep_typename or obj.get("__typename")
    return None if rep_type is None else {"__typename": rep_type, **fields}


# The distinct representations at one position for one kind of group, each with the
# objects it fills, in the order they were found: {identity: (representation, objects)}.
_Entities = dict[Any, tuple[dict[str, Any], list[Found]]]


_Paths = dict[tuple[PathSeg, ...], list[Found]]


class _WaveMemo:
    """What the groups of one wave share while nothing merges: located objects per path
    (`_find`), and the distinct entities per path and representation template, since
    groups bound for several subgraphs (a product's inventory and its reviews) often
    need the same representations of the same objects.

    The located objects outlive the wave (`paths`, one per step): a merge changes what
    lies *below* the objects it fills, and only through the fields it sets, so after a
    wave `forget` drops the paths that go on from a filled position through one of those
    fields (or through a type condition), and the rest are still true. The next wave,
    often at the same positions (inventory's `shippingEstimate` once products answered
    `price` and `weight`), walks no prefix twice."""

    __slots__ = ("entities", "paths")

    def __init__(self, paths: _Paths) -> None:
        self.paths = paths
        self.entities: dict[tuple[Any, ...], _Entities] = {}


def _forget(paths: _Paths, filled: tuple[PathSeg, ...], fields: set[str]) -> None:
    """Drop the located objects a merge of `fields` into the objects at `filled` may
    have changed: every path going on from there through one of them or a type
    condition (a merged `__typename` changes which objects it keeps)."""
    size = len(filled)
    stale = [
        path
        for path in paths
        if len(path) > size
        and path[:size] == filled
        and (not isinstance(path[size], str) or path[size] in fields)
    ]
    for path in stale:
        del paths[path]


def _entities_at(data: dict[str, Any], group: Group, memo: _WaveMemo) -> _Entities:
    """The distinct representations `group` needs, each with the objects it fills.

    An object without the data its representation needs, with a null in its key or
    without a type is skipped (see `_entity_representation`)."""
    shape_key = (group.path, group.rep, group.rep_typename, group.key, group.key_nested)
    found = memo.entities.get(shape_key)
    if found is not None:
        return found
    found = {}
    located = _find(data, group.path, memo.paths)
    plain = _plain_template(group)
    if plain is not None:
        _collect_plain(located, group, plain, found)
    else:
        _collect_general(located, group, found)
    memo.entities[shape_key] = found
    return found


# (names, data keys, positions of the plain key fields) of a flat template, or None;
# per (template, key names, nested key): computed once, not per group and wave.
_Plain = tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]]
_PLAIN: dict[tuple[Any, ...], _Plain | None] = {}


def _plain_template(group: Group) -> _Plain | None:
    """The representation's names, data keys and key positions when it is flat: no
    nested selection, no type condition, no `__typename` of its own (the common `{id}`
    or `{upc price}`)."""
    cache_key = (group.rep, group.key_names, group.key_nested)
    try:
        return _PLAIN[cache_key]
    except KeyError:
        pass
    found = _flat(group)
    if len(_PLAIN) >= 4096:
        _PLAIN.clear()
    _PLAIN[cache_key] = found
    return found


def _flat(group: Group) -> _Plain | None:
    names = ["__typename"]
    keys = []
    for name, key, sub in group.rep:
        if sub is not None or name == "__typename" or name.startswith("... on "):
            return None
        names.append(name)
        keys.append(key)
    if len(set(names)) < len(names) or group.key_nested:
        return None
    if any(name not in names for name in group.key_names):
        return None
    checked = tuple(names.index(name) for name in group.key_names)
    return tuple(names), tuple(keys), checked


def _collect_plain(
    located: list[Found],
    group: Group,
    plain: _Plain,
    out: _Entities,
) -> None:
    """`_collect_general` for a flat template: values read straight into the identity,
    the representation built once per distinct entity. The located pairs are kept as
    they are among the objects an entity fills (no new pair per object)."""
    names, keys, checked = plain
    typename = group.rep_typename
    if len(keys) == 1 and checked == (1,):  # the common `{id}`: no list, no loop
        if typename.__class__ is str and typename:
            _collect_by_string(located, names, typename, keys[0], out)
            return
        only = keys[0]
        for found in located:
            obj = found[0]
            rep_type = typename or obj.get("__typename")
            value = obj.get(only)
            if rep_type is None or value is None:
                continue  # no type, or the key is null or never arrived
            if value.__class__ is str and rep_type.__class__ is str:
                identity: Any = (names, rep_type, value)
            else:
                identity = _identity_of(names, [rep_type, value])
            entry = out.get(identity)
            if entry is None:
                rep = {names[0]: rep_type, names[1]: value}
                out[identity] = (rep, [found])
            else:
                entry[1].append(found)
        return
    if len(keys) > 1 and typename.__class__ is str and typename:
        _collect_by_values(located, names, typename, keys, checked, out)
        return
    for found in located:
        obj = found[0]
        rep_type = typename or obj.get("__typename")
        if rep_type is None:
            continue
        values: list[Any] = [rep_type]
        for key in keys:
            value = obj.get(key, _ABSENT)
            if value is _ABSENT:
                break  # the data this fetch needs never arrived
            values.append(value)
        else:
            null = False
            for position in checked:
                if values[position] is None:
                    null = True  # a null key: no entity to resolve
                    break
            if null:
                continue
            identity = _identity_of(names, values)
            entry = out.get(identity)
            if entry is None:
                out[identity] = (dict(zip(names, values, strict=True)), [found])
            else:
                entry[1].append(found)


def _collect_by_string(
    located: list[Found], names: tuple[str, ...], typename: str, only: str, out: _Entities
) -> None:
    """`_collect_plain` for a one-field key of a type the group names: the objects are
    bucketed by the key's value itself while it is a string (a dict look-up of a string
    whose hash is cached), and each distinct entity's identity and representation are
    built once at the end, in the order the entities were first found. Other values (an
    int, a list, ...) are bucketed by their identity (`_identity_of`), which never equals
    a string."""
    buckets: dict[Any, list[Found]] = {}
    reps: dict[Any, dict[str, Any]] = {}
    for found in located:
        value = found[0].get(only)
        if value.__class__ is str:
            bucket = buckets.get(value)
            if bucket is None:
                buckets[value] = [found]
            else:
                bucket.append(found)
        elif value is not None:
            identity = _identity_of(names, [typename, value])
            bucket = buckets.get(identity)
            if bucket is None:
                buckets[identity] = [found]
                reps[identity] = {names[0]: typename, names[1]: value}
            else:
                bucket.append(found)
    for value, bucket in buckets.items():
        if value.__class__ is str:
            out[(names, typename, value)] = ({names[0]: typename, names[1]: value}, bucket)
        else:
            out[value] = (reps[value], bucket)


def _collect_by_values(
    located: list[Found],
    names: tuple[str, ...],
    typename: str,
    keys: tuple[str, ...],
    checked: tuple[int, ...],
    out: _Entities,
) -> None:
    """`_collect_plain` for a flat template of several fields and a type the group names
    (a key and its requirements, `{upc price weight}`): the values are read by one
    `itemgetter` call, and objects whose values are all strings and ints are bucketed by
    that tuple itself (for such values tuple equality is JSON equality, and none is
    null); the others by their identity (`_identity_of`), which starts with the names
    and so never equals such a tuple. Identities and representations are built once per
    distinct entity, in the order the entities were first found."""
    read = itemgetter(*keys)
    nullable = [position - 1 for position in checked]  # positions among the values
    buckets: dict[Any, list[Found]] = {}
    reps: dict[Any, dict[str, Any]] = {}
    for found in located:
        try:
            values = read(found[0])
        except KeyError:
            continue  # the data this fetch needs never arrived
        for value in values:
            kind = value.__class__
            if kind is not str and kind is not int:
                break
        else:
            bucket = buckets.get(values)
            if bucket is None:
                buckets[values] = [found]
            else:
                bucket.append(found)
            continue
        if any(values[position] is None for position in nullable):
            continue  # a null key: no entity to resolve
        identity = _identity_of(names, [typename, *values])
        bucket = buckets.get(identity)
        if bucket is None:
            buckets[identity] = [found]
            reps[identity] = dict(zip(names, (typename, *values), strict=True))
        else:
            bucket.append(found)
    for values, bucket in buckets.items():
        rep = reps.get(values)
        if rep is None:
            out[(names, typename, *values)] = (
                dict(zip(names, (typename, *values), strict=True)),
                bucket,
            )
        else:
            out[values] = (rep, bucket)


def _collect_general(located: list[Found], group: Group, out: _Entities) -> None:
    typename = group.rep_typename
    flat = group.key_names
    nested = group.key_nested
    for found in located:
        obj = found[0]
        fields = _representation(group.rep, obj)
        if fields is None:
            continue
        null = False
        for name in flat:  # the common key, `id`, checked inline
            if fields.get(name) is None:
                null = True
                break
        if null or (nested and _null_in_key(group.key, fields)):
            continue
        rep_type = typename or obj.get("__typename")
        if rep_type is None:
            continue
        rep = {"__typename": rep_type, **fields}
        identity = _identity(rep)
        entry = out.get(identity)
        if entry is None:
            out[identity] = (rep, [found])
        else:
            entry[1].append(found)


# What selects an entity answer: the subgraph, the type and the selection asked of it.
_BatchKey = tuple[str, str, str]
# A fetch's answers to one batch: the representations' identities, and what came back
# for each (kept as they are; only a batch asking the same again looks into them).
_Answered = tuple[list[Any], list[Any]]


class _Batch:
    """One `_entities` field of a wave: its representations and the objects each one fills.

    Groups of a wave asking one subgraph the same selection on the same type share a
    batch (`key`), so their representations are deduplicated together; `identities` are
    the representations' identities (`_identity_of`), in the order of `reps`.
    """

    __slots__ = ("filled", "group", "identities", "key", "merged", "owners", "reps", "seen")

    def __init__(self, group: Group, key: _BatchKey) -> None:
        self.group = group
        self.key = key
        self.reps: list[dict[str, Any]] = []
        self.owners: list[list[Found]] = []
        self.identities: list[Any] = []
        self.seen: dict[Any, int] = {}
        # Where its objects are (its groups' paths), and every field merged into them.
        self.filled: list[tuple[PathSeg, ...]] = []
        self.merged: set[str] = set()

    def reuse(self, answered: list[_Answered]) -> None:
        """Merge the flat answers already given for some representations into their
        objects, and keep only the others to fetch."""
        known: dict[Any, dict[str, Any]] = {}
        for asked, results in answered:
            for identity, result in zip(asked, results, strict=True):
                if result.__class__ is dict and _flat_answer(result):
                    known[identity] = result
        if not known:
            return
        reps: list[dict[str, Any]] = []
        owners: list[list[Found]] = []
        identities: list[Any] = []
        for identity, rep, located in zip(self.identities, self.reps, self.owners, strict=True):
            answer = known.get(identity)
            if answer is None:
                reps.append(rep)
                owners.append(located)
                identities.append(identity)
                continue
            self.merged.update(answer)
            _merge_each(located, answer)
        self.reps, self.owners, self.identities = reps, owners, identities


def _flat_answer(answer: dict[str, Any]) -> bool:
    """Whether an entity answer holds leaves only: merged, it shares nothing mutable with
    the objects it fills, so it can fill more of them later in the same operation."""
    for value in answer.values():
        kind = value.__class__
        if kind is dict or kind is list:
            return False
    return True


class Execution:
    """One operation's run: the merged data and errors of every fetch of a plan.

    `metrics` records every fetch; `tracer` starts a `gateway.fetch` span per fetch when
    `traced` (spans reach a processor: see `gateway.tracing`), decided once per operation.

    A query asks a subgraph for one entity's selection once: an answer of leaves only
    that came back without errors is kept (`known`, per subgraph, type and selection, by
    representation) and fills the same entity's objects in later waves without another
    fetch (the public benchmark's deep query asks inventory for the same five products'
    `inStock` and `shippingEstimate` in three waves). A mutation keeps nothing: its later
    steps may see what its earlier ones changed.

    `ctx.entities`, set by the server for a public query only, is the cache of such
    answers across requests (`gateway.caching.entities`): read before a wave's fetches,
    written after.
    """

    __slots__ = (
        "ctx",
        "data",
        "deadlines",
        "entities",
        "errors",
        "known",
        "metrics",
        "plan",
        "traced",
        "tracer",
        "transport",
        "variables",
    )

    def __init__(
        self,
        plan: Plan,
        transport: SubgraphTransport,
        ctx: RequestContext,
        variables: Mapping[str, Any],
        deadlines: Deadlines | None,
        *,
        metrics: GatewayMetrics,
        tracer: Tracer,
        traced: bool,
    ) -> None:
        """`deadlines` bound each fetch; None for a transport that times its fetches out."""
        self.entities = ctx.entities if plan.kind == "query" else None
        self.plan = plan
        self.transport = transport
        self.ctx = ctx
        self.variables = variables
        self.deadlines = deadlines
        self.metrics = metrics
        self.tracer = tracer
        self.traced = traced
        self.data: dict[str, Any] = {}
        self.errors: list[dict[str, Any]] = []
        self.known: dict[_BatchKey, list[_Answered]] | None = {} if plan.kind == "query" else None

    async def run(self) -> None:
        for step in self.plan.steps:
            roots = step.roots
            if len(roots) == 1:
                await self._root(roots[0])
            else:
                await _together([self._root(group) for group in roots])
            await self.run_waves(step)

    async def run_step(self, step: Step) -> None:
        """One step of a deferred part: its root fetches, then its waves."""
        if step.roots:
            await _together([self._root(group) for group in step.roots])
        await self.run_waves(step)

    async def run_waves(self, step: Step) -> None:
        paths: _Paths = {}  # located objects, kept from wave to wave (see `_WaveMemo`)
        for wave in step.waves:
            await self._wave(wave, paths)

    def variables_for(self, names: tuple[str, ...]) -> dict[str, Any]:
        variables = self.variables
        return {name: variables[name] for name in names if name in variables}

    async def fetch(
        self, graph: str, document: str, variables: dict[str, Any], *, idempotent: bool
    ) -> JSON:
        """One subgraph fetch under the fetch timeout, measured, and traced when exported.

        `idempotent` says the document is a query, which the transport may send again
        after a connection failure; a mutation's root fetch is not. A transport declaring
        `enforces_timeout = True` (like `HttpTransport`) times its own fetches out and
        answers with an error; others get the engine's deadlines. The `gateway.fetch`
        span is started only when spans reach a processor: nothing else reads it, and an
        unexported SDK span costs about as much CPU as the rest of the fetch's engine work.
        """
        started = time.perf_counter()
        span = (
            self.tracer.start_span("gateway.fetch", attributes={"graphql.subgraph": graph})
            if self.traced
            else None
        )
        transport = self.transport
        ctx = self.ctx
        try:
            if self.deadlines is not None:
                async with self.deadlines.guard():
                    response = await transport.fetch(
                        graph, document, variables, ctx, idempotent=idempotent
                    )
            else:
                response = await transport.fetch(
                    graph, document, variables, ctx, idempotent=idempotent
                )
            if not isinstance(response, dict):
                response = unavailable(graph, "answered with something that is not GraphQL")
        except TimeoutError:
            response = unavailable(graph, "did not answer in time")
        except Exception:  # a transport must not take the whole operation down with it
            log.exception("fetch from subgraph %r raised", graph)
            response = unavailable(graph, "failed")
        failed = response.get("data") is None and bool(response.get("errors"))
        if span is not None:
            if failed:
                span.set_status(Status(StatusCode.ERROR))
            span.end()
        self.metrics.observe_fetch(graph, time.perf_counter() - started, ok=not failed)
        return response

    async def _root(self, group: Group) -> None:
        response = await self.fetch(
            group.graph,
            self.plan.root_document(group),
            self.variables_for(group.variable_names),
            idempotent=self.plan.kind == "query",
        )
        self.absorb_root(group, response)

    def absorb_root(self, group: Group, response: JSON) -> None:
        data = response.get("data")
        if isinstance(data, dict):
            merge_into(self.data, data)
        for error in response.get("errors") or ():
            path = error.get("path") if isinstance(error, dict) else None
            if not path and group.root_keys:
                path = [group.root_keys[0]]
            self.errors.append(_client_error(error, path))

    async def _wave(self, groups: list[Group], paths: _Paths) -> None:
        shared: dict[tuple[str, str, str], _Batch] = {}
        contextual: list[Group] | None = None
        memo = _WaveMemo(paths)
        for group in groups:
            if group.contexts:  # `@fromContext` arguments: fetched apart, see `_contextual`
                contextual = [*(contextual or ()), group]
                continue
            key = (group.graph, group.target_type, group.body)
            batch = shared.get(key)
            if batch is None:
                batch = shared[key] = _Batch(group, key)
            batch.filled.append(group.path)
            self._collect(group, batch, memo)
        known = self.known
        entities = self.entities
        by_graph: dict[str, list[_Batch]] = {}
        for batch in shared.values():
            if known and batch.reps:
                answers = known.get(batch.key)
                if answers:
                    batch.reuse(answers)
            if entities is not None and batch.reps:
                cached = entities.known(batch.key, batch.identities, batch.reps)
                if cached:
                    batch.reuse([([i for i, _ in cached], [a for _, a in cached])])
            if batch.reps:
                by_graph.setdefault(batch.group.graph, []).append(batch)
        try:
            if contextual is not None:
                fetches = [self._entities(g, b) for g, b in by_graph.items()]
                fetches += [self._contextual(group) for group in contextual]
                await _together(fetches)
            elif len(by_graph) == 1:
                for graph, batches in by_graph.items():
                    await self._entities(graph, batches)
            elif by_graph:
                await _together([self._entities(g, b) for g, b in by_graph.items()])
        finally:
            if contextual is not None:
                paths.clear()  # context groups merge on paths of their own
            else:
                for batch in shared.values():
                    if batch.merged:
                        for filled in batch.filled:
                            _forget(paths, filled, batch.merged)

    def _collect(self, group: Group, batch: _Batch, memo: _WaveMemo) -> None:
        """Add the group's distinct representations, and the objects each fills, to `batch`."""
        seen = batch.seen
        reps = batch.reps
        owners = batch.owners
        identities = batch.identities
        for identity, (rep, located) in _entities_at(self.data, group, memo).items():
            index = seen.get(identity)
            if index is None:
                seen[identity] = len(reps)
                reps.append(rep)
                owners.append(list(located))
                identities.append(identity)
            else:
                owners[index].extend(located)

    async def _entities(self, graph: str, batches: list[_Batch]) -> None:
        spec = self.plan.entity_fetch([batch.group for batch in batches])
        variables = self.variables_for(spec.variable_names)
        for name, batch in zip(spec.reps_variables, batches, strict=True):
            variables[name] = batch.reps
        # An `_entities` fetch is a query, whatever the operation it serves.
        response = await self.fetch(graph, spec.document, variables, idempotent=True)
        self._absorb_entities(spec, batches, response)
        if response.get("errors"):
            return
        known = self.known
        if known is not None:
            self._keep(spec, batches, response, known)
        if self.entities is not None:
            self._keep_across(spec, batches, response, self.entities)

    @staticmethod
    def _keep(
        spec: EntityFetch,
        batches: list[_Batch],
        response: JSON,
        known: dict[_BatchKey, list[_Answered]],
    ) -> None:
        """Remember the answers of a fetch that came back without errors (which of them
        are flat is asked only when the same batch comes again: usually it does not)."""
        data = response.get("data")
        if not isinstance(data, dict):
            return
        for alias, batch in zip(spec.aliases, batches, strict=True):
            results = data.get(alias)
            if not isinstance(results, list) or len(results) != len(batch.identities):
                continue
            kept = known.get(batch.key)
            if kept is None:
                known[batch.key] = [(batch.identities, results)]
            else:
                kept.append((batch.identities, results))

    @staticmethod
    def _keep_across(
        spec: EntityFetch, batches: list[_Batch], response: JSON, entities: EntityView
    ) -> None:
        """Offer the answers of a fetch without errors to the entity cache."""
        data = response.get("data")
        if not isinstance(data, dict):
            return
        for alias, batch in zip(spec.aliases, batches, strict=True):
            results = data.get(alias)
            if isinstance(results, list) and len(results) == len(batch.identities):
                entities.keep(batch.key, batch.identities, batch.reps, results)

    async def _contextual(self, group: Group) -> None:
        """A group taking context arguments: one alias per distinct set of their values."""
        batches = collect_contextual(group, self.data, _entity_representation, _representation)
        if not batches:
            return
        spec = self.plan.contextual_fetch(group, len(batches))
        variables = self.variables_for(spec.variable_names)
        several = len(batches) > 1
        for index, (name, batch) in enumerate(zip(spec.reps_variables, batches, strict=True)):
            variables[name] = batch.reps
            for variable, value in batch.values.items():
                variables[f"{variable}_{index}" if several else variable] = value
        response = await self.fetch(group.graph, spec.document, variables, idempotent=True)
        self._absorb_entities(spec, batches, response)

    def _absorb_entities(
        self,
        spec: EntityFetch,
        batches: Sequence[_Batch | ContextBatch],
        response: JSON,
    ) -> None:
        data = response.get("data")
        if isinstance(data, dict):
            for alias, batch in zip(spec.aliases, batches, strict=True):
                results = data.get(alias)
                if isinstance(results, list):
                    owners: Sequence[Sequence[tuple[dict[str, Any], Any]]] = batch.owners
                    merged = batch.merged if isinstance(batch, _Batch) else None
                    for result, located in zip(results, owners, strict=False):
                        if isinstance(result, dict):
                            if merged is not None:
                                merged.update(result)
                            _merge_each(located, result)
        errors = response.get("errors") or ()
        for error in errors:
            self._entity_error(error, batches, data)

    def _entity_error(
        self, error: Any, batches: Sequence[_Batch | ContextBatch], data: Any
    ) -> None:
        path = error.get("path") if isinstance(error, dict) else None
        if isinstance(path, list) and len(path) >= 2 and isinstance(path[1], int):
            alias = path[0]
            if isinstance(alias, str) and alias[1:].isdigit():
                index = int(alias[1:])
                if index < len(batches) and path[1] < len(batches[index].owners):
                    for _, where in batches[index].owners[path[1]]:
                        self.errors.append(_client_error(error, [*_path_of(where), *path[2:]]))
                    return
        if isinstance(data, dict):
            self.errors.append(_client_error(error, None))
            return
        for batch in batches:  # the whole fetch failed: say so where each group's data was due
            self.errors.append(_client_error(error, _path_of(batch.owners[0][0][1])))


def _path_of(where: Any) -> list[str | int]:
    """A located object's response path as a list: batches of context groups hold tuple
    paths (`collect_contextual`, starting with a field name), the others linked ones
    (`_find`, starting with a parent link or None)."""
    if not where:
        return []
    if where[0] is None or where[0].__class__ is tuple:
        return _linked_list(where)
    return list(where)


def _identity(rep: dict[str, Any]) -> Any:
    """What deduplicates a representation (see `_identity_of`)."""
    return _identity_of(tuple(rep), list(rep.values()))


def _identity_of(names: tuple[str, ...], values: list[Any]) -> Any:
    """Equal exactly when two representations' JSON is: the names and values when every
    value is a string or an int (the common keys, `{"__typename", "id"}`, and requirements
    like `{upc price weight}`), the JSON itself otherwise. A tuple of other values would
    equate `1`, `1.0` and `True`; among exact `str` and `int` values (`bool` is a class of
    its own) tuple equality is JSON equality, and a tuple never equals the bytes."""
    for value in values:
        kind = value.__class__
        if kind is not str and kind is not int:
            return orjson.dumps(dict(zip(names, values, strict=True)))
    return (names, *values)


def _client_error(error: Any, path: Any) -> dict[str, Any]:
    if not isinstance(error, dict):
        return {
            "message": str(error),
            "extensions": {"code": ErrorCode.INTERNAL_SERVER_ERROR.value},
        }
    out: dict[str, Any] = {"message": str(error.get("message", "Unknown subgraph error"))}
    if path:
        out["path"] = list(path)
    extensions = error.get("extensions")
    if isinstance(extensions, dict) and extensions:
        out["extensions"] = extensions
    return out
