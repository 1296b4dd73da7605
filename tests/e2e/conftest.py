"""The real stack for end-to-end tests (see `tests/stack.py`), with the Chime SDK emulator
media talks to, as `make dev` runs it.

The emulator runs in this process on a clock of its own (so a test can move Chime's time
and take Chime down and up again), its events into an SQS queue of the session's that media
long-polls. Media's settings in this stack suit tests: the call of a tour booked hours ahead
is open, an empty call is deleted at once.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from chimesim.clock import ManualClock
from chimesim.settings import Settings as ChimeSettings
from chimesim.testing import ChimeSim, ServerThread
from servicekit.embedded import free_port, wait_for_port

from tests.stack import Stack, running_stack

__all__ = ["Emulator", "EmulatorProcess", "MediaStack", "Stack", "e2e_stack"]


@dataclass
class Emulator:
    """The Chime SDK emulator on a port of its own, which a test can take down."""

    port: int
    clock: ManualClock
    aws_endpoint: str
    queue_url: str
    server: ServerThread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ChimeSim:
        from chimesim.app import build_app

        settings = ChimeSettings(
            port=self.port,
            aws_endpoint_url=self.aws_endpoint,
            events_queue_url=self.queue_url,
            throttle_rate=0.0,
            max_chunks=24,
        )
        self.server = ServerThread(build_app(settings, self.clock), self.port)
        self.server.start()
        return ChimeSim(self.url, self.clock, self.aws_endpoint)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@dataclass
class EmulatorProcess(Emulator):
    """The emulator as `make dev` runs it: a process of its own, on the wall clock (`clock`
    is not its clock: tests that move Chime's time use `Emulator`)."""

    process: subprocess.Popen[bytes] | None = None

    def start(self) -> ChimeSim:
        env = {
            **os.environ,
            "CHIMESIM_PORT": str(self.port),
            "CHIMESIM_AWS_ENDPOINT_URL": self.aws_endpoint,
            "CHIMESIM_EVENTS_QUEUE_URL": self.queue_url,
            "CHIMESIM_THROTTLE_RATE": "0",
            "CHIMESIM_MAX_CHUNKS": "24",
        }
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "chimesim")], env=env, start_new_session=True
        )
        wait_for_port("127.0.0.1", self.port, 30, self.process)
        return ChimeSim(self.url, self.clock, self.aws_endpoint)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@dataclass
class MediaStack:
    stack: Stack
    emulator: Emulator
    chime: ChimeSim


@contextlib.contextmanager
def e2e_stack(
    *,
    postgres_url: str,
    nats_url: str,
    aws_endpoint: str,
    data_dir: Path,
    name: str = "e2e",
    emulator_process: bool = False,
    media_pool_warm: int = 0,
) -> Iterator[MediaStack]:
    """The emulator (in this process, on a clock the test moves; or a process of its own),
    then every service and the gateway pointed at it; all stopped after. Media opens no
    connections ahead (`media_pool_warm`): the tests share one PostgreSQL and its 100
    connections, where the benchmark warms media's pool as `make dev` does."""
    sqs = boto3.client("sqs", endpoint_url=aws_endpoint, region_name="us-east-1")
    queue_name = f"chime-events-{name}-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    # Chime's clock an hour behind the wall clock: calls left empty are due for deletion
    # at once (grace 0) whatever the clock was moved by while people spoke.
    kind = EmulatorProcess if emulator_process else Emulator
    emulator = kind(
        free_port(), ManualClock(datetime.now(UTC) - timedelta(hours=1)), aws_endpoint, queue_url
    )
    chime = emulator.start()
    env = {
        "CHIME_ENDPOINT_URL": emulator.url,
        "MEDIA_EVENTS_QUEUE_NAME": queue_name,
        "MEDIA_EVENTS_WAIT_SECONDS": "1",
        "MEDIA_JOIN_OPENS_MINUTES": str(3 * 24 * 60),  # the booked slot is hours away
        "MEDIA_EMPTY_GRACE_SECONDS": "0",
        "MEDIA_EMPTY_POLL_SECONDS": "0.5",
        "MEDIA_RECORDINGS_POLL_SECONDS": "0.5",
        "MEDIA_CHIME_MAX_ATTEMPTS": "2",
        "MEDIA_DB_POOL_WARM": str(media_pool_warm),
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    media: MediaStack | None = None
    try:
        with running_stack(
            postgres_url=postgres_url,
            nats_url=nats_url,
            aws_endpoint=aws_endpoint,
            data_dir=data_dir,
            name=name,
        ) as stack:
            media = MediaStack(stack, emulator, chime)
            yield media
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        emulator.stop()
        (media.chime if media is not None else chime).http.close()
        sqs.delete_queue(QueueUrl=queue_url)


@pytest.fixture(scope="session")
def e2e(
    postgres_url: str, nats_url: str, aws_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MediaStack]:
    with e2e_stack(
        postgres_url=postgres_url,
        nats_url=nats_url,
        aws_endpoint=aws_endpoint,
        data_dir=tmp_path_factory.mktemp("stack"),
    ) as media:
        yield media


@pytest.fixture(scope="session")
def stack(e2e: MediaStack) -> Stack:
    return e2e.stack
