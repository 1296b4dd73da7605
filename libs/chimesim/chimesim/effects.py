"""What a state change asks the outside world to do: events for the queue, objects for S3.

The state machine stays synchronous and free of I/O; the application carries the effects
out (in a worker thread, as boto3 blocks): objects before it answers, so a client that gets
its response can already find the chunk in the bucket; events just after, in order, as
EventBridge delivers Chime's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PublishEvent:
    envelope: dict[str, Any]


@dataclass(frozen=True)
class PutObject:
    bucket: str
    key: str
    body: Callable[[], bytes]
    content_type: str
    # SSE-KMS under this key (a capture's `SseAwsKeyManagementParams`); None: the bucket's default.
    kms_key_id: str | None = None


@dataclass(frozen=True)
class Concatenate:
    """Join a capture's chunks into one file; `done` reports the outcome back to the state
    (True on success) and may queue further effects."""

    pipeline_id: str
    source_bucket: str
    source_prefix: str
    sink_bucket: str
    sink_prefix: str
    text_folders: tuple[str, ...]
    done: Callable[[bool], None]


Effect = PublishEvent | PutObject | Concatenate
