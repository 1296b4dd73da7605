"""Incremental delivery (`@defer`): the payloads of one operation, and their framing.

The payloads follow the incremental delivery format Apollo Client (3.7+, and 4 by
default) and the Apollo Router speak, `deferSpec=20220824`: a first payload
`{"data": ..., "hasNext": true}`, then one per deferred part, `{"incremental": [{"data":
..., "path": [...], "label"?: ..., "errors"?: [...]}], "hasNext": ...}`, one item per
object the fragment completes (each item of a list its own), the last with `hasNext:
false`. Over HTTP they go as `multipart/mixed; boundary="graphql"; deferSpec=20220824`
parts; over graphql-transport-ws as one `next` message each.

Each part runs its own fetches after the payloads before it were sent (`plan.deferred`,
in order: a nested fragment after its parent).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from typing import Any

import orjson

from gateway.executor.run import Execution, locate
from gateway.executor.shape import Shaper
from gateway.planner.operation import NFragment, NSel
from gateway.planner.plan import Plan
from gateway.types import JSON

__all__ = [
    "MULTIPART_CONTENT_TYPE",
    "accepts_multipart",
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


def accepts_multipart(accept: str | None) -> bool:
    """Whether an `Accept` header takes `multipart/mixed` (the incremental delivery form)."""
    return accept is not None and "multipart/mixed" in accept.lower()


async def payloads(plan: Plan, execution: Execution) -> AsyncIterator[JSON]:
    """Run a plan with deferred parts, yielding the first payload and then one per part."""
    await execution.run()
    errors = list(execution.errors)
    first: JSON = {"data": Shaper(errors).root(plan.primary_shape, execution.data)}
    if errors:
        first["errors"] = errors
    streamed = _split_streams(plan.primary_shape.selections, first["data"], ())
    first["hasNext"] = bool(streamed or plan.deferred)
    yield first
    for number, (path, label, rest) in enumerate(streamed):
        entry: JSON = {"items": rest, "path": list(path)}
        if label:
            entry["label"] = label
        yield {"incremental": [entry], "hasNext": number < len(streamed) - 1 or bool(plan.deferred)}
    last = len(plan.deferred) - 1
    for index, part in enumerate(plan.deferred):
        mark = len(execution.errors)
        for step in part.steps:
            await execution.run_step(step)
        fetch_errors = execution.errors[mark:]
        items: list[JSON] = []
        for obj, where in locate(execution.data, part.path):
            item_errors: list[dict[str, Any]] = []
            data = Shaper(item_errors).at(part.shape, obj, where)
            item: JSON = {"data": data, "path": list(where)}
            if part.label:
                item["label"] = part.label
            item_errors[:0] = [e for e in fetch_errors if _under(e, where)]
            if item_errors:
                item["errors"] = item_errors
            items.append(item)
        stray = [e for e in fetch_errors if not any(_under(e, i["path"]) for i in items)]
        if stray and items:
            items[0].setdefault("errors", [])[:0] = stray
        payload: JSON = {"hasNext": index < last}
        if items:
            payload = {"incremental": items, **payload}
        yield payload


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


async def send_multipart(send: Send, results: AsyncIterator[JSON]) -> None:
    """Answer an HTTP request (ASGI) with the payloads, each part sent as it is ready."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", MULTIPART_CONTENT_TYPE.encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    async for chunk in multipart_chunks(results):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
