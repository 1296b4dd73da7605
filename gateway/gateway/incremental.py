"""Incremental delivery (`@defer`, `@stream`): the payloads of one operation, and their framing.

Two formats, chosen by the client. The default is the one Apollo Client (3.7+, and 4 by
default) and the Apollo Router speak, `deferSpec=20220824`: a first payload `{"data":
..., "hasNext": true}`, then one per deferred part, `{"incremental": [{"data": ...,
"path": [...], "label"?: ..., "errors"?: [...]}], "hasNext": ...}`, one item per object
the fragment completes (each item of a list its own), the last with `hasNext: false`.

The newer one is the specification working draft's (graphql-js 17, `incrementalSpec=v0.2`
as Apollo names it, `incrementalDeliverySpec=3283f8a` as Apollo Server does): the first
payload announces what is to come, `"pending": [{"id": "0", "path": [...], "label"?:
...}]`; a later payload carries `"incremental": [{"id": "0", "data": ...}]` (`items`
for a stream) and closes what it finished, `"completed": [{"id": "0"}]`, announcing the
nested fragments its data now holds in its own `pending`. A fragment whose data could
not be completed (null) is closed with its errors, `{"id": ..., "errors": [...]}`, and
sends no data. `hasNext` is true exactly while something announced is still open. The
fragment's fields are sent whole, even those the payload before it already held (the
draft leaves them out): the merged result is the same.

Over HTTP the payloads go as `multipart/mixed; boundary="graphql"` parts (the content
type names the format, as the client's `Accept` did); over graphql-transport-ws as one
`next` message each.

Each part runs its own fetches after the payloads before it were sent (`plan.deferred`,
in order: a nested fragment after its parent). With demand control on, the actual cost
is measured payload by payload as the answer without `@defer` is (`Meter`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from gateway.executor.run import Execution, locate
from gateway.executor.shape import Shaper
from gateway.planner.operation import NFragment, NSel
from gateway.planner.plan import DeferredPart, Plan
from gateway.types import DEFER_SPEC_20220824, INCREMENTAL_SPEC_V0_2, JSON

__all__ = [
    "MULTIPART_CONTENT_TYPE",
    "Meter",
    "accepts_multipart",
    "content_type",
    "incremental_spec",
    "multipart_chunks",
    "payloads",
    "send_multipart",
]

log = logging.getLogger(__name__)

_FAILED: dict[str, Any] = {
    "errors": [
        {"message": "Internal server error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
    ],
    "hasNext": False,
}

BOUNDARY = "graphql"
MULTIPART_CONTENT_TYPE = f'multipart/mixed; boundary="{BOUNDARY}"; deferSpec=20220824'
_PART_HEAD = (
    b"\r\n--" + BOUNDARY.encode() + b"\r\ncontent-type: application/json; charset=utf-8\r\n\r\n"
)
_END = b"\r\n--" + BOUNDARY.encode() + b"--\r\n"

# `Accept` parameters of `multipart/mixed` naming the newer format, as clients send them.
_CURRENT_PARAMETERS = {("incrementalspec", "v0.2"), ("incrementaldeliveryspec", "3283f8a")}


def accepts_multipart(accept: str | None) -> bool:
    """Whether an `Accept` header takes `multipart/mixed` (the incremental delivery form)."""
    return accept is not None and "multipart/mixed" in accept.lower()


def incremental_spec(accept: str | None) -> tuple[str, str] | None:
    """The incremental format an `Accept` header asks for, with its `multipart/mixed` parameter.

    None when it takes no `multipart/mixed`. The `multipart/mixed` range with the highest
    quality wins (the first of equals); it asks for the newer format when it carries
    `incrementalSpec=v0.2` or `incrementalDeliverySpec=3283f8a`, for the default otherwise
    (plain, or `deferSpec=20220824`).
    """
    if not accepts_multipart(accept):
        return None
    assert accept is not None
    best: tuple[float, str, str] | None = None
    for media_range in accept.split(","):
        kind, *raw = (piece.strip() for piece in media_range.split(";"))
        if kind.lower() != "multipart/mixed":
            continue
        quality, chosen = 1.0, (DEFER_SPEC_20220824, "deferSpec=20220824")
        for parameter in raw:
            name, _, value = parameter.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"')
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
            elif (name, value.lower()) in _CURRENT_PARAMETERS:
                chosen = (INCREMENTAL_SPEC_V0_2, parameter.strip())
        if quality > 0 and (best is None or quality > best[0]):
            best = (quality, *chosen)
    return None if best is None else (best[1], best[2])


def content_type(parameter: str) -> str:
    """The `Content-Type` of a multipart answer in the format `parameter` names."""
    return f'multipart/mixed; boundary="{BOUNDARY}"; {parameter}'


class Meter(Protocol):
    """What measures the actual cost of an incremental answer, payload by payload."""

    def first(self, data: Any) -> None:
        """The first payload's data, streamed lists whole."""

    def part(self, type_name: str, selections: Sequence[NSel], data: Any) -> None:
        """The data one deferred fragment delivered for one object."""

    def done(self, finished: bool) -> None:
        """The answer ended: every payload was sent (`finished`) or the client left."""


