"""The tour library (the caller's completed tours with recordings, newest first, paged,
searched over transcripts and summaries) and erasure when an account is deleted."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from chimesim.testing import ChimeSim
from media.domain import Recording, Segment, Tour, TourStatus, Transcript
from media.store import add_recording, follow_tour, save_recording
from realty.identity.v1 import identity_pb2
from servicekit.auth import Role
from servicekit.bus import Event

from .conftest import Person, Stack
from .test_recording import STOP, record_a_tour, tour_view, until_status

LIBRARY = """
query($search: String, $first: Int, $after: String) {
  tourLibrary(search: $search, first: $first, after: $after) {
    edges { cursor node { id status durationSeconds summary tour { id } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def completed(stack: Stack, tour: Tour) -> Tour:
    done = replace(tour, status=TourStatus.COMPLETED, sequence=tour.sequence + 1)
    async with stack.db.uow() as uow:
        await follow_tour(uow.session, done)
        await uow.commit()
    return done


async def shelved(stack: Stack, tour: Tour, at: datetime, said: str, summary: str) -> Recording:
    """A recording of `tour` that Chime finished and the worker described."""
    recording = Recording.start(
        tour=tour,
        meeting_id=str(uuid.uuid4()),
        by=tour.realtor_id,
        at=at,
        bucket="realty-recordings",
        language="en-US",
    )
    recording.capturing("capture", "arn:capture")
    recording.stop(at + timedelta(minutes=20))
    recording.concatenating(str(uuid.uuid4()))
    assert recording.concat_pipeline_id is not None
    recording.pipeline_finished(recording.concat_pipeline_id, at, succeeded=True)
    recording.describe(
        Transcript("en-US", (Segment(tour.buyer_id, "Buyer", 0.0, 2.0, said),)), summary
    )
    async with stack.db.uow() as uow:
        await add_recording(uow, recording)
        await save_recording(uow, recording)
        await uow.commit()
    return recording


async def tour_of(stack: Stack, buyer: Person, realtor: Person) -> Tour:
    tour = Tour(
        id=uuid.uuid4(),
        listing_id=uuid.uuid4(),
        buyer_id=buyer.id,
        realtor_id=realtor.id,
        status=TourStatus.SCHEDULED,
        starts_at=stack.clock(),
        ends_at=stack.clock(),
        sequence=1,
    )
    async with stack.db.uow() as uow:
        await follow_tour(uow.session, tour)
        await uow.commit()
    return tour


async def test_the_library_pages_newest_first_and_searches_what_was_said(stack: Stack) -> None:
    buyer, realtor = stack.person(Role.BUYER), stack.person(Role.REALTOR)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    said = [
        ("The garden gets sun all afternoon.", "Buyer liked the garden."),
        ("Is the basement dry after heavy rain?", "Concern: damp basement."),
        ("We could schedule an inspection next week.", "Next step: inspection."),
    ]
    made = []
    for n, (words, summary) in enumerate(said):
        tour = await completed(stack, await tour_of(stack, buyer, realtor))
        made.append(await shelved(stack, tour, base + timedelta(days=n), words, summary))
    upcoming = await tour_of(stack, buyer, realtor)  # not completed: not in the library
    await shelved(stack, upcoming, base + timedelta(days=9), "Not yet.", "Not yet.")

    first = (await stack.ok(LIBRARY, {"first": 2}, as_=buyer))["tourLibrary"]
    assert [e["node"]["id"] for e in first["edges"]] == [str(made[2].id), str(made[1].id)]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (
        await stack.ok(LIBRARY, {"first": 2, "after": first["pageInfo"]["endCursor"]}, as_=buyer)
    )["tourLibrary"]
    assert [e["node"]["id"] for e in rest["edges"]] == [str(made[0].id)]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["edges"][0]["node"]["tour"]["id"] == str(made[0].tour_id)

    # Full text over transcripts (stemmed: "rain" finds "rainy" too) and summaries.
    async def found(search: str) -> list[str]:
        data = await stack.ok(LIBRARY, {"search": search}, as_=realtor)
        return [e["node"]["id"] for e in data["tourLibrary"]["edges"]]

    assert await found("basement rain") == [str(made[1].id)]
    assert await found("gardens") == [str(made[0].id)]
    assert await found("inspection") == [str(made[2].id)]
    assert await found("swimming pool") == []

    assert (await stack.ok(LIBRARY, {}, as_=stack.person()))["tourLibrary"]["edges"] == []
    bad = await stack.error(LIBRARY, {"after": "not-a-cursor"}, as_=buyer)
    assert (bad["code"], bad["field"]) == ("BAD_USER_INPUT", "after")
    assert (await stack.error(LIBRARY, {"first": 500}, as_=buyer))["field"] == "first"
    assert (await stack.error(LIBRARY, {}))["code"] == "UNAUTHENTICATED"


def deleted(user_id: uuid.UUID) -> Event:
    payload = identity_pb2.UserDeleted(user_id=str(user_id))
    return Event(
        id=uuid.uuid4(),
        type=payload.DESCRIPTOR.full_name,
        subject="identity.user.deleted",
        subject_id=str(user_id),
        actor=None,
        time=datetime.now(UTC),
        source="identity",
        payload=payload.SerializeToString(),
        traceparent="",
        tracestate="",
    )


async def test_a_deleted_account_takes_its_tours_recordings_and_invitations_with_it(
    emulated: Stack, chime: ChimeSim
) -> None:
    stack = emulated
    tour, buyer, realtor, _, _ = await record_a_tour(stack, chime)
    await stack.ok(
        "mutation($t: ID!, $e: String!) { inviteTourGuest(tourId: $t, email: $e) { id } }",
        {"t": str(tour.id), "e": "aunt@example.com"},
        as_=buyer,
    )
    await stack.ok(STOP, {"t": str(tour.id)}, as_=realtor)
    assert (await until_status(stack, tour.id, buyer, "AVAILABLE"))["status"] == "AVAILABLE"
    assert await stack.parts.recording_worker.run_once() == 1
    assert await stack.parts.storage.keys(f"recordings/{tour.id}")

    for _ in range(2):  # a redelivered event changes nothing more
        async with stack.db.uow() as uow:
            await stack.parts.consumers.on_user_deleted(deleted(buyer.id), uow)
            await uow.commit()
    assert await stack.parts.storage.keys(f"recordings/{tour.id}") == []
    erased = (await tour_view(stack, tour.id, realtor))["recordings"][-1]
    assert erased["status"] == "DELETED"
    assert erased["transcript"] is None and erased["summary"] is None
    rows = await stack.rows(
        "SELECT transcript, transcript_text, summary FROM recordings WHERE tour_id = :t", t=tour.id
    )
    assert [tuple(r) for r in rows] == [(None, None, None)]
    # The invitations they made (and any made to them) are gone, other people's addresses too.
    assert await stack.rows("SELECT id FROM guests WHERE tour_id = :t", t=tour.id) == []
