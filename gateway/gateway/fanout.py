"""Shared subscriptions: identical live subscriptions ride one upstream stream.

When many sockets follow the same thing (a tour's call watched by everyone in it from
several devices, a page open in many tabs), each subscription used to open its own
upstream WebSocket, and each event was planned, fetched, shaped and encoded once per
subscriber. Subscriptions with the same key — `coalescing.coalescing_key`: engine,
document, operation name, variables, principal, client and forwarded headers — now share
one engine subscription (one upstream stream, one execution per event, one JSON encode
per event); the events are handed to each subscriber already encoded (JSON text).

A subscriber that joins a running stream receives the events from then on, as it would
from a stream of its own (our subgraphs send no initial event). Each subscriber has a
bounded queue (`queue_size` events): one that falls that far behind is dropped from the
stream with an error, so a slow socket never holds the others back nor grows memory.
The upstream stream is closed when its last subscriber leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any

import orjson

from gateway.types import JSON

__all__ = ["END", "SLOW", "Broadcast", "SubscriptionHub"]

log = logging.getLogger(__name__)

END: Any = object()  # the stream completed
SLOW: Any = object()  # this subscriber fell behind and was dropped

Start = Callable[[], Awaitable[AsyncIterator[JSON] | JSON]]


class Broadcast:
    """One engine subscription and the queues of the subscribers sharing it."""

    def __init__(self, key: Hashable, queue_size: int) -> None:
        self.key = key
        self.queue_size = queue_size
        self.listeners: set[asyncio.Queue[Any]] = set()
        self.pump: asyncio.Task[None] | None = None

    def add(self) -> asyncio.Queue[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue(self.queue_size + 1)
        self.listeners.add(queue)
        return queue

    def publish(self, item: Any) -> None:
        for queue in list(self.listeners):
            if item is not END and queue.qsize() >= self.queue_size:
                self.listeners.discard(queue)
                queue.put_nowait(SLOW)
            else:
                queue.put_nowait(item)


class SubscriptionHub:
    """Subscriptions by key; `subscribe` answers an iterator of encoded events or a result."""

    def __init__(self, *, queue_size: int = 256) -> None:
        self._queue_size = queue_size
        self._running: dict[Hashable, Broadcast] = {}
        self._starting: dict[Hashable, asyncio.Future[Broadcast | JSON]] = {}
        self.shared = 0

    @property
    def streams(self) -> int:
        """Upstream streams running now."""
        return len(self._running)

    async def subscribe(self, key: Hashable, start: Start) -> AsyncIterator[str] | JSON:
        """Join the stream of `key`, starting it with `start` when none runs."""
        broadcast = self._running.get(key)
        if broadcast is None:
            starting = self._starting.get(key)
            if starting is not None:
                outcome = await asyncio.shield(starting)
                if isinstance(outcome, dict):
                    return outcome
                broadcast = outcome
            else:
                outcome = await self._start(key, start)
                if isinstance(outcome, dict):
                    return outcome
                broadcast = outcome
                return self._listen(broadcast, broadcast.add())
        self.shared += 1
        return self._listen(broadcast, broadcast.add())

    async def _start(self, key: Hashable, start: Start) -> Broadcast | JSON:
        future: asyncio.Future[Broadcast | JSON] = asyncio.get_running_loop().create_future()
        self._starting[key] = future
        try:
            result = await start()
            if isinstance(result, dict):
                future.set_result(result)
                return result
            broadcast = Broadcast(key, self._queue_size)
            self._running[key] = broadcast
            broadcast.pump = asyncio.ensure_future(self._pump(broadcast, result))
            future.set_result(broadcast)
            return broadcast
        except BaseException as error:
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: joiners see it through their own await
            raise
        finally:
            del self._starting[key]

    async def _pump(self, broadcast: Broadcast, events: AsyncIterator[JSON]) -> None:
        try:
            async for event in events:
                broadcast.publish(orjson.dumps(event).decode())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("a shared subscription failed")
            broadcast.publish(orjson.dumps(_FAILED).decode())
        finally:
            if self._running.get(broadcast.key) is broadcast:
                del self._running[broadcast.key]
            broadcast.publish(END)
            close = getattr(events, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

    async def _listen(self, broadcast: Broadcast, queue: asyncio.Queue[Any]) -> AsyncIterator[str]:
        try:
            while True:
                item = await queue.get()
                if item is END:
                    return
                if item is SLOW:
                    yield orjson.dumps(_SLOW).decode()
                    return
                yield item
        finally:
            broadcast.listeners.discard(queue)
            if not broadcast.listeners and broadcast.pump is not None:
                if self._running.get(broadcast.key) is broadcast:
                    del self._running[broadcast.key]
                broadcast.pump.cancel()


_FAILED: JSON = {
    "data": None,
    "errors": [
        {"message": "Internal server error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
    ],
}
_SLOW: JSON = {
    "data": None,
    "errors": [
        {
            "message": "The subscription fell too far behind its events and was stopped.",
            "extensions": {"code": "UNAVAILABLE", "reason": "SUBSCRIBER_TOO_SLOW"},
        }
    ],
}
