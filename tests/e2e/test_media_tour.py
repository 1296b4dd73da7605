"""A live video tour end to end through the gateway, as `make dev` runs it: a realtor and a
buyer book and confirm a tour, both join, a guest is invited and joins, the realtor records,
people speak, everyone leaves; scheduling shows IN_PROGRESS then COMPLETED on the
subscription, and the buyer's tour library has the recording, playable, transcribed by
speaker and summarised. Chime throttling and a Chime outage answer coded errors and leave
nothing half-made.

The stack is the shared end-to-end one (every service and the gateway as processes) with
the Chime SDK emulator in the test process, on a clock of its own, its events into an SQS
queue that media reads (`conftest.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from typing import Any

import av
import httpx
import pytest
import websockets

from tests.e2e.conftest import MediaStack
from tests.flows import (
    REGISTER,
    first_slot,
    gql,
    list_cottage,
    next_message,
    open_every_day,
    post,
    register,
    request_tour,
    subscribe,
    until_listening,
)
from tests.stack import Stack

# The shared stack takes about a minute to start on a loaded machine; the tour itself seconds.
pytestmark = pytest.mark.timeout(300)

JOIN = "mutation($t: ID!) { joinTour(tourId: $t) { meeting attendee } }"
LEAVE = "mutation($t: ID!) { leaveTour(tourId: $t) }"
LIBRARY = """query($search: String) { tourLibrary(search: $search, first: 10) { edges { node {
  id status durationSeconds playbackUrl summary tour { id status }
  transcript { text segments { speakerName speaker { id } text startSeconds } }
} } } }"""


@pytest.fixture
def media(e2e: MediaStack) -> MediaStack:
    """The shared end-to-end stack with its Chime SDK emulator (`conftest.py`)."""
    return e2e


async def register_as(
    client: httpx.AsyncClient, url: str, email: str, name: str
) -> tuple[str, str]:
    data = await gql(
        client,
        url,
        REGISTER,
        input={
            "email": email,
            "password": f"Tour-{uuid.uuid4().hex[:12]}-Window!",
            "displayName": name,
            "role": "BUYER",
            "timeZone": "America/New_York",
        },
    )
    return data["register"]["accessToken"], data["register"]["user"]["id"]


async def booked_tour(client: httpx.AsyncClient, url: str) -> tuple[str, str, str, str]:
    """A confirmed tour: its id, the realtor's and the buyer's tokens, the buyer's id."""
    realtor, _ = await register(client, url, "REALTOR", "Rita")
    buyer, buyer_id = await register(client, url, "BUYER", "Ben")
    await open_every_day(client, url, realtor)
    listing = await list_cottage(client, url, realtor)
    tour_id = await request_tour(
        client, url, buyer, listing, await first_slot(client, url, buyer, listing)
    )
    await gql(
        client, url, "mutation($id: ID!) { confirmTour(id: $id) { status } }", realtor, id=tour_id
    )
    return tour_id, realtor, buyer, buyer_id


async def status_change(ws: Any, wanted: str) -> None:
    while True:
        event = await next_message(ws, timeout=45)
        assert event["type"] == "next", event
        if event["payload"]["data"]["tourStatusChanged"]["status"] == wanted:
            return


async def test_a_recorded_tour_with_a_guest_ends_up_in_the_buyers_library(
    media: MediaStack,
) -> None:
    url, chime = media.stack.graphql_url, media.chime
    async with httpx.AsyncClient(timeout=30) as client:
        tour_id, realtor, buyer, buyer_id = await booked_tour(client, url)
        guest_email = f"gwen.{uuid.uuid4().hex[:6]}@example.com"
        invited = await gql(
            client,
            url,
            "mutation($t: ID!, $e: String!) { inviteTourGuest(tourId: $t, email: $e) { status } }",
            buyer,
            t=tour_id,
            e=guest_email,
        )
        assert invited["inviteTourGuest"]["status"] == "INVITED"
        guest, _ = await register_as(client, url, guest_email, "Gwen")

        async with (
            contextlib.AsyncExitStack() as stack_ws,
            websockets.connect(media.stack.ws_url, subprotocols=["graphql-transport-ws"]) as ws,
        ):
            await subscribe(
                ws,
                buyer,
                "subscription($id: ID!) { tourStatusChanged(tourId: $id) { status } }",
                id=tour_id,
            )
            await until_listening(f"http://127.0.0.1:{media.stack.ports['scheduling'][0]}")

            attendees: dict[str, str] = {}
            meeting_id = ""
            for name, token in (("Rita", realtor), ("Ben", buyer), ("Gwen", guest)):
                # The first waits until media has heard of the confirmation (an event).
                joined = await join_when_open(client, url, token, tour_id)
                meeting_id = joined["meeting"]["MeetingId"]
                attendees[name] = joined["attendee"]["AttendeeId"]
            # The guest, in the call now, follows it (through the gateway, from media).
            guest_ws = await stack_ws.enter_async_context(
                websockets.connect(media.stack.ws_url, subprotocols=["graphql-transport-ws"])
            )
            await subscribe(
                guest_ws,
                guest,
                "subscription($id: ID!) { meetingChanged(tourId: $id) { recording } }",
                id=tour_id,
            )
            await until_media_listening(media.stack)
            for attendee in attendees.values():  # their devices connect
                chime.join(meeting_id, attendee)
            await status_change(ws, "IN_PROGRESS")

            started = await gql(
                client,
                url,
                "mutation($t: ID!) { startRecording(tourId: $t) { status } }",
                realtor,
                t=tour_id,
            )
            assert started["startRecording"]["status"] == "RECORDING"
            told = await next_message(guest_ws, timeout=30)
            while told["payload"]["data"]["meetingChanged"]["recording"] is not True:
                told = await next_message(guest_ws, timeout=30)
            assert told["type"] == "next"
            lines = [
                ("Rita", "Welcome in, the porch was rebuilt last spring."),
                ("Ben", "I love the wood stove. Does the chimney draw well?"),
                ("Gwen", "Is the garden big enough for a vegetable patch?"),
                ("Rita", "It is, and I will send you the survey tomorrow."),
            ]
            for name, text in lines:
                assert chime.speak(meeting_id, attendees[name], text)
                chime.advance(3)
            for token in (guest, buyer, realtor):
                assert (await gql(client, url, LEAVE, token, t=tour_id))["leaveTour"] is True
            await status_change(ws, "COMPLETED")

        node = await until_described(client, url, buyer)
        assert node["tour"] == {"id": tour_id, "status": "COMPLETED"}
        assert node["status"] == "AVAILABLE" and node["durationSeconds"] >= 0
        spoken = [(s["speakerName"], s["text"]) for s in node["transcript"]["segments"]]
        assert spoken == lines
        assert node["transcript"]["segments"][1]["speaker"] == {"id": buyer_id}
        assert "Does the chimney draw well?" in node["summary"]
        playback = await client.get(node["playbackUrl"])
        assert playback.status_code == 200
        with av.open(io.BytesIO(playback.content)) as container:
            assert {s.type for s in container.streams} >= {"audio", "video"}
        found = (await gql(client, url, LIBRARY, buyer, search="chimney"))["tourLibrary"]
        assert [e["node"]["id"] for e in found["edges"]] == [node["id"]]


