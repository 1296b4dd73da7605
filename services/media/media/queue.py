"""The SQS queue EventBridge fills with Chime's events, read by long polling.

A message is deleted only after its event was handled and committed; a failure leaves it
to reappear after the visibility timeout (at-least-once), and the handler's inbox makes the
repeat harmless. A body that is not JSON is deleted with a warning: it can never succeed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from media.eventbridge import ChimeSignal, PipelineSignal, parse

log = logging.getLogger(__name__)

Handler = Callable[[ChimeSignal | PipelineSignal], Awaitable[None]]


class ChimeEventQueue:
    def __init__(
        self,
        *,
        queue_name: str,
        region: str,
        handler: Handler,
        endpoint_url: str | None = None,
        wait_seconds: int = 20,
        client: Any = None,
    ) -> None:
        self.queue_name = queue_name
        self.handler = handler
        self.wait_seconds = wait_seconds
        # Long polls outlast botocore's default read timeout.
        config = Config(read_timeout=wait_seconds + 10, retries={"mode": "standard"})
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

    async def poll_once(self) -> int:
        """Receive up to ten messages (waiting up to `wait_seconds`), handle them in order,
        and delete those handled; how many were handled."""
        url = await self.ensure_ready()
        found = await asyncio.to_thread(
            self._sqs.receive_message,
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self.wait_seconds,
        )
        done: list[dict[str, str]] = []
        for message in found.get("Messages", []):
            try:
                signal = parse(message["Body"])
            except (ValueError, KeyError):
                log.warning(
                    "dropping an SQS message that is not an event: %.200s", message.get("Body")
                )
                signal = None
            try:
                if signal is not None:
                    await self.handler(signal)
            except Exception:
                log.exception("handling Chime event %s failed; it will come again", signal)
                continue
            done.append({"Id": str(len(done)), "ReceiptHandle": message["ReceiptHandle"]})
        if done:
            await asyncio.to_thread(self._sqs.delete_message_batch, QueueUrl=url, Entries=done)
        return len(done)

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except (BotoCoreError, ClientError):
                log.warning("the Chime event queue cannot be read; trying again", exc_info=True)
                await asyncio.sleep(2.0)
