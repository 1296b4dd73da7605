"""Media's use cases: the call (`calls`) and its recordings (`recordings`)."""

from __future__ import annotations

from media.service.calls import JoinInfo, Media, Policy, utcnow
from media.service.recordings import RecordingPolicy, Recordings

__all__ = ["JoinInfo", "Media", "Policy", "RecordingPolicy", "Recordings", "utcnow"]
