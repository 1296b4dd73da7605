"""Reminders go out once per tour and lead time, with workers racing, and never for a tour
cancelled or moved since they were planned; tours nobody started become NO_SHOW."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduling.events import outgoing
from scheduling.service import Scheduling
from scheduling.workers import ReminderWorker
from servicekit.auth import Role
from servicekit.db import Database
from sqlalchemy import text

FIRST = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)  # Tuesday 10:00 New York
SPACING = timedelta(minutes=45)  # 30-minute tours with a 15-minute buffer
TOURS = 6


async def drain(worker: ReminderWorker) -> None:
    while sum(await worker.run_once()) > 0:
        await asyncio.sleep(0)


def reminders_to(stack: Any, person: Any) -> list[str]:
    return [
        str(m["Subject"])
        for m in stack.mail.messages(to=person.email)
        if "Reminder" in str(m["Subject"])
    ]


async def test_each_reminder_is_sent_once_by_racing_workers(stack: Any) -> None:
    realtor, listing = await stack.open_for_tours()
    buyers = [stack.peers.person(Role.BUYER) for _ in range(TOURS)]
    ids = []
    for i, buyer in enumerate(buyers):
        tour = (await stack.request(buyer, listing, FIRST + i * SPACING))["data"]["requestTour"]
        await stack.ok(
            "mutation($id: ID!) { confirmTour(id: $id) { id } }", {"id": tour["id"]}, as_=realtor
        )
        ids.append(tour["id"])

    url = stack.db.url
    databases = [Database(url, source="scheduling", events=outgoing) for _ in range(2)]
    own = stack.parts.scheduling
    workers = [
        ReminderWorker(
            Scheduling(
                db, own.queries, own.directory, own.feeds, policy=own.policy, clock=own.clock
            ),
            stack.parts.notifier,
            batch=2,
        )
        for db in databases
    ]
    try:
        # Every 24-hour reminder is due.
        stack.clock.now = FIRST + (TOURS - 1) * SPACING - timedelta(hours=24) + timedelta(minutes=1)
        await asyncio.gather(*(drain(w) for w in workers))
        await asyncio.gather(*(drain(w) for w in workers))  # nothing left to send
        for buyer in buyers:
            assert reminders_to(stack, buyer) == ["Reminder: tour in 24 hours"]
        assert len(reminders_to(stack, realtor)) == TOURS

        # The first tour is cancelled, the second moved by the realtor to the next day.
        await stack.ok(
            'mutation($id: ID!) { cancelTour(id: $id, reason: "sold") { id } }',
            {"id": ids[0]},
            as_=realtor,
        )
        moved_to = FIRST + SPACING + timedelta(days=1)
        await stack.ok(
            "mutation($id: ID!, $at: DateTime!) { rescheduleTour(id: $id, startsAt: $at) { status } }",
            {"id": ids[1], "at": moved_to.isoformat()},
            as_=realtor,
        )

        # One hour before each original start, the workers race again.
        for i in range(TOURS):
            stack.clock.now = FIRST + i * SPACING - timedelta(minutes=59)
            await asyncio.gather(*(drain(w) for w in workers))
        assert reminders_to(stack, buyers[0]) == ["Reminder: tour in 24 hours"]
        # The moved tour got no 1 h reminder for its old start, but a 24 h one for its new start.
        assert reminders_to(stack, buyers[1]) == ["Reminder: tour in 24 hours"] * 2
        for buyer in buyers[2:]:
            assert reminders_to(stack, buyer) == [
                "Reminder: tour in 24 hours",
                "Reminder: tour in 1 hour",
            ]

        # The moved tour is reminded about its new start.
        stack.clock.now = moved_to - timedelta(minutes=59)
        await asyncio.gather(*(drain(w) for w in workers))
        assert reminders_to(stack, buyers[1]) == [
            "Reminder: tour in 24 hours",
            "Reminder: tour in 24 hours",
            "Reminder: tour in 1 hour",
        ]
    finally:
        for db in databases:
            await db.dispose()

    async with stack.db.session() as session:
        states = dict(
            (
                await session.execute(
                    text("SELECT state, count(*) FROM reminder_jobs GROUP BY state")
                )
            ).all()
        )
    assert states.get("pending", 0) == 0
    # 24 h for every tour, 1 h for the four left alone, and both again for the moved one.
    assert states["sent"] == TOURS + (TOURS - 2) + 2
    assert states["skipped"] == 2  # the cancelled tour's 1 h and the moved tour's old 1 h


async def test_scheduled_tours_nobody_started_become_no_shows(stack: Any) -> None:
    stack.start_relay()
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)
    tour = (await stack.request(buyer, listing, FIRST))["data"]["requestTour"]
    other = (await stack.request(buyer, listing, FIRST + SPACING))["data"]["requestTour"]
    for ident in (tour["id"], other["id"]):
        await stack.ok(
            "mutation($id: ID!) { confirmTour(id: $id) { id } }", {"id": ident}, as_=realtor
        )

    stack.clock.now = FIRST + timedelta(minutes=30) + timedelta(minutes=14)
    assert await stack.parts.scheduling.mark_no_shows() == 0
    stack.clock.now = FIRST + timedelta(minutes=46)
    assert await stack.parts.scheduling.mark_no_shows() == 1
    assert await stack.parts.scheduling.mark_no_shows() == 0
    seen = await stack.ok(
        "query($id: ID!) { tour(id: $id) { status statusReason history { from to by { id } } } }",
        {"id": tour["id"]},
        as_=buyer,
    )
    assert seen["tour"]["status"] == "NO_SHOW"
    assert seen["tour"]["history"][-1] == {"from": "SCHEDULED", "to": "NO_SHOW", "by": None}
