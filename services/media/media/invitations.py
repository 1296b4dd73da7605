"""The email that invites a guest to a tour's video call, with the link that opens it."""

from __future__ import annotations

import uuid

from servicekit.mail import Mailer, compose


class Invitations:
    def __init__(self, mailer: Mailer, *, sender: str, web_url: str, opens_minutes: int) -> None:
        self.mailer = mailer
        self.opens_minutes = opens_minutes
        self.sender = sender
        self.web_url = web_url.rstrip("/")

    def link(self, tour_id: uuid.UUID) -> str:
        return f"{self.web_url}/tours/{tour_id}/join"

    async def send(self, *, to: str, tour_id: uuid.UUID, inviter: str) -> None:
        link = self.link(tour_id)
        text = (
            f"{inviter} invited you to join a live video tour of a home on RealtyForYou.\n\n"
            f"Sign in (or register) with this email address, then open:\n{link}\n\n"
            f"The call opens {self.opens_minutes} minutes before the tour starts."
        )
        await self.mailer.send(
            compose(
                sender=self.sender,
                to=[to],
                subject=f"{inviter} invited you to a live video tour",
                text=text,
            )
        )
