"""Account emails (address verification, password reset), sent off the request path.

Sending is slow and may fail; neither should change what a request answers or how long it
takes (a reset request must not reveal whether the account exists). So messages are sent
by tasks this object keeps track of; `drain` waits for them (shutdown, tests). A message
that cannot be sent is logged: the user can ask again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlencode

from servicekit.mail import Mailer, compose

log = logging.getLogger(__name__)


class AccountMailer:
    def __init__(
        self,
        mailer: Mailer,
        *,
        sender: str,
        frontend_url: str,
        reset_minutes: int = 30,
        concurrency: int = 8,
    ) -> None:
        self.mailer = mailer
        # A flood of requests queues here instead of exhausting database connections.
        self._slots = asyncio.Semaphore(concurrency)
        self.reset_minutes = reset_minutes
        self.sender = sender
        self.frontend_url = frontend_url.rstrip("/")
        self._tasks: set[asyncio.Task[None]] = set()

    def link(self, path: str, token: str) -> str:
        return f"{self.frontend_url}/{path}?{urlencode({'token': token})}"

    def run(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background, keeping a reference until it is done."""

        async def guarded() -> None:
            try:
                async with self._slots:
                    await work
            except Exception:
                log.exception("account mail task failed")

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every pending message (also those started while waiting)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    def send_verification(self, to: str, name: str, token: str) -> None:
        self.run(self.deliver_verification(to, name, token))

    async def deliver_verification(self, to: str, name: str, token: str) -> None:
        url = self.link("verify-email", token)
        await self.mailer.send(
            compose(
                sender=self.sender,
                to=[to],
                subject="Confirm your email address for RealtyForYou",
                text=(
                    f"Hello {name},\n\nPlease confirm your email address by opening this link:\n\n"
                    f"{url}\n\nIf you did not create a RealtyForYou account, ignore this message.\n"
                ),
            )
        )

    async def deliver_reset(self, to: str, name: str, token: str) -> None:
        url = self.link("reset-password", token)
        await self.mailer.send(
            compose(
                sender=self.sender,
                to=[to],
                subject="Reset your RealtyForYou password",
                text=(
                    f"Hello {name},\n\nSomeone asked to reset the password of your RealtyForYou "
                    f"account. To choose a new password, open this link within {self.reset_minutes} minutes:\n\n"
                    f"{url}\n\nIf it was not you, ignore this message: your password is unchanged.\n"
                ),
            )
        )