def payloads(
    plan: Plan,
    execution: Execution,
    *,
    spec: str = DEFER_SPEC_20220824,
    meter: Meter | None = None,
) -> AsyncIterator[JSON]:
    """Run a plan with deferred parts, yielding the first payload and then one per part."""
    if spec == INCREMENTAL_SPEC_V0_2:
        return _current(plan, execution, meter)
    return _legacy(plan, execution, meter)


async def _first(plan: Plan, execution: Execution, meter: Meter | None) -> JSON:
    await execution.run()
    errors = list(execution.errors)
    first: JSON = {"data": Shaper(errors).root(plan.primary_shape, execution.data)}
    if errors:
        first["errors"] = errors
    if meter is not None:
        meter.first(first["data"])
    return first


@dataclass(slots=True)
class _Item:
    """What one deferred fragment delivers for one object: data, errors, where."""

    where: list[str | int]
    data: Any
    errors: list[dict[str, Any]]


async def _run_part(part: DeferredPart, execution: Execution, meter: Meter | None) -> list[_Item]:
    """Run a part's fetches; its items, the fetch errors each object's path holds first.

    Errors under no object's path go to the first item's.
    """
    mark = len(execution.errors)
    for step in part.steps:
        await execution.run_step(step)
    fetch_errors = execution.errors[mark:]
    items: list[_Item] = []
    for obj, where in locate(execution.data, part.path):
        item_errors: list[dict[str, Any]] = []
        data = Shaper(item_errors).at(part.shape, obj, where)
        item_errors[:0] = [e for e in fetch_errors if _under(e, where)]
        items.append(_Item(list(where), data, item_errors))
        if meter is not None:
            meter.part(part.type_name, part.selections, data)
    stray = [e for e in fetch_errors if not any(_under(e, i.where) for i in items)]
    if stray and items:
        items[0].errors[:0] = stray
    return items


async def _legacy(plan: Plan, execution: Execution, meter: Meter | None) -> AsyncIterator[JSON]:
    finished = False
    try:
        first = await _first(plan, execution, meter)
        streamed = _split_streams(plan.primary_shape.selections, first["data"], ())
        first["hasNext"] = bool(streamed or plan.deferred)
        yield first
        for number, (path, label, rest) in enumerate(streamed):
            entry: JSON = {"items": rest, "path": list(path)}
            if label:
                entry["label"] = label
            more = number < len(streamed) - 1 or bool(plan.deferred)
            yield {"incremental": [entry], "hasNext": more}
        last = len(plan.deferred) - 1
        for index, part in enumerate(plan.deferred):
            items: list[JSON] = []
            for found in await _run_part(part, execution, meter):
                item: JSON = {"data": found.data, "path": found.where}
                if part.label:
                    item["label"] = part.label
                if found.errors:
                    item["errors"] = found.errors
                items.append(item)
            payload: JSON = {"hasNext": index < last}
            if items:
                payload = {"incremental": items, **payload}
            yield payload
        finished = True
    finally:
        if meter is not None:
            meter.done(finished)


async def _current(plan: Plan, execution: Execution, meter: Meter | None) -> AsyncIterator[JSON]:
    finished = False
    try:
        first = await _first(plan, execution, meter)
        streamed = _split_streams(plan.primary_shape.selections, first["data"], ())
        heralds = _Heralds(plan, execution, [([], first["data"])])
        pending = heralds.announce(0)
        streams: list[tuple[str, tuple[str | int, ...], list[Any]]] = []
        for path, label, rest in streamed:
            entry: JSON = {"id": heralds.new_id(), "path": list(path[:-1])}
            if label:
                entry["label"] = label
            pending.append(entry)
            streams.append((entry["id"], path, rest))
        if pending:
            first["pending"] = pending
        first["hasNext"] = bool(pending)
        yield first
        if not pending:
            finished = True
            return
        open_ids = {entry["id"] for entry in pending}
        for stream_id, path, rest in streams:
            open_ids.discard(stream_id)
            *head, initial = path
            assert isinstance(initial, int)
            for offset, item in enumerate(rest):
                heralds.delivered.append(([*head, initial + offset], item))
            # Fragments deferred inside the streamed items: announced with them.
            nested = heralds.announce(0)
            open_ids.update(entry["id"] for entry in nested)
            payload: JSON = {"pending": nested} if nested else {}
            payload["incremental"] = [{"id": stream_id, "items": rest}]
            payload["completed"] = [{"id": stream_id}]
            payload["hasNext"] = bool(open_ids)
            yield payload
        for part in plan.deferred:
            due = heralds.announced.pop(part.part, None)
            if not due:
                continue
            by_path = {tuple(where): number for number, where in due}
            incremental: list[JSON] = []
            completed: list[JSON] = []
            for found in await _run_part(part, execution, meter):
                number = by_path.pop(tuple(found.where), None)
                if number is None:  # not in the data the client holds: nothing to send
                    continue
                if found.data is None:
                    completed.append({"id": number, "errors": found.errors})
                    continue
                entry = {"id": number, "data": found.data}
                if found.errors:
                    entry["errors"] = found.errors
                incremental.append(entry)
                completed.append({"id": number})
                heralds.delivered.append((found.where, found.data))
            # Announced for an object the part did not find again: closed, nothing sent.
            completed += [{"id": number} for number in by_path.values()]
            open_ids.difference_update(number for number, _ in due)
            nested = heralds.announce(part.part)
            open_ids.update(entry["id"] for entry in nested)
            payload = {"pending": nested} if nested else {}
            if incremental:
                payload["incremental"] = incremental
            payload["completed"] = completed
            payload["hasNext"] = bool(open_ids)
            yield payload
        finished = True
    finally:
        if meter is not None:
            meter.done(finished)


