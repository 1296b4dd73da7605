"""Every read model: tours by id, lists of tours and clients, busy ranges, availability,
calendar feeds. SQL that only reads, each statement in a session of its own.

Pages are fetched `limit + 1` rows at a time (the extra row tells whether a next page
exists); the cursor is the sort key of the last row, so pages stay stable while tours are
added. The lists under an entity (a user's upcoming tours, history and clients, a
listing's tours) are read for many owners at once: one statement, a LATERAL join over the
requests (`unnest` of owner, status, cursor position and page size), whatever their
number. Tours read here are not tracked by any unit of work: to change one, the use case
loads it through the store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from servicekit.db import Database
from servicekit.reads import driver_sql, fetch, fetch_first
from servicekit.vocabulary import BadUserInput
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Row,
    Select,
    Text,
    bindparam,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.sql.selectable import Subquery, TableValuedAlias

from scheduling.availability import WEEKDAYS, Availability
from scheduling.domain import LIVE_STATUSES, ListingStatus, Tour, TourStatus, Transition
from scheduling.store import LISTING_DELETED, TOUR_BY_KEY, tour_from_row
from scheduling.tables import availability, calendar_feeds, listing_copies, tour_transitions, tours


@dataclass(frozen=True, slots=True)
class Client:
    """A buyer who booked with a realtor, and when they last requested a tour."""

    buyer_id: uuid.UUID
    last_requested_at: datetime


def tour_key(tour: Tour) -> list[str]:
    return [tour.starts_at.isoformat(), str(tour.id)]


def client_key(client: Client) -> list[str]:
    return [client.last_requested_at.isoformat(), str(client.buyer_id)]


Position = tuple[datetime, uuid.UUID]
# Where a page without a cursor starts: before every row of a list in ascending order,
# after every row of one in descending order; so every page is the same keyset condition.
BEFORE_FIRST: Position = (datetime.min.replace(tzinfo=UTC), uuid.UUID(int=0))
AFTER_LAST: Position = (datetime.max.replace(tzinfo=UTC), uuid.UUID(int=(1 << 128) - 1))


@dataclass(frozen=True, slots=True)
class PageOf:
    """One page of one owner's list (a user's, a realtor's, a listing's) among several read
    together: how many rows, after which position, of which status (a listing's tours)."""

    owner: uuid.UUID
    limit: int
    after: Position | None = None
    status: TourStatus | None = None


def position(after: Sequence[Any] | None) -> Position | None:
    """The (time, id) a decoded cursor of these lists points at; BAD_USER_INPUT otherwise."""
    if after is None:
        return None
    try:
        stamp, ident = after
        return datetime.fromisoformat(str(stamp)), uuid.UUID(str(ident))
    except (TypeError, ValueError):
        raise BadUserInput("invalid cursor", field="after") from None


def _values(key: tuple[datetime, uuid.UUID]) -> Any:
    return tuple_(literal(key[0]), literal(key[1]))


def _participant(user_id: uuid.UUID | ColumnElement[Any]) -> ColumnElement[bool]:
    return or_(tours.c.buyer_id == user_id, tours.c.realtor_id == user_id)


def _live() -> ColumnElement[bool]:
    # The statuses are the code's own constants, written into the SQL text, so a statement
    # compiled once for the driver needs no list parameter expanded per call.
    return tours.c.status.in_(
        [literal_column(f"'{value}'") for value in sorted(s.value for s in LIVE_STATUSES)]
    )


def availability_from_row(row: Row[Any] | Any) -> Availability:
    hours = tuple(
        (h["weekday"], h["start"], h["end"])
        for h in sorted(row.weekly_hours, key=lambda h: (WEEKDAYS.index(h["weekday"]), h["start"]))
    )
    return Availability.create(
        realtor_id=row.realtor_id,
        time_zone=row.time_zone,
        weekly_hours=hours,
        buffer_minutes=row.buffer_minutes,
        minimum_notice_minutes=row.minimum_notice_minutes,
        max_days_ahead=row.max_days_ahead,
        blocked_dates=row.blocked_dates or [],
    )


@dataclass(frozen=True, slots=True)
class SlotRules:
    """A listing's status (None: deleted), its realtor's availability (None until set)
    and their busy ranges, as `availableSlots` reads them."""

    status: ListingStatus | None
    availability: Availability | None
    busy: list[tuple[datetime, datetime]]


class TourQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _rows(self, query: Select[Any]) -> list[Row[Any]]:
        async with self.db.session() as session:
            return list((await session.execute(query)).all())

    async def _tours(self, query: Select[Any]) -> list[Tour]:
        return [tour_from_row(row) for row in await self._rows(query)]

    async def by_id(self, tour_id: uuid.UUID) -> Tour | None:
        """One tour (the `tour` query, and every command's answer through the gateway)."""
        row = await fetch_first(self.db, BY_ID, {"id": tour_id})
        return None if row is None else tour_from_row(row)

    async def by_ids(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Tour]:
        """Tours by id in one statement whatever their number (Tour entities, one array)."""
        if not ids:
            return {}
        rows = await fetch(self.db, BY_IDS, {"ids": list(ids)}, named=True)
        return {row.id: tour_from_row(row) for row in rows}

    async def by_idempotency_key(self, buyer_id: uuid.UUID, key: str) -> Tour | None:
        """The buyer's tour booked with `key` (every booking that carries one asks first)."""
        row = await fetch_first(self.db, TOUR_BY_KEY, {"buyer": buyer_id, "key": key})
        return None if row is None else tour_from_row(row)

    async def history(self, tour_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Transition]]:
        rows = await self._rows(
            select(tour_transitions)
            .where(tour_transitions.c.tour_id.in_(tour_ids))
            .order_by(tour_transitions.c.id)
        )
        found: dict[uuid.UUID, list[Transition]] = {tid: [] for tid in tour_ids}
        for row in rows:
            found[row.tour_id].append(
                Transition(
                    TourStatus(row.from_status) if row.from_status else None,
                    TourStatus(row.to_status),
                    row.at,
                    row.by_user,
                    row.reason,
                )
            )
        return found

    async def availability_of(self, realtor_id: uuid.UUID) -> Availability | None:
        """The realtor's published availability (every booking reads it)."""
        row = await fetch_first(self.db, AVAILABILITY_OF, {"realtor": realtor_id})
        return None if row is None else availability_from_row(row)

    async def booking_rules(
        self, realtor_id: uuid.UUID, start: datetime, end: datetime
    ) -> tuple[Availability | None, list[tuple[datetime, datetime]]]:
        """The realtor's availability and the blocked ranges of their live tours that touch
        [start, end), in one round trip (what `availableSlots` needs of the database)."""
        row = await fetch_first(
            self.db, BOOKING_RULES, {"realtor": realtor_id, "start": start, "end": end}
        )
        if row is None:
            return None, []
        busy = list(zip(row.busy_starts or [], row.busy_untils or [], strict=True))
        return (availability_from_row(row) if row.time_zone is not None else None), busy

    async def slot_rules(
        self, listing_id: uuid.UUID, start: datetime, end: datetime
    ) -> SlotRules | None:
        """What `availableSlots` needs, in one round trip, for a listing known from listings'
        events: its status, its realtor's availability and their busy ranges touching
        [start, end); None for a listing no event told of."""
        row = await fetch_first(
            self.db, SLOT_RULES, {"listing": listing_id, "start": start, "end": end}
        )
        if row is None:
            return None
        busy = list(zip(row.busy_starts or [], row.busy_untils or [], strict=True))
        rules = availability_from_row(row) if row.time_zone is not None else None
        deleted = row.listing_status == LISTING_DELETED
        status = None if deleted else ListingStatus(row.listing_status)
        return SlotRules(status, rules, busy)

    async def feed_nonce(self, user_id: uuid.UUID) -> bytes | None:
        """The nonce of the user's last feed rotation; None when it was never rotated."""
        rows = await self._rows(
            select(calendar_feeds.c.nonce).where(calendar_feeds.c.user_id == user_id)
        )
        return bytes(rows[0].nonce) if rows else None

    async def feed_owner_by_hash(self, token_hash: bytes) -> uuid.UUID | None:
        """Whose feed token has this SHA-256 (tokens issued before feeds were derived)."""
        rows = await self._rows(
            select(calendar_feeds.c.user_id).where(calendar_feeds.c.token_hash == token_hash)
        )
        return rows[0].user_id if rows else None

    async def upcoming(self, wanted: Sequence[PageOf], now: datetime) -> list[list[Tour]]:
        """Each user's live tours (as buyer or realtor) not over yet, soonest first."""
        return await self._tour_pages(UPCOMING, wanted, BEFORE_FIRST, now)

    async def past(self, wanted: Sequence[PageOf], now: datetime) -> list[list[Tour]]:
        """Each user's tours that ended or are over, most recent first."""
        return await self._tour_pages(PAST, wanted, AFTER_LAST, now)

    async def of_listings(self, wanted: Sequence[PageOf]) -> list[list[Tour]]:
        """Each listing's tours, of the requested status or all, by start time."""
        return await self._tour_pages(OF_LISTINGS, wanted, BEFORE_FIRST, None)

    async def clients(self, wanted: Sequence[PageOf]) -> list[list[Client]]:
        """Each realtor's buyers who requested tours with them, most recent first."""
        if not wanted:
            return []
        found: list[list[Client]] = [[] for _ in wanted]
        rows = await fetch(self.db, CLIENTS, _request_values(wanted, AFTER_LAST), named=True)
        for row in rows:
            found[row.ordinal - 1].append(Client(row.buyer_id, row.last))
        return found

    async def _tour_pages(
        self,
        statements: PageStatements,
        wanted: Sequence[PageOf],
        first: Position,
        now: datetime | None,
    ) -> list[list[Tour]]:
        """One of the page statements for every request at once: the pages in the
        requests' order, each cut at its request's size (one request, the usual case, as
        plain parameters: no arrays to send and unnest)."""
        if not wanted:
            return []
        if len(wanted) == 1:
            statement, values = statements.one, _one_request_values(wanted[0], first)
        else:
            statement, values = statements.many, _request_values(wanted, first)
        if now is not None:
            values["now"] = now
        found: list[list[Tour]] = [[] for _ in wanted]
        rows = await fetch(self.db, statement, values, named=True)
        for row in rows:
            found[row.ordinal - 1].append(tour_from_row(row))
        return found

    async def for_calendar(self, user_id: uuid.UUID, since: datetime) -> list[Tour]:
        """The user's tours for their calendar feed (declined requests never happened)."""
        query = (
            select(tours)
            .where(
                _participant(user_id),
                tours.c.ends_at >= since,
                tours.c.status != TourStatus.DECLINED.value,
            )
            .order_by(tours.c.starts_at)
            .limit(1000)
        )
        return await self._tours(query)

    async def search(
        self,
        *,
        listing_id: uuid.UUID | None,
        participant_id: uuid.UUID | None,
        statuses: Sequence[TourStatus],
        starts_after: datetime | None,
        starts_before: datetime | None,
        limit: int,
        after: list[Any] | None,
    ) -> list[Tour]:
        """Filtered tours for other services (gRPC `ListTours`), by start then id."""
        query = select(tours)
        if listing_id is not None:
            query = query.where(tours.c.listing_id == listing_id)
        if participant_id is not None:
            query = query.where(_participant(participant_id))
        if statuses:
            query = query.where(tours.c.status.in_([s.value for s in statuses]))
        if starts_after is not None:
            query = query.where(tours.c.starts_at >= starts_after)
        if starts_before is not None:
            query = query.where(tours.c.starts_at < starts_before)
        key = position(after)
        if key is not None:
            query = query.where(tuple_(tours.c.starts_at, tours.c.id) > _values(key))
        return await self._tours(query.order_by(tours.c.starts_at, tours.c.id).limit(limit + 1))


