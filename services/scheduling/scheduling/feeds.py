"""Secret per-user calendar feeds (`<public url>/calendar/<token>.ics`).

The token is an HMAC, under the server's feed secret, of the user id and a random nonce;
the database keeps the nonce and the token's SHA-256 (for lookup), never the token, so a
copy of the database cannot read anyone's calendar. The URL can be shown again at will,
and resetting the nonce revokes the old URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from servicekit.db import Database
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from scheduling.ics import feed
from scheduling.queries import TourQueries
from scheduling.tables import calendar_feeds

FEED_HISTORY = timedelta(days=180)


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class CalendarFeeds:
    def __init__(self, db: Database, *, secret: str, public_url: str) -> None:
        self.db = db
        self._secret = secret.encode()
        self.public_url = public_url.rstrip("/")

    def _token(self, user_id: uuid.UUID, nonce: bytes) -> str:
        mac = hmac.new(self._secret, user_id.bytes + nonce, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def url(self, token: str) -> str:
        return f"{self.public_url}/calendar/{token}.ics"

    async def url_for(self, user_id: uuid.UUID, *, reset: bool = False) -> str:
        """The user's feed URL, created on first use (or replaced when `reset`)."""
        async with self.db.uow(actor=str(user_id)) as uow:
            row = (
                await uow.session.execute(
                    select(calendar_feeds.c.nonce).where(calendar_feeds.c.user_id == user_id)
                )
            ).first()
            if row is not None and not reset:
                return self.url(self._token(user_id, row.nonce))
            nonce = secrets.token_bytes(16)
            token = self._token(user_id, nonce)
            fields = {"nonce": nonce, "token_hash": _hash(token)}
            statement = pg_insert(calendar_feeds).values(user_id=user_id, **fields)
            await uow.session.execute(
                statement.on_conflict_do_update(
                    index_elements=[calendar_feeds.c.user_id], set_=fields
                )
            )
            await uow.commit()
        return self.url(token)

    async def owner_of(self, token: str) -> uuid.UUID | None:
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(calendar_feeds.c.user_id).where(
                        calendar_feeds.c.token_hash == _hash(token)
                    )
                )
            ).first()
        return None if row is None else row.user_id


def feed_route(feeds: CalendarFeeds, queries: TourQueries, clock: Callable[[], datetime]) -> Route:
    """GET /calendar/{token}.ics: the owner's tours as a subscribable calendar."""

    async def serve(request: Request) -> Response:
        token = str(request.path_params["token"])
        if len(token) > 100:
            return PlainTextResponse("not found", status_code=404)
        owner = await feeds.owner_of(token)
        if owner is None:
            return PlainTextResponse("not found", status_code=404)
        now = clock()
        tours = await queries.for_calendar(owner, now - FEED_HISTORY)
        body = feed(tours, now=now, name="RealtyForYou tours")
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={"Cache-Control": "private, max-age=300", "X-Robots-Tag": "noindex"},
        )

    return Route("/calendar/{token}.ics", serve, methods=["GET"])
