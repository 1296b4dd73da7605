# mypy: disable-error-code="untyped-decorator"
"""Media's operations: the tour library, joining and leaving, guests, recording, and the
call's live updates. Thin by design: parse arguments, call the use cases or the read
models, map the results to the types.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from servicekit.graphql import Context
from servicekit.pagination import Connection, build_connection, decode_cursor, page_size
from servicekit.vocabulary import BadUserInput, Forbidden, NotFound, parse_id
from strawberry.scalars import JSON
from strawberry.types import Info

from media import domain
from media.graphql.types import (
    JoinInfo,
    JoinMode,
    Meeting,
    Recording,
    TourGuest,
    _ctx,
    _services,
    _tours,
    _visible,
)

DEVICE_HEADER = "x-device-id"
MAX_SEARCH = 200
MAX_DEVICE_ID = 200


def _device(info: Info[Context, None], argument: str | None) -> str | None:
    device = argument or _ctx(info).request.headers.get(DEVICE_HEADER)
    if device is not None and (not device.strip() or len(device) > MAX_DEVICE_ID):
        raise BadUserInput(f"deviceId must be 1 to {MAX_DEVICE_ID} characters", field="deviceId")
    return device


def _library_cursor(after: str | None) -> tuple[datetime, uuid.UUID] | None:
    key = decode_cursor(after)
    if key is None:
        return None
    try:
        return datetime.fromisoformat(str(key[0])), uuid.UUID(str(key[1]))
    except (IndexError, ValueError):
        raise BadUserInput("invalid cursor", field="after") from None


# -- operations ----------------------------------------------------------------------------------
@strawberry.type
class Query:
    @strawberry.field(
        description=(
            "The caller's completed tours with recordings, newest first; `search` is "
            "full-text over their transcripts and summaries."
        )
    )
    async def tour_library(
        self,
        info: Info[Context, None],
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Recording]:
        who = await _ctx(info).user()
        limit = page_size(first)
        if search is not None and len(search) > MAX_SEARCH:
            raise BadUserInput(f"search must be at most {MAX_SEARCH} characters", field="search")
        services = _services(info)
        rows = await services.queries.library(
            who.user_id,
            search=search.strip() or None if search else None,
            limit=limit,
            after=_library_cursor(after),
        )
        return build_connection(
            rows,
            limit=limit,
            key=lambda r: (r.started_at.isoformat(), str(r.id)),
            node=lambda r: Recording.of(r, services.storage),
            after=after,
        )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "Join a tour's video call (its buyer, realtor or an invited guest; the tour "
            "SCHEDULED within its join window or IN_PROGRESS). One attendee per device: "
            "`deviceId` (or the X-Device-Id header) names the device session."
        )
    )
    async def join_tour(
        self,
        info: Info[Context, None],
        tour_id: strawberry.ID,
        mode: JoinMode | None = domain.JoinMode.FULL,  # type: ignore[valid-type]
        device_id: str | None = None,
    ) -> JoinInfo:
        who = await _ctx(info).user()
        joined = await _services(info).media.join(
            who,
            parse_id(tour_id, "tourId"),
            domain.JoinMode(mode or domain.JoinMode.FULL),
            _device(info, device_id),
        )
        return JoinInfo(meeting=JSON(joined.meeting), attendee=JSON(joined.attendee))

    @strawberry.mutation(
        description="Leave a tour's call from this device; false when it was not in the call."
    )
    async def leave_tour(
        self, info: Info[Context, None], tour_id: strawberry.ID, device_id: str | None = None
    ) -> bool:
        who = await _ctx(info).user()
        return await _services(info).media.leave(
            who, parse_id(tour_id, "tourId"), _device(info, device_id)
        )

    @strawberry.mutation(
        description="Invite someone by email to the tour's call (buyer or realtor)."
    )
    async def invite_tour_guest(
        self, info: Info[Context, None], tour_id: strawberry.ID, email: str
    ) -> TourGuest:
        who = await _ctx(info).user()
        guest = await _services(info).media.invite(who, parse_id(tour_id, "tourId"), email)
        return TourGuest.of(guest)

    @strawberry.mutation(
        description="Withdraw an invitation (buyer or realtor); a guest in the call leaves it."
    )
    async def remove_tour_guest(
        self, info: Info[Context, None], tour_id: strawberry.ID, guest_id: strawberry.ID
    ) -> bool:
        who = await _ctx(info).user()
        return await _services(info).media.remove_guest(
            who, parse_id(tour_id, "tourId"), parse_id(guest_id, "guestId")
        )

    @strawberry.mutation(
        description="Start recording the tour's call (its realtor); everyone in it is told."
    )
    async def start_recording(self, info: Info[Context, None], tour_id: strawberry.ID) -> Recording:
        who = await _ctx(info).user()
        services = _services(info)
        found = await services.recordings.start(who, parse_id(tour_id, "tourId"))
        return Recording.of(found, services.storage)

    @strawberry.mutation(
        description="Stop recording (its realtor); the recording becomes AVAILABLE when ready."
    )
    async def stop_recording(self, info: Info[Context, None], tour_id: strawberry.ID) -> Recording:
        who = await _ctx(info).user()
        services = _services(info)
        found = await services.recordings.stop(who, parse_id(tour_id, "tourId"))
        return Recording.of(found, services.storage)

    @strawberry.mutation(
        description="Delete a recording, its files and transcript (the tour's realtor)."
    )
    async def delete_recording(self, info: Info[Context, None], id: strawberry.ID) -> bool:
        who = await _ctx(info).user()
        return await _services(info).recordings.delete(who, parse_id(id, "id"))


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "The tour's call each time it changes: people joining and leaving, recording "
            "starting and stopping (participants and guests), so everyone in it knows."
        )
    )
    async def meeting_changed(
        self, info: Info[Context, None], tour_id: strawberry.ID
    ) -> AsyncGenerator[Meeting, None]:
        await _ctx(info).user()
        tour_uuid = parse_id(tour_id, "tourId")
        services = _services(info)
        with services.live.listen(tour_uuid) as listener:
            if await _tours(info).load(tour_uuid) is None:
                raise NotFound("tour not found", field="tourId")
            if not await _visible(info, tour_uuid):
                raise Forbidden("only the tour's participants and guests follow its call")
            async for _ in listener:
                view = (await services.queries.meetings([tour_uuid])).get(tour_uuid)
                if view is not None:
                    yield Meeting.of(view)
