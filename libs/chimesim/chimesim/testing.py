"""pytest fixtures (registered through the `pytest11` entry point): a Chime endpoint on
loopback for boto3's `endpoint_url`, its clock under the test's control.

`chime` needs servicekit's `aws_endpoint` (the moto server the artifacts and events go to);
it starts the emulator once per session with a `ManualClock` and throttling off, and yields
a `ChimeSim` handle to drive it. Its events go nowhere unless a test asks for
`chime_events`, which routes them to an SQS queue of the test's own.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest

from chimesim.clock import ManualClock
from chimesim.settings import Settings

# boto3, uvicorn and the application (PyAV, botocore's models) are imported when a test
# asks for the emulator: this module loads in every test session of the repository.


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """uvicorn serving an app from a daemon thread, stopped cleanly."""

    def __init__(self, app: Any, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_keep_alive=Settings.keep_alive_seconds,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="chimesim", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the Chime emulator did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class ChimeSim:
    """A running emulator: its URL for boto3, its clock, and its control endpoints."""

    url: str
    clock: ManualClock
    aws_endpoint: str
    region: str = "us-east-1"
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def client(self, service: str, **config: Any) -> Any:
        """A boto3 client for `chime-sdk-meetings` or `chime-sdk-media-pipelines`."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(**config) if config else None,
        )

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(
            method, f"{self.url}/_emulator{path}", content=orjson.dumps(body or {})
        )
        response.raise_for_status()
        return response.json()

    def join(self, meeting_id: str, attendee_id: str) -> bool:
        """The attendee connects; True when its video is published (within the 25)."""
        path = f"/meetings/{meeting_id}/attendees/{attendee_id}/join"
        return bool(self._control("POST", path)["VideoPublishing"])

    def leave(self, meeting_id: str, attendee_id: str) -> None:
        self._control("POST", f"/meetings/{meeting_id}/attendees/{attendee_id}/leave")

    def drop(self, meeting_id: str, attendee_id: str) -> None:
        self._control("POST", f"/meetings/{meeting_id}/attendees/{attendee_id}/drop")

    def speak(self, meeting_id: str, attendee_id: str, text: str) -> bool:
        path = f"/meetings/{meeting_id}/attendees/{attendee_id}/speak"
        return bool(self._control("POST", path, {"Text": text})["Transcribed"])

    def advance(self, seconds: float) -> datetime:
        """Move the emulator's clock and let it catch up (meetings end, chunks are written)."""
        now = self._control("POST", "/clock/advance", {"Seconds": seconds})["Now"]
        return datetime.fromisoformat(now)

    def calls(self) -> dict[str, int]:
        return dict(self._control("GET", "/calls")["Calls"])

    def reset_calls(self) -> None:
        self._control("DELETE", "/calls")

    def throttling(self, rate: float, burst: int = 20) -> None:
        self._control("PUT", "/throttling", {"Rate": rate, "Burst": burst})

    def route_events(self, queue_url: str | None) -> None:
        """Send the emulator's events to another queue from now on."""
        self._control("PUT", "/events/queue", {"QueueUrl": queue_url})


@dataclass
class EventQueue:
    """A queue of the test's own that the emulator's events go to."""

    sqs: Any
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)

    def of(
        self, meeting_id: str, *, at_least: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """The meeting's events received so far, oldest first by `detail.timestamp` (waits
        until `at_least` have arrived or `timeout` passes)."""
        deadline = time.monotonic() + timeout
        while True:
            mine = [e for e in self.received if e["detail"].get("meetingId") == meeting_id]
            if len(mine) >= at_least or time.monotonic() > deadline:
                return sorted(mine, key=lambda e: int(e["detail"]["timestamp"]))
            got = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            messages = got.get("Messages", [])
            self.received.extend(orjson.loads(m["Body"]) for m in messages)
            if messages:
                entries = [
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ]
                self.sqs.delete_message_batch(QueueUrl=self.url, Entries=entries)


@pytest.fixture(scope="session")
def chime(aws_endpoint: str) -> Iterator[ChimeSim]:
    from chimesim.app import build_app

    settings = Settings(aws_endpoint_url=aws_endpoint, throttle_rate=0.0, max_chunks=24)
    clock = ManualClock()
    port = _free_port()
    server = ServerThread(build_app(settings, clock), port)
    server.start()
    try:
        sim = ChimeSim(f"http://127.0.0.1:{port}", clock, aws_endpoint)
        yield sim
        sim.http.close()
    finally:
        server.stop()


@pytest.fixture
def chime_events(chime: ChimeSim) -> Iterator[EventQueue]:
    """The emulator's events, into a queue of this test's own for its duration."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=chime.aws_endpoint, region_name=chime.region)
    url = sqs.create_queue(QueueName=f"chime-events-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    chime.route_events(url)
    try:
        yield EventQueue(sqs, url)
    finally:
        chime.route_events(None)
        sqs.delete_queue(QueueUrl=url)
