"""The SQS queue EventBridge fills with Chime's events, read by long polling.

A message is deleted only after its event was handled and committed; a failure leaves it
to reappear after the visibility timeout (at-least-once), and the handler's inbox makes the
repeat harmless. A body that is not JSON is deleted with a warning: it can never succeed.
A batch's events are handled meeting by meeting at once (in order within a meeting), and
deleted with one request; the next batch is received while one is handled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from media.chime import USER_AGENT
from media.eventbridge import ChimeSignal, PipelineSignal, parse

log = logging.getLogger(__name__)

# The most messages one ReceiveMessage returns (SQS's limit).
BATCH = 10

Signal = ChimeSignal | PipelineSignal
Handler = Callable[[Signal], Awaitable[None]]


class ChimeEventQueue:
    def __init__(
        self,
        *,
        queue_name: str,
        region: str,
        handler: Handler,
        endpoint_url: str | None = None,
        wait_seconds: int = 20,
        batch_window: float = 0.0,
        client: Any = None,
    ) -> None:
        self.queue_name = queue_name
        self.handler = handler
        self.wait_seconds = wait_seconds
        self.batch_window = batch_window
        # Long polls outlast botocore's default read timeout.
        config = Config(
            read_timeout=wait_seconds + 10, retries={"mode": "standard"}, user_agent=USER_AGENT
        )
        self._sqs: Any = client or boto3.client(
            "sqs", endpoint_url=endpoint_url, region_name=region, config=config
        )
        self.url: str | None = None

    async def ensure_ready(self) -> str:
        """The queue's URL, creating the queue when it does not exist (development)."""
        if self.url is None:
            found = await asyncio.to_thread(self._sqs.create_queue, QueueName=self.queue_name)
            self.url = str(found["QueueUrl"])
        return self.url

    async def receive(self, *, up_to: int = BATCH, wait: bool = True) -> list[dict[str, Any]]:
        """Up to `up_to` messages (ten at most), waiting up to `wait_seconds` for the first
        unless `wait` is False."""
        url = await self.ensure_ready()
        found = await asyncio.to_thread(
            self._sqs.receive_message,
            QueueUrl=url,
            MaxNumberOfMessages=up_to,
            WaitTimeSeconds=self.wait_seconds if wait else 0,
        )
        messages: list[dict[str, Any]] = found.get("Messages", [])
        return messages

    async def gather(self) -> list[dict[str, Any]]:
        """A batch: what one receive brings and, when that is not a full batch, what else
        came within `batch_window` — as Lambda's batching window gathers records before it
        invokes. Events that come a few at a time (a crowd joining) are then handled and
        deleted ten at a time, not one receive, transaction round and delete each: requests
        SQS bills, and CPU here and in SQS, for a delay EventBridge's own dwarfs."""
        messages = await self.receive()
        if messages and len(messages) < BATCH and self.batch_window > 0:
            await asyncio.sleep(self.batch_window)
            messages += await self.receive(up_to=BATCH - len(messages), wait=False)
        return messages

    async def handle(self, messages: list[dict[str, Any]]) -> int:
        """Handle a batch and delete, in one request, the messages handled; how many.

        The events of one meeting are handled in the order received (they queue on its row
        lock anyway); different meetings' at once, each in a transaction of its own."""
        by_meeting: dict[str | None, list[tuple[dict[str, Any], Signal | None]]] = {}
        for message in messages:
            try:
                signal: Signal | None = parse(message["Body"])
            except (ValueError, KeyError):
                log.warning(
                    "dropping an SQS message that is not an event: %.200s", message.get("Body")
                )
                signal = None
            key = signal.meeting_id if signal is not None else None
            by_meeting.setdefault(key, []).append((message, signal))
        handled = await asyncio.gather(*(self._in_order(group) for group in by_meeting.values()))
        done = [
            {"Id": str(n), "ReceiptHandle": receipt}
            for n, receipt in enumerate(r for group in handled for r in group)
        ]
        if done:
            url = await self.ensure_ready()
            await asyncio.to_thread(self._sqs.delete_message_batch, QueueUrl=url, Entries=done)
        return len(done)

    async def _in_order(self, group: list[tuple[dict[str, Any], Signal | None]]) -> list[str]:
        """The receipt handles of the messages handled (a failed one stays for redelivery)."""
        receipts: list[str] = []
        for message, signal in group:
            try:
                if signal is not None:
                    await self.handler(signal)
            except Exception:
                log.exception("handling Chime event %s failed; it will come again", signal)
                continue
            receipts.append(message["ReceiptHandle"])
        return receipts

    async def poll_once(self) -> int:
        """Receive up to ten messages and handle them; how many were handled."""
        return await self.handle(await self.receive())

    async def run(self) -> None:
        """Gather the next batch while this one is handled: a receive costs a round trip
        (more on a busy queue) that need not wait for the handler's transactions."""
        pending: asyncio.Task[list[dict[str, Any]]] | None = None
        try:
            while True:
                try:
                    messages = await (pending or self.gather())
                except (BotoCoreError, ClientError):
                    pending = None
                    log.warning("the Chime event queue cannot be read; trying again", exc_info=True)
                    await asyncio.sleep(2.0)
                    continue
                pending = asyncio.ensure_future(self.gather())
                try:
                    await self.handle(messages)
                except (BotoCoreError, ClientError):
                    log.warning("handled Chime events could not be deleted; they come again")
        finally:
            if pending is not None:
                pending.cancel()
