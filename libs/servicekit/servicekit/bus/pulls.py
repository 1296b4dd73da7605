"""Pulling a durable consumer's messages in bulk, without a task per message.

nats-py's `fetch` waits for each message of a pull with `asyncio.wait_for`, which creates a
task per message: under a backlog that was a large part of a consumer's CPU. Here the
messages of a pull are appended to a buffer by the subscription's callback as the client
reads them, and a fetch returns when the pull is complete (its batch delivered, or the
server's status saying there is no more), so a batch costs a few awaits, not one per message.

A fetch first asks for what is there now (`no_wait`); only when nothing is, it leaves one
pull waiting on the server until its `expires`. Having messages to return, it asks for the
next batch before returning, so the next batch streams in while this one is handled (under
a backlog JetStream's delivery of a batch takes about as long as recording it). Messages
that arrive after a fetch returned stay in the buffer and are the next fetch's first.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import deque

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.js.api import DEFAULT_PREFIX, Header, StatusCode
from nats.js.errors import APIError

# Statuses that end a pull without an error: nothing (more) to deliver, the pull expired, or
# the consumer holds as many unacknowledged messages as it allows.
_ENDS = {StatusCode.NO_MESSAGES.value, StatusCode.REQUEST_TIMEOUT.value, StatusCode.CONFLICT.value}


_NOBODY = sys.maxsize  # no fetch is waiting


class Puller:
    """Pulls from one durable consumer of one stream through one inbox."""

    def __init__(self, nc: Client, stream: str, durable: str, *, prefix: str = DEFAULT_PREFIX):
        self._nc = nc
        self._next = f"{prefix}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = nc.new_inbox()
        self._buffer: deque[Msg] = deque()
        self._asked = 0  # messages the pull under way may still bring (0: none under way)
        self._lingering = False  # whether that pull waits on the server for messages to come
        self._error: Msg | None = None
        self._want = _NOBODY  # messages the fetch under way waits for
        self._arrived = asyncio.Event()
        self._sub: NatsSubscription | None = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._inbox, cb=self._received)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _received(self, msg: Msg) -> None:
        status = msg.headers.get(Header.STATUS) if msg.headers else None
        if not status:
            self._buffer.append(msg)
            self._asked = max(0, self._asked - 1)
        elif status in _ENDS:
            self._asked = 0
        elif status != StatusCode.CONTROL_MESSAGE.value:
            self._asked = 0
            self._error = msg
        if not self._asked or self._error is not None or len(self._buffer) >= self._want:
            self._arrived.set()  # the fetch waiting (if any) has what it waits for

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:
        """Up to `batch` messages, in the order delivered; empty when none came within
        `timeout`. Raises the server's error for a pull it refused (no such consumer).

        Once it has messages to return, it asks for the next batch (what is there now)
        before returning, so they stream in while this batch is handled."""
        if not self._buffer and not self._asked:
            await self._pull(batch, lingering=False)
        if len(self._buffer) < batch and self._asked and not self._lingering:
            await self._wait(batch, timeout)
        if not self._buffer:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            if not self._asked:
                await self._pull(batch, lingering=True, expires=timeout)
            await self._wait(1, timeout)
            if self._buffer:
                await asyncio.sleep(0)  # let the messages read with the first one land too
            else:  # a pull refused at once (too many unacknowledged) is not asked again sooner
                await asyncio.sleep(max(0.0, deadline - loop.time()))
        taken = [self._buffer.popleft() for _ in range(min(batch, len(self._buffer)))]
        if taken and not self._asked:
            await self._pull(batch, lingering=False)
        return taken

    async def _pull(self, batch: int, *, lingering: bool, expires: float = 0.0) -> None:
        request: dict[str, object] = {"batch": batch}
        if lingering:
            request["expires"] = max(int(expires * 1e9) - 100_000, 1_000_000)
        else:
            request["no_wait"] = True  # honoured only without `expires`
        self._asked, self._lingering = batch, lingering
        await self._nc.publish(self._next, json.dumps(request).encode(), reply=self._inbox)

    async def _wait(self, want: int, timeout: float) -> None:
        """Until `want` messages are buffered, the pull under way is over, or `timeout`."""
        self._want = want
        try:
            if self._asked and self._error is None and len(self._buffer) < want:
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), timeout)
                except TimeoutError:
                    # Over, as far as this side knows: expired, or lost with a reconnection
                    # (what it still brings is kept all the same).
                    self._asked = 0
        finally:
            self._want = _NOBODY
        if self._error is not None:
            error, self._error = self._error, None
            raise APIError.from_msg(error)