def _request_values(wanted: Sequence[PageOf], first: Position) -> dict[str, Any]:
    """The requests as the page statements' arrays; a request without a cursor continues
    from `first`, and `fetch` is its page size plus one."""
    starts = [w.after or first for w in wanted]
    return {
        "owners": [w.owner for w in wanted],
        "statuses": [w.status.value if w.status else None for w in wanted],
        "after_at": [at for at, _ in starts],
        "after_id": [ident for _, ident in starts],
        "fetch": [w.limit + 1 for w in wanted],
    }


def _one_request_values(wanted: PageOf, first: Position) -> dict[str, Any]:
    """One request as the single-request statements' parameters."""
    after_at, after_id = wanted.after or first
    return {
        "owner": wanted.owner,
        "status": wanted.status.value if wanted.status else None,
        "after_at": after_at,
        "after_id": after_id,
        "fetch": wanted.limit + 1,
    }


def _one_request() -> Subquery:
    """One request as a row of plain parameters, with the columns of `_requests()`."""
    return select(
        literal_column("1", Integer).label("ordinal"),
        bindparam("owner", type_=UUID(as_uuid=True)).label("owner"),
        bindparam("status", type_=Text).label("status"),
        bindparam("after_at", type_=DateTime(timezone=True)).label("after_at"),
        bindparam("after_id", type_=UUID(as_uuid=True)).label("after_id"),
        bindparam("fetch", type_=Integer).label("fetch"),
    ).subquery("wanted")


