"""Background jobs: deleting tours' calls that everyone left; transcripts and summaries of
recordings that became available; deleting recordings past their retention.

Chime would keep a meeting alive for as long as a capture bot stays in it, billing every
minute; once the last person has been gone for the grace period the meeting is deleted.
Replicas share the work: each claims meetings with `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import asyncio
import logging

from servicekit.vocabulary import ServiceError

from media.service import Media, Recordings

log = logging.getLogger(__name__)


class EmptyMeetingWorker:
    def __init__(self, media: Media, *, poll_seconds: float) -> None:
        self.media = media
        self.poll_seconds = poll_seconds

    async def run_once(self) -> int:
        return await self.media.delete_empty()

    async def run(self) -> None:
        while True:
            try:
                deleted = await self.run_once()
                if deleted:
                    log.info("deleted %d empty meetings", deleted)
            except ServiceError as exc:
                log.warning("empty meetings not deleted this round: %s", exc.message)
            await asyncio.sleep(self.poll_seconds)


class RecordingWorker:
    """Describes available recordings (transcript, summary) and expires old ones; each
    round claims its rows with SKIP LOCKED, so replicas share the work."""

    def __init__(
        self, recordings: Recordings, *, poll_seconds: float, retention_poll_seconds: float
    ) -> None:
        self.recordings = recordings
        self.poll_seconds = poll_seconds
        self.retention_poll_seconds = retention_poll_seconds

    async def run_once(self) -> int:
        return await self.recordings.describe_available()

    async def run(self) -> None:
        while True:
            try:
                while await self.run_once():
                    pass
            except ServiceError as exc:
                log.warning("recordings not described this round: %s", exc.message)
            await asyncio.sleep(self.poll_seconds)

    async def run_retention(self) -> None:
        while True:
            try:
                expired = await self.recordings.expire()
                if expired:
                    log.info("deleted %d recordings past their retention", expired)
            except ServiceError as exc:
                log.warning("recordings not expired this round: %s", exc.message)
            await asyncio.sleep(self.retention_poll_seconds)
