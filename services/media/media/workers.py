"""Background jobs: deleting tours' calls that everyone left.

Chime would keep a meeting alive for as long as a capture bot stays in it, billing every
minute; once the last person has been gone for the grace period the meeting is deleted.
Replicas share the work: each claims meetings with `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import asyncio
import logging

from servicekit.vocabulary import ServiceError

from media.service import Media

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