class _Heralds:
    """The `pending` announcements of one answer: ids, and which object each was for."""

    def __init__(
        self, plan: Plan, execution: Execution, delivered: list[tuple[list[str | int], Any]]
    ) -> None:
        self.plan = plan
        self.execution = execution
        # What the payloads so far hold at a path: the first's data, then each item's.
        self.delivered = delivered
        self.announced: dict[int, list[tuple[str, list[str | int]]]] = {}
        self._seen: set[tuple[int, tuple[str | int, ...]]] = set()
        self._ids = itertools.count()

    def new_id(self) -> str:
        return str(next(self._ids))

    def announce(self, parent: int) -> list[JSON]:
        """Entries for the parts nested in `parent`: one per object the client now holds."""
        entries: list[JSON] = []
        for part in self.plan.deferred:
            if part.parent != parent:
                continue
            for _obj, where in locate(self.execution.data, part.path):
                seen = (part.part, where)
                if seen in self._seen or not _held(self.delivered, list(where)):
                    continue
                self._seen.add(seen)
                number = self.new_id()
                entry: JSON = {"id": number, "path": list(where)}
                if part.label:
                    entry["label"] = part.label
                entries.append(entry)
                self.announced.setdefault(part.part, []).append((number, list(where)))
        return entries


def _held(delivered: list[tuple[list[str | int], Any]], where: list[str | int]) -> bool:
    """Whether a payload sent so far holds an object (not null) at `where`."""
    for base, data in reversed(delivered):
        if where[: len(base)] != base:
            continue
        value = data
        for segment in where[len(base) :]:
            if isinstance(segment, int):
                value = value[segment] if isinstance(value, list) and segment < len(value) else None
            else:
                value = value.get(segment) if isinstance(value, dict) else None
            if value is None:
                break
        if isinstance(value, dict):
            return True
    return False


def _split_streams(
    selections: Sequence[NSel], data: Any, path: tuple[str | int, ...]
) -> list[tuple[tuple[str | int, ...], str, list[Any]]]:
    """Cut every `@stream`ed list of the shaped data to its `initialCount` items.

    Returns the rest of each, with the path of its first item left out and its label:
    the items delivered in a payload after the first. The fetches are not split: the
    lists arrive whole from the subgraphs, and only their delivery is incremental.
    """
    found: list[tuple[tuple[str | int, ...], str, list[Any]]] = []
    if isinstance(data, list):
        for index, item in enumerate(data):
            found += _split_streams(selections, item, (*path, index))
        return found
    if not isinstance(data, dict):
        return found
    for selection in selections:
        if isinstance(selection, NFragment):
            found += _split_streams(selection.selections, data, path)
            continue
        value = data.get(selection.key)
        if selection.stream is not None and isinstance(value, list):
            label, initial = selection.stream
            if len(value) > initial:
                rest = value[initial:]
                del value[initial:]
                found.append(((*path, selection.key, initial), label, rest))
                # What is below the streamed items is delivered with them, whole.
        if selection.selections is not None and value is not None:
            found += _split_streams(selection.selections, value, (*path, selection.key))
    return found


def _under(error: dict[str, Any], where: Sequence[str | int]) -> bool:
    path = error.get("path")
    return isinstance(path, list) and path[: len(where)] == list(where)


async def multipart_chunks(results: AsyncIterator[JSON]) -> AsyncIterator[bytes]:
    """The HTTP body of an incremental response: one `multipart/mixed` part per payload.

    A failure after the first part cannot change the status any more: it ends the
    stream with a last payload carrying the error (`hasNext: false`).
    """
    try:
        async for payload in results:
            yield _PART_HEAD + orjson.dumps(payload)
    except Exception:
        log.exception("an incremental response failed after it started")
        yield _PART_HEAD + orjson.dumps(_FAILED)
    yield _END


Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def send_multipart(
    send: Send, results: AsyncIterator[JSON], media_type: str = MULTIPART_CONTENT_TYPE
) -> None:
    """Answer an HTTP request (ASGI) with the payloads, each part sent as it is ready."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", media_type.encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    async for chunk in multipart_chunks(results):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
