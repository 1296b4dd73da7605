"""An event as a consumer sees it: the decoded envelope."""

from __future__ import annotations

import builtins
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import Message
from realty.events.v1.envelope_pb2 import Envelope

M = TypeVar("M", bound=Message)


@dataclass(frozen=True, slots=True)
class Event:
    id: uuid.UUID
    type: str
    subject: str
    subject_id: str
    actor: str | None
    time: datetime
    source: str
    payload: bytes
    traceparent: str
    tracestate: str

    @classmethod
    def from_envelope(cls, data: bytes) -> Event:
        env = Envelope.FromString(data)
        return cls(
            id=uuid.UUID(env.id),
            type=env.type,
            subject=env.subject,
            subject_id=env.subject_id,
            actor=env.actor or None,
            time=env.time.ToDatetime(tzinfo=UTC),
            source=env.source,
            payload=env.payload,
            traceparent=env.traceparent,
            tracestate=env.tracestate,
        )

    def unpack(self, message_type: builtins.type[M]) -> M:
        """Decode the payload; raises ValueError when the type does not match."""
        if message_type.DESCRIPTOR.full_name != self.type:
            raise ValueError(
                f"event {self.id} carries {self.type}, not {message_type.DESCRIPTOR.full_name}"
            )
        message = message_type()
        message.ParseFromString(self.payload)
        return message