async def until_media_listening(stack: Stack, timeout: float = 30.0) -> None:
    """Wait until media has a `meetingChanged` subscriber (its live-listeners gauge)."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            text = (await client.get(f"http://127.0.0.1:{stack.ports['media'][0]}/metrics")).text
            if any(
                line.startswith("realty_media_live_listeners ") and float(line.split()[1]) >= 1
                for line in text.splitlines()
            ):
                return
            assert asyncio.get_running_loop().time() < deadline, "no meetingChanged subscriber"
            await asyncio.sleep(0.05)


async def until_described(client: httpx.AsyncClient, url: str, token: str) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        edges = (await gql(client, url, LIBRARY, token))["tourLibrary"]["edges"]
        if edges and edges[0]["node"]["transcript"] and edges[0]["node"]["summary"]:
            node: dict[str, Any] = edges[0]["node"]
            return node
        assert asyncio.get_running_loop().time() < deadline, edges
        await asyncio.sleep(0.5)


async def join_when_open(
    client: httpx.AsyncClient, url: str, token: str, tour_id: str
) -> dict[str, Any]:
    """Join once media has heard the tour was confirmed (its events are on their way)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        body = await post(client, url, JOIN, token, t=tour_id)
        if "errors" not in body:
            joined: dict[str, Any] = body["data"]["joinTour"]
            return joined
        # Media knows tours from scheduling's events: until they arrive the tour is unknown
        # (NOT_FOUND) or not yet confirmed (TOUR_NOT_JOINABLE).
        extensions = body["errors"][0]["extensions"]
        assert (
            extensions.get("reason") == "TOUR_NOT_JOINABLE" or extensions["code"] == "NOT_FOUND"
        ), body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.2)


async def test_chime_throttling_and_an_outage_answer_coded_errors_and_make_nothing(
    media: MediaStack,
) -> None:
    url, chime = media.stack.graphql_url, media.chime
    async with httpx.AsyncClient(timeout=60) as client:
        tour_id, realtor, buyer, _ = await booked_tour(client, url)
        first = await join_when_open(client, url, buyer, tour_id)
        meeting_id = first["meeting"]["MeetingId"]
        meetings = chime.client("chime-sdk-meetings")
        chime.throttling(0.001, burst=1)
        try:
            # The one CreateAttendee request the bucket holds goes elsewhere: the realtor's
            # join is throttled, and so is every retry of it.
            meetings.create_attendee(MeetingId=meeting_id, ExternalUserId=uuid.uuid4().hex)
            throttled = await post(client, url, JOIN, realtor, t=tour_id)
        finally:
            chime.throttling(0.0)
        assert throttled["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        people = meetings.list_attendees(MeetingId=meeting_id)["Attendees"]
        assert len(people) == 2  # the buyer's and the test's own: none was made for the realtor

        media.emulator.stop()  # Chime is down
        try:
            down = await post(client, url, JOIN, realtor, t=tour_id)
            assert down["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
        finally:
            media.chime = media.emulator.start()
        # Chime is back, without the meeting it had (a restart): the join makes a new one.
        joined = (await gql(client, url, JOIN, realtor, t=tour_id))["joinTour"]
        assert joined["meeting"]["ExternalMeetingId"] == tour_id
        assert joined["meeting"]["MeetingId"] != meeting_id