def _requests() -> TableValuedAlias:
    """The requests as rows numbered from 1 (`ordinal`), one array parameter per column."""
    return (
        func.unnest(
            bindparam("owners", type_=ARRAY(UUID(as_uuid=True))),
            bindparam("statuses", type_=ARRAY(Text)),
            bindparam("after_at", type_=ARRAY(DateTime(timezone=True))),
            bindparam("after_id", type_=ARRAY(UUID(as_uuid=True))),
            bindparam("fetch", type_=ARRAY(Integer)),
        )
        .table_valued(
            column("owner", UUID(as_uuid=True)),
            column("status", Text),
            column("after_at", DateTime(timezone=True)),
            column("after_id", UUID(as_uuid=True)),
            column("fetch", Integer),
            with_ordinality="ordinal",
        )
        .render_derived(name="wanted")
    )


NOW = bindparam("now", type_=DateTime(timezone=True))
BY_ID = driver_sql(select(tours).where(tours.c.id == bindparam("id", type_=UUID(as_uuid=True))))
BY_IDS = driver_sql(
    select(tours).where(tours.c.id == func.any(bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))))
)
AVAILABILITY_OF = driver_sql(
    select(availability).where(
        availability.c.realtor_id == bindparam("realtor", type_=UUID(as_uuid=True))
    )
)


