"""gRPC `realty.scheduling.v1.Scheduling` as other services call it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from realty.scheduling.v1 import scheduling_pb2, scheduling_pb2_grpc
from scheduling.rpc import ACCESS, SchedulingServicer
from servicekit.auth import Role
from servicekit.errors import BadUserInput, Forbidden, NotFound
from servicekit.grpc import GrpcServer, call, client_channel
from servicekit.tls import DevAuthority

FIRST = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)


async def test_get_and_list_tours(stack: Any, grpc_authority: DevAuthority) -> None:
    realtor, listing = await stack.open_for_tours()
    buyer = stack.peers.person(Role.BUYER)
    ids = [
        (await stack.request(buyer, listing, FIRST + timedelta(minutes=45 * i)))["data"][
            "requestTour"
        ]["id"]
        for i in range(3)
    ]
    await stack.ok(
        "mutation($id: ID!) { confirmTour(id: $id) { id } }", {"id": ids[0]}, as_=realtor
    )

    async def ready() -> bool:
        return True

    server = GrpcServer(
        host="127.0.0.1",
        port=0,
        registrations=[
            lambda s: scheduling_pb2_grpc.add_SchedulingServicer_to_server(
                SchedulingServicer(stack.parts.queries), s
            )
        ],
        service_names=["realty.scheduling.v1.Scheduling"],
        readiness=ready,
        tls=grpc_authority.material("scheduling"),
        access=[ACCESS],
        verifier=stack.parts.infra.verifier,
    )
    await server.start()
    target = f"127.0.0.1:{server.port}"
    channel = client_channel(target, tls=grpc_authority.material("media"), server_name="scheduling")
    # Tours name their buyers: listings has no business reading them.
    async with client_channel(
        target, tls=grpc_authority.material("listings"), server_name="scheduling"
    ) as other:
        with pytest.raises(Forbidden):
            await call(
                scheduling_pb2_grpc.SchedulingStub(other).GetTour,
                scheduling_pb2.GetTourRequest(id=ids[0]),
                timeout=2.0,
            )
    try:
        stub = scheduling_pb2_grpc.SchedulingStub(channel)
        tour = await call(stub.GetTour, scheduling_pb2.GetTourRequest(id=ids[0]), timeout=2.0)
        assert tour.status == scheduling_pb2.TOUR_STATUS_SCHEDULED
        assert (tour.buyer_id, tour.realtor_id) == (str(buyer.id), str(realtor.id))
        assert tour.starts_at.ToDatetime(tzinfo=UTC) == FIRST
        assert tour.sequence == 1
        with pytest.raises(NotFound):
            await call(
                stub.GetTour, scheduling_pb2.GetTourRequest(id=str(uuid.uuid4())), timeout=2.0
            )
        with pytest.raises(BadUserInput):
            await call(stub.GetTour, scheduling_pb2.GetTourRequest(id="nope"), timeout=2.0)

        first_page = await call(
            stub.ListTours,
            scheduling_pb2.ListToursRequest(participant_id=str(buyer.id), page_size=2),
            timeout=2.0,
        )
        assert [t.id for t in first_page.tours] == ids[:2]
        rest = await call(
            stub.ListTours,
            scheduling_pb2.ListToursRequest(
                participant_id=str(buyer.id), page_size=2, page_token=first_page.next_page_token
            ),
            timeout=2.0,
        )
        assert [t.id for t in rest.tours] == ids[2:] and not rest.next_page_token
        requested = await call(
            stub.ListTours,
            scheduling_pb2.ListToursRequest(
                listing_id=str(listing), statuses=[scheduling_pb2.TOUR_STATUS_REQUESTED]
            ),
            timeout=2.0,
        )
        assert [t.id for t in requested.tours] == ids[1:]
    finally:
        await channel.close()
        await server.stop(0)
