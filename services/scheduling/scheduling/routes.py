"""The HTTP route beyond GraphQL: `GET /calendar/{token}.ics`, the secret calendar feed.

A thin adapter: the use case finds whose feed the token opens (and refuses any other);
the route renders those tours as a subscribable calendar.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from scheduling.ics import feed
from scheduling.service import Scheduling

CALENDAR_NAME = "RealtyForYou tours"


def feed_route(scheduling: Scheduling) -> Route:
    """GET /calendar/{token}.ics: the owner's tours as a subscribable calendar."""

    async def serve(request: Request) -> Response:
        tours = await scheduling.calendar_of(str(request.path_params["token"]))
        if tours is None:
            return PlainTextResponse("not found", status_code=404)
        body = feed(tours, now=scheduling.clock(), name=CALENDAR_NAME)
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={"Cache-Control": "private, max-age=300", "X-Robots-Tag": "noindex"},
        )

    return Route("/calendar/{token}.ics", serve, methods=["GET"])
