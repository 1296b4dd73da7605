"""The emulator's own endpoints, outside the AWS paths (`/_emulator/…`).

They stand in for what no API call does in Chime: a client joining, leaving or dropping out
of the media session, an attendee speaking a line (for live transcription), and the test
hooks — the calls made per operation, the clock, throttling, the recent events and the
queue they go to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chimesim.errors import ServiceError, bad_request

if TYPE_CHECKING:
    from chimesim.app import Runtime

PREFIX = "/_emulator"
Endpoint = Callable[[Request], Awaitable[Response]]


def json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


async def body_of(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request("the body is not valid JSON") from exc
    if not isinstance(decoded, dict):
        raise bad_request("the body must be a JSON object")
    return decoded


def routes(runtime: Runtime) -> list[Route]:
    emulator = runtime.emulator

    def guarded(change: Callable[[Request], Awaitable[Any]]) -> Endpoint:
        """Run a state change under the lock, sweeping first and carrying out its effects."""

        async def endpoint(request: Request) -> Response:
            async with runtime.lock:
                try:
                    await runtime.settle()
                    result = await change(request)
                except ServiceError as error:
                    await runtime.carry_out(emulator.drain())
                    status = 404 if error.shape == "NotFoundException" else 400
                    return json({"Code": error.shape, "Message": error.message}, status)
                await runtime.carry_out(emulator.drain())
            return json(result)

        return endpoint

    def presence(action: str) -> Endpoint:
        async def change(request: Request) -> dict[str, Any]:
            meeting_id = request.path_params["meeting_id"]
            attendee_id = request.path_params["attendee_id"]
            if action == "join":
                attendee = emulator.meetings.join(meeting_id, attendee_id)
            else:
                attendee = emulator.meetings.leave(
                    meeting_id, attendee_id, dropped=action == "drop"
                )
            return {
                "AttendeeId": attendee.attendee_id,
                "Present": attendee.present,
                "VideoPublishing": attendee.publishing,
            }

        return guarded(change)

    async def speak(request: Request) -> dict[str, Any]:
        text = (await body_of(request)).get("Text")
        if not isinstance(text, str) or not text.strip():
            raise bad_request("Text must be a non-empty string")
        line = emulator.meetings.speak(
            request.path_params["meeting_id"], request.path_params["attendee_id"], text
        )
        return {"Transcribed": line.transcribed}

    async def advance(request: Request) -> dict[str, Any]:
        seconds = (await body_of(request)).get("Seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise bad_request("Seconds must be a non-negative number")
        emulator.clock.advance(timedelta(seconds=seconds))
        await runtime.settle()
        return {"Now": emulator.clock.now().isoformat()}

    async def clock(request: Request) -> dict[str, Any]:
        return {"Now": emulator.clock.now().isoformat()}

    async def throttling(request: Request) -> dict[str, Any]:
        body = await body_of(request)
        rate, burst = body.get("Rate"), body.get("Burst", emulator.throttle.burst)
        if not isinstance(rate, int | float) or rate < 0 or not isinstance(burst, int) or burst < 1:
            raise bad_request("Rate must be a non-negative number and Burst a positive integer")
        emulator.throttle.configure(float(rate), burst)
        return {"Rate": emulator.throttle.rate, "Burst": emulator.throttle.burst}

    async def events_queue(request: Request) -> dict[str, Any]:
        queue_url = (await body_of(request)).get("QueueUrl")
        if queue_url is not None and not isinstance(queue_url, str):
            raise bad_request("QueueUrl must be a string or null")
        runtime.outside.queue_url = queue_url
        return {"QueueUrl": queue_url}

    async def calls(request: Request) -> Response:
        if request.method == "DELETE":
            emulator.calls.clear()
        return json({"Calls": dict(emulator.calls)})

    async def recent_events(request: Request) -> Response:
        return json({"Events": list(emulator.world.recent_events)})

    async def health(request: Request) -> Response:
        return json({"Status": "ok"})

    attendee = PREFIX + "/meetings/{meeting_id}/attendees/{attendee_id}"
    return [
        Route(f"{attendee}/join", presence("join"), methods=["POST"]),
        Route(f"{attendee}/leave", presence("leave"), methods=["POST"]),
        Route(f"{attendee}/drop", presence("drop"), methods=["POST"]),
        Route(f"{attendee}/speak", guarded(speak), methods=["POST"]),
        Route(f"{PREFIX}/clock", guarded(clock), methods=["GET"]),
        Route(f"{PREFIX}/clock/advance", guarded(advance), methods=["POST"]),
        Route(f"{PREFIX}/throttling", guarded(throttling), methods=["PUT"]),
        Route(f"{PREFIX}/events/queue", guarded(events_queue), methods=["PUT"]),
        Route(f"{PREFIX}/calls", calls, methods=["GET", "DELETE"]),
        Route(f"{PREFIX}/events", recent_events, methods=["GET"]),
        Route(f"{PREFIX}/health", health, methods=["GET"]),
    ]