@dataclass(frozen=True, slots=True)
class PageStatements:
    """A list's page statement for one request (`one`) and for any number (`many`)."""

    one: str
    many: str


def _pages(page: Callable[[Any], Select[Any]], *, descending: bool) -> PageStatements:
    return PageStatements(
        one=_page_sql(page, _one_request(), descending=descending),
        many=_page_sql(page, _requests(), descending=descending),
    )


def _page_sql(page: Callable[[Any], Select[Any]], requests: Any, *, descending: bool) -> str:
    """`page(request)`, ordered by (start, id) and cut at each request's size, for every
    request in one statement."""
    key = [tours.c.starts_at, tours.c.id]
    lateral = (
        page(requests)
        .order_by(*(k.desc() if descending else k.asc() for k in key))
        .limit(requests.c.fetch)
        .lateral("page")
    )
    outer = [lateral.c.starts_at, lateral.c.id]
    return driver_sql(
        select(requests.c.ordinal, lateral)
        .select_from(requests.join(lateral, true()))
        .order_by(requests.c.ordinal, *(k.desc() if descending else k.asc() for k in outer))
    )


UPCOMING = _pages(
    lambda w: select(tours).where(
        _participant(w.c.owner),
        _live(),
        tours.c.ends_at > NOW,
        tuple_(tours.c.starts_at, tours.c.id) > tuple_(w.c.after_at, w.c.after_id),
    ),
    descending=False,
)
PAST = _pages(
    lambda w: select(tours).where(
        _participant(w.c.owner),
        or_(~_live(), tours.c.ends_at <= NOW),
        tuple_(tours.c.starts_at, tours.c.id) < tuple_(w.c.after_at, w.c.after_id),
    ),
    descending=True,
)
OF_LISTINGS = _pages(
    lambda w: select(tours).where(
        tours.c.listing_id == w.c.owner,
        or_(w.c.status.is_(None), tours.c.status == w.c.status),
        tuple_(tours.c.starts_at, tours.c.id) > tuple_(w.c.after_at, w.c.after_id),
    ),
    descending=False,
)


