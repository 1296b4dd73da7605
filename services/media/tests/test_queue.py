"""The Chime event queue against moto's SQS: a batch is handled meeting by meeting at once,
in order within a meeting, and only the messages handled are deleted."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from media.eventbridge import ChimeSignal, PipelineSignal
from media.queue import ChimeEventQueue, Handler


def _event(meeting_id: str, n: int) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Chime Meeting State Change",
            "source": "aws.chime",
            "detail": {
                "version": "0",
                "eventType": "chime:AttendeeJoined",
                "timestamp": 1_700_000_000_000 + n,
                "meetingId": meeting_id,
                "attendeeId": f"attendee-{n}",
            },
        }
    )


@dataclass
class Queue:
    sqs: Any
    name: str
    url: str

    def consumer(self, endpoint: str, handler: Handler, **options: Any) -> ChimeEventQueue:
        return ChimeEventQueue(
            queue_name=self.name,
            region="us-east-1",
            handler=handler,
            endpoint_url=endpoint,
            wait_seconds=1,
            **options,
        )


@pytest.fixture
def queue(aws_endpoint: str) -> Iterator[Queue]:
    """A queue of its own in moto's SQS, deleted after the test."""
    sqs = boto3.client("sqs", endpoint_url=aws_endpoint, region_name="us-east-1")
    name = f"chime-{uuid.uuid4().hex[:8]}"
    made = Queue(sqs, name, sqs.create_queue(QueueName=name)["QueueUrl"])
    yield made
    sqs.delete_queue(QueueUrl=made.url)


async def test_a_batch_is_handled_per_meeting_at_once_in_order_and_deleted(
    aws_endpoint: str, queue: Queue
) -> None:
    sqs, url = queue.sqs, queue.url
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    bodies = [_event(first if n % 2 else second, n) for n in range(8)] + ["not json"]
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
    )
    seen: dict[str, list[int]] = {first: [], second: []}
    running: dict[str, int] = {first: 0, second: 0}
    overlapped = False

    async def handler(signal: ChimeSignal | PipelineSignal) -> None:
        nonlocal overlapped
        assert isinstance(signal, ChimeSignal) and signal.attendee_id is not None
        n = int(signal.attendee_id.rsplit("-", 1)[1])
        running[signal.meeting_id] += 1
        assert running[signal.meeting_id] == 1, "two events of one meeting handled at once"
        overlapped = overlapped or all(running.values())
        for _ in range(3):
            await asyncio.sleep(0)
        running[signal.meeting_id] -= 1
        if n == 6:
            raise RuntimeError("this one fails and comes again")
        seen[signal.meeting_id].append(n)

    consumer = queue.consumer(aws_endpoint, handler)
    handled = 0
    while handled < len(bodies) - 1:
        got = await consumer.receive()
        assert got, "messages missing"
        handled += await consumer.handle(got) + sum(1 for m in got if "attendee-6" in m["Body"])
    assert seen == {first: [1, 3, 5, 7], second: [0, 2, 4]}
    assert overlapped, "the two meetings' events were handled one after another"
    left: Any = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    # Everything handled (the bad body too) is deleted; the failed event waits in flight.
    assert left == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "1",
    }


async def test_events_that_come_within_the_batching_window_are_handled_as_one_batch(
    aws_endpoint: str, queue: Queue
) -> None:
    sqs, url = queue.sqs, queue.url
    meeting = str(uuid.uuid4())
    handled: list[int] = []

    async def handler(signal: ChimeSignal | PipelineSignal) -> None:
        assert isinstance(signal, ChimeSignal) and signal.attendee_id is not None
        handled.append(int(signal.attendee_id.rsplit("-", 1)[1]))

    consumer = queue.consumer(aws_endpoint, handler, batch_window=1.0)
    batches: list[int] = []
    handle = consumer.handle

    async def recorded(messages: list[dict[str, Any]]) -> int:
        if messages:
            batches.append(len(messages))
        return await handle(messages)

    consumer.handle = recorded  # type: ignore[method-assign]

    async def until_handled(count: int) -> None:
        async with asyncio.timeout(15):
            while len(handled) < count:
                await asyncio.sleep(0.01)

    running = asyncio.create_task(consumer.run())
    try:
        sqs.send_message(QueueUrl=url, MessageBody=_event(meeting, 0))
        await until_handled(1)
        # Sent one by one while the next receive waits: it returns with the first, waits out
        # the window, then takes the others into the same batch.
        for n in (1, 2, 3):
            sqs.send_message(QueueUrl=url, MessageBody=_event(meeting, n))
        await until_handled(4)
    finally:
        running.cancel()
    assert batches == [1, 3]
    assert sorted(handled) == [0, 1, 2, 3]
