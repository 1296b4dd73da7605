"""Events: what listings publishes (through the outbox relay) and `identity.user.deleted`.

What a use case announced is read from the outbox (written in its transaction); what the
relay published is read from NATS. That a redelivered event changed nothing is known from
the JetStream consumer's acknowledgement floor, not from waiting a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from listings.domain import ListingChanges, ListingStatus
from realty.events.v1.envelope_pb2 import Envelope
from realty.identity.v1 import identity_pb2
from realty.listings.v1 import listings_pb2
from servicekit.auth import Principal, Role
from servicekit.bus import ConsumerRunner, Event, OutboxRelay
from servicekit.db import Database
from servicekit.tables import outbox
from sqlalchemy import func, select

DURABLE = "listings-user-deleted"


@pytest.fixture
async def running(db, bus, parts) -> AsyncIterator[ConsumerRunner]:
    """The outbox relay and the consumers `app.assemble` wired, as the runtime starts them."""
    runner = ConsumerRunner(db, bus, "listings", parts.consumers.subscriptions())
    tasks = [asyncio.create_task(OutboxRelay(db, bus).run()), asyncio.create_task(runner.run())]
    await asyncio.wait_for(runner.ready.wait(), 10)
    try:
        yield runner
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def collect(bus, subject: str) -> tuple[list[Event], object]:
    received: list[Event] = []

    async def on_message(msg) -> None:
        received.append(Event.from_envelope(msg.data))

    sub = await bus.nc.subscribe(bus.subject(subject), cb=on_message)
    return received, sub


async def eventually(predicate, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def outbox_seq(db: Database) -> int:
    async with db.session() as session:
        return int(
            (await session.execute(select(func.coalesce(func.max(outbox.c.seq), 0)))).scalar_one()
        )


async def announced_since(db: Database, seq: int, subject: str) -> list[Envelope]:
    """Envelopes written to the outbox after `seq` under `subject`, in order."""
    async with db.session() as session:
        rows = await session.execute(
            select(outbox.c.envelope)
            .where(outbox.c.seq > seq, outbox.c.subject == subject)
            .order_by(outbox.c.seq)
        )
        return [Envelope.FromString(r.envelope) for r in rows]


async def acknowledged(bus, stream_seq: int) -> bool:
    """Whether the consumer has acknowledged every message up to `stream_seq`."""
    js = await bus.connect()
    info = await js.consumer_info(bus.stream_for("identity.user.deleted"), DURABLE)
    return info.ack_floor.stream_seq >= stream_seq and not info.num_ack_pending


def user_deleted(user_id: uuid.UUID, event_id: uuid.UUID) -> bytes:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    payload = identity_pb2.UserDeleted(user_id=str(user_id), deleted_at=stamp)
    return Envelope(
        id=str(event_id),
        type=payload.DESCRIPTOR.full_name,
        time=stamp,
        subject="identity.user.deleted",
        subject_id=str(user_id),
        actor=str(user_id),
        source="identity",
        payload=payload.SerializeToString(),
    ).SerializeToString()


async def test_changes_are_published_with_their_payloads(bus, service, details, running):
    await bus.connect()
    created, _ = await collect(bus, "listings.listing.created")
    changed, _ = await collect(bus, "listings.listing.status_changed")
    deleted, _ = await collect(bus, "listings.listing.deleted")
    owner = Principal(uuid.uuid4(), Role.REALTOR)
    listing = await service.create(owner, details("Published home"), status=ListingStatus.DRAFT)
    await service.update(owner, listing.id, ListingChanges(status=ListingStatus.ACTIVE))
    await service.delete(owner, listing.id)

    async def all_out() -> bool:
        return bool(created and changed and deleted)

    await eventually(all_out)
    message = created[0].unpack(listings_pb2.ListingCreated).listing
    assert message.id == str(listing.id)
    assert message.title == "Published home"
    assert message.realtor_id == str(owner.user_id)
    assert message.time_zone == "America/Los_Angeles"
    assert message.address.city == "Portland"
    status = changed[0].unpack(listings_pb2.ListingStatusChanged)
    assert status.from_status == listings_pb2.LISTING_STATUS_DRAFT
    assert status.to_status == listings_pb2.LISTING_STATUS_ACTIVE
    assert deleted[0].unpack(listings_pb2.ListingDeleted).listing_id == str(listing.id)
    assert created[0].actor == str(owner.user_id)


async def test_user_deleted_withdraws_that_realtors_listings(
    db, bus, service, queries, details, running
):
    realtor = Principal(uuid.uuid4(), Role.REALTOR)
    bystander = Principal(uuid.uuid4(), Role.REALTOR)
    active = await service.create(realtor, details("Active"), status=ListingStatus.ACTIVE)
    draft = await service.create(realtor, details("Draft"), status=ListingStatus.DRAFT)
    gone = await service.create(realtor, details("Gone"), status=ListingStatus.ACTIVE)
    await service.update(realtor, gone.id, ListingChanges(status=ListingStatus.WITHDRAWN))
    other = await service.create(bystander, details("Other"), status=ListingStatus.ACTIVE)
    before = await outbox_seq(db)

    event_id = uuid.uuid4()
    await bus.publish(
        "identity.user.deleted", user_deleted(realtor.user_id, event_id), msg_id=str(event_id)
    )

    async def withdrawn() -> bool:
        found = await queries.by_ids([active.id, draft.id])
        return all(x.status is ListingStatus.WITHDRAWN for x in found.values())

    await eventually(withdrawn)
    found = await queries.by_ids([active.id, draft.id, gone.id, other.id])
    assert found[other.id].status is ListingStatus.ACTIVE
    assert found[gone.id].status is ListingStatus.WITHDRAWN
    changed = await announced_since(db, before, "listings.listing.status_changed")
    payloads = [listings_pb2.ListingStatusChanged.FromString(e.payload) for e in changed]
    assert {(p.listing_id, p.from_status) for p in payloads} == {
        (str(active.id), listings_pb2.LISTING_STATUS_ACTIVE),
        (str(draft.id), listings_pb2.LISTING_STATUS_DRAFT),
    }
    assert all(p.to_status == listings_pb2.LISTING_STATUS_WITHDRAWN for p in payloads)
    assert {e.actor for e in changed} == {str(realtor.user_id)}

    # Redelivery of the same event (a new JetStream message, same event id) is acknowledged
    # and changes nothing: the inbox knows the event.
    js = await bus.connect()
    ack = await js.publish(
        bus.subject("identity.user.deleted"), user_deleted(realtor.user_id, event_id)
    )

    async def redelivery_handled() -> bool:
        return await acknowledged(bus, ack.seq)

    await eventually(redelivery_handled)
    assert len(await announced_since(db, before, "listings.listing.status_changed")) == 2
    assert await announced_since(db, before, "listings.listing.updated") == []