def _clients() -> str:
    requests = _requests()
    last = func.max(tours.c.created_at)
    page = (
        select(tours.c.buyer_id, last.label("last"))
        .where(tours.c.realtor_id == requests.c.owner)
        .group_by(tours.c.buyer_id)
        .having(tuple_(last, tours.c.buyer_id) < tuple_(requests.c.after_at, requests.c.after_id))
        .order_by(last.desc(), tours.c.buyer_id.desc())
        .limit(requests.c.fetch)
        .lateral("page")
    )
    return driver_sql(
        select(requests.c.ordinal, page.c.buyer_id, page.c.last)
        .select_from(requests.join(page, true()))
        .order_by(requests.c.ordinal, page.c.last.desc(), page.c.buyer_id.desc())
    )


CLIENTS = _clients()


def _booking_rules() -> str:
    realtor = bindparam("realtor", type_=UUID(as_uuid=True))
    busy = (
        select(
            func.array_agg(tours.c.starts_at).label("busy_starts"),
            func.array_agg(tours.c.blocked_until).label("busy_untils"),
        )
        .where(
            tours.c.realtor_id == realtor,
            _live(),
            tours.c.starts_at < bindparam("end", type_=DateTime(timezone=True)),
            tours.c.blocked_until > bindparam("start", type_=DateTime(timezone=True)),
        )
        .subquery("busy")
    )
    rules = select(availability).where(availability.c.realtor_id == realtor).subquery("rules")
    # One row always: the busy ranges, and the rules when the realtor has set them.
    return driver_sql(
        select(rules, busy.c.busy_starts, busy.c.busy_untils).select_from(
            busy.outerjoin(rules, true())
        )
    )


BOOKING_RULES = _booking_rules()


def _slot_rules() -> str:
    copy = (
        select(listing_copies)
        .where(listing_copies.c.listing_id == bindparam("listing", type_=UUID(as_uuid=True)))
        .subquery("copy")
    )
    busy = (
        select(
            func.array_agg(tours.c.starts_at).label("busy_starts"),
            func.array_agg(tours.c.blocked_until).label("busy_untils"),
        )
        .where(
            tours.c.realtor_id == copy.c.realtor_id,
            _live(),
            tours.c.starts_at < bindparam("end", type_=DateTime(timezone=True)),
            tours.c.blocked_until > bindparam("start", type_=DateTime(timezone=True)),
        )
        .lateral("busy")
    )
    rules = select(availability).where(availability.c.realtor_id == copy.c.realtor_id)
    lateral_rules = rules.lateral("rules")
    # No row for an unknown listing; otherwise one, with the rules when the realtor set them.
    return driver_sql(
        select(
            copy.c.status.label("listing_status"),
            *lateral_rules.c,
            busy.c.busy_starts,
            busy.c.busy_untils,
        ).select_from(copy.join(busy, true()).outerjoin(lateral_rules, true()))
    )


SLOT_RULES = _slot_rules()
