"""The tour state machine alone: every allowed move, every refused one, and who may act."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from scheduling.domain import (
    Actor,
    ListingStatus,
    Tour,
    TourStatus,
    Verb,
    accepts_tours,
    may_see_calendar_feed,
    no_longer_tourable,
    require_listing_realtor,
    require_may_publish_availability,
    require_may_request_tours,
    require_own_clients,
    require_self,
)
from servicekit.vocabulary import BadUserInput, Forbidden, Principal, Role

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
START = NOW + timedelta(days=1)
GRACE = timedelta(minutes=15)
BUYER, REALTOR = uuid.uuid4(), uuid.uuid4()
buyer, realtor, stranger = Actor(BUYER), Actor(REALTOR), Actor(uuid.uuid4())


def new_tour() -> Tour:
    return Tour.request(
        listing_id=uuid.uuid4(),
        buyer_id=BUYER,
        realtor_id=REALTOR,
        starts_at=START,
        duration_minutes=30,
        time_zone="America/New_York",
        buffer_minutes=15,
        now=NOW,
    )


def in_status(status: TourStatus) -> Tour:
    tour = new_tour()
    paths: dict[TourStatus, list[Callable[[Tour], None]]] = {
        TourStatus.REQUESTED: [],
        TourStatus.SCHEDULED: [lambda t: t.confirm(realtor, NOW)],
        TourStatus.IN_PROGRESS: [
            lambda t: t.confirm(realtor, NOW),
            lambda t: t.start(realtor, START),
        ],
        TourStatus.COMPLETED: [
            lambda t: t.confirm(realtor, NOW),
            lambda t: t.start(realtor, START),
            lambda t: t.complete(realtor, START + timedelta(minutes=30)),
        ],
        TourStatus.DECLINED: [lambda t: t.decline(realtor, "busy", NOW)],
        TourStatus.CANCELLED: [lambda t: t.cancel(buyer, "changed my mind", NOW)],
        TourStatus.NO_SHOW: [
            lambda t: t.confirm(realtor, NOW),
            lambda t: t.mark_no_show(START + timedelta(hours=2), GRACE),
        ],
    }
    for step in paths[status]:
        step(tour)
    assert tour.status is status
    return tour


MOVES: dict[str, Callable[[Tour], None]] = {
    "confirm": lambda t: t.confirm(realtor, NOW),
    "decline": lambda t: t.decline(realtor, "no", NOW),
    "cancel": lambda t: t.cancel(buyer, "no", NOW),
    "start": lambda t: t.start(realtor, START),
    "complete": lambda t: t.complete(realtor, START),
    "no_show": lambda t: t.mark_no_show(START + timedelta(hours=2), GRACE),
    "reschedule": lambda t: t.reschedule(realtor, START + timedelta(hours=3), NOW),
}
ALLOWED = {
    ("confirm", TourStatus.REQUESTED),
    ("decline", TourStatus.REQUESTED),
    ("cancel", TourStatus.REQUESTED),
    ("cancel", TourStatus.SCHEDULED),
    ("start", TourStatus.SCHEDULED),
    ("complete", TourStatus.IN_PROGRESS),
    ("no_show", TourStatus.SCHEDULED),
    ("reschedule", TourStatus.REQUESTED),
    ("reschedule", TourStatus.SCHEDULED),
}


@pytest.mark.parametrize("status", list(TourStatus))
@pytest.mark.parametrize("move", list(MOVES))
def test_every_transition_is_allowed_or_refused_with_bad_user_input(
    move: str, status: TourStatus
) -> None:
    tour = in_status(status)
    before = (tour.status, tour.sequence, len(tour.events))
    if (move, status) in ALLOWED:
        MOVES[move](tour)
        assert tour.sequence == before[1] + 1
        assert len(tour.events) == before[2] + 1
    else:
        with pytest.raises(BadUserInput):
            MOVES[move](tour)
        assert (tour.status, tour.sequence, len(tour.events)) == before


def test_request_records_creation() -> None:
    tour = new_tour()
    assert tour.status is TourStatus.REQUESTED
    assert tour.ends_at - tour.starts_at == timedelta(minutes=30)
    assert [(e.verb, e.from_status, e.to_status) for e in tour.events] == [
        (Verb.REQUESTED, None, TourStatus.REQUESTED)
    ]
    assert tour.transitions[0].by == BUYER


@pytest.mark.parametrize(
    ("start", "minutes"),
    [(NOW - timedelta(minutes=1), 30), (START, 5), (START, 600), (START.replace(tzinfo=None), 30)],
)
def test_request_rejects_bad_times(start: datetime, minutes: int) -> None:
    with pytest.raises(BadUserInput):
        Tour.request(
            listing_id=uuid.uuid4(),
            buyer_id=BUYER,
            realtor_id=REALTOR,
            starts_at=start,
            duration_minutes=minutes,
            time_zone="UTC",
            buffer_minutes=0,
            now=NOW,
        )


def test_only_the_realtor_confirms_declines_starts_and_completes() -> None:
    tour = new_tour()
    for actor in (buyer, stranger):
        with pytest.raises(Forbidden):
            tour.confirm(actor, NOW)
        with pytest.raises(Forbidden):
            tour.decline(actor, "no", NOW)
    tour.confirm(realtor, NOW)
    with pytest.raises(Forbidden):
        tour.start(buyer, START)
    tour.start(realtor, START)
    with pytest.raises(Forbidden):
        tour.complete(buyer, START)


def test_strangers_cannot_cancel_or_reschedule_but_admins_can() -> None:
    tour = new_tour()
    with pytest.raises(Forbidden):
        tour.cancel(stranger, "no", NOW)
    with pytest.raises(Forbidden):
        tour.reschedule(stranger, START + timedelta(hours=1), NOW)
    tour.cancel(Actor(uuid.uuid4(), admin=True), "moderation", NOW)
    assert tour.status is TourStatus.CANCELLED


def test_permission_is_checked_before_the_state() -> None:
    tour = in_status(TourStatus.CANCELLED)
    with pytest.raises(Forbidden):
        tour.confirm(stranger, NOW)


def test_reschedule_by_buyer_needs_confirmation_by_realtor_does_not() -> None:
    tour = in_status(TourStatus.SCHEDULED)
    tour.reschedule(realtor, START + timedelta(hours=2), NOW)
    assert tour.status is TourStatus.SCHEDULED
    assert tour.ends_at - tour.starts_at == timedelta(minutes=30)
    tour.reschedule(buyer, START + timedelta(hours=4), NOW)
    assert tour.status is TourStatus.REQUESTED
    event = tour.events[-1]
    assert event.verb is Verb.RESCHEDULED
    assert event.previous_starts_at == START + timedelta(hours=2)
    with pytest.raises(BadUserInput):
        tour.reschedule(buyer, tour.starts_at, NOW)
    with pytest.raises(BadUserInput):
        tour.reschedule(buyer, NOW - timedelta(hours=1), NOW)


def test_reasons_are_required_and_kept() -> None:
    tour = new_tour()
    with pytest.raises(BadUserInput):
        tour.decline(realtor, "   ", NOW)
    tour.decline(realtor, "  On vacation  ", NOW)
    assert tour.status_reason == "On vacation"
    assert tour.transitions[-1].reason == "On vacation"


def test_manual_start_only_in_the_window_but_media_may_start_any_time() -> None:
    tour = in_status(TourStatus.SCHEDULED)
    with pytest.raises(BadUserInput):
        tour.start(realtor, START - timedelta(hours=1))
    with pytest.raises(BadUserInput):
        tour.start(realtor, START + timedelta(minutes=30))
    tour.start(Actor.system(), START - timedelta(hours=1))
    assert tour.status is TourStatus.IN_PROGRESS


def test_no_show_waits_for_the_window_and_grace() -> None:
    tour = in_status(TourStatus.SCHEDULED)
    with pytest.raises(BadUserInput):
        tour.mark_no_show(START + timedelta(minutes=40), GRACE)
    tour.mark_no_show(START + timedelta(minutes=45), GRACE)
    assert tour.status is TourStatus.NO_SHOW


def test_system_cancellation_only_touches_live_tours() -> None:
    assert in_status(TourStatus.SCHEDULED).cancel_by_system("listing withdrawn", NOW)
    assert not in_status(TourStatus.COMPLETED).cancel_by_system("listing withdrawn", NOW)


def test_blocked_range_adds_the_buffer_after_the_tour() -> None:
    tour = new_tour()
    assert tour.blocked_range() == (START, START + timedelta(minutes=45))


def who(role: Role, user_id: uuid.UUID | None = None) -> Principal:
    return Principal(user_id or uuid.uuid4(), role)


def test_a_tour_is_seen_by_its_participants_and_admins_only() -> None:
    tour = new_tour()
    assert tour.visible_to(who(Role.BUYER, BUYER)) and tour.visible_to(who(Role.REALTOR, REALTOR))
    assert tour.visible_to(who(Role.ADMIN))
    assert not tour.visible_to(who(Role.BUYER)) and not tour.visible_to(who(Role.REALTOR))
    with pytest.raises(Forbidden):
        tour.require_visible_to(who(Role.REALTOR))


def test_admins_pass_owner_rules_but_never_become_a_party() -> None:
    admin, user = who(Role.ADMIN), uuid.uuid4()
    require_self(admin, user)
    require_own_clients(admin, user)
    require_listing_realtor(admin, user)
    for act in (require_may_request_tours, require_may_publish_availability):
        with pytest.raises(Forbidden):
            act(admin)
    require_may_request_tours(who(Role.BUYER))
    require_may_publish_availability(who(Role.REALTOR))
    with pytest.raises(Forbidden):
        require_may_request_tours(who(Role.REALTOR))
    with pytest.raises(Forbidden):
        require_self(who(Role.BUYER), user)
    with pytest.raises(Forbidden):
        require_own_clients(who(Role.BUYER, user), user)  # their own, but no realtor
    with pytest.raises(Forbidden):
        require_listing_realtor(who(Role.REALTOR), user)
    # A feed URL is a credential: its owner only, admin or not.
    assert may_see_calendar_feed(who(Role.BUYER, user), user)
    assert not may_see_calendar_feed(admin, user) and not may_see_calendar_feed(None, user)


def test_only_active_and_coming_soon_listings_accept_tours() -> None:
    assert {s for s in ListingStatus if accepts_tours(s)} == {
        ListingStatus.ACTIVE,
        ListingStatus.COMING_SOON,
    }
    assert no_longer_tourable(ListingStatus.COMING_SOON).endswith("(coming soon)")


def test_a_reminder_is_due_only_for_its_start_while_scheduled_and_early_enough() -> None:
    tour = in_status(TourStatus.SCHEDULED)
    day_before = START - timedelta(hours=24)
    assert tour.reminder_due(START, 24 * 60, day_before)
    assert tour.reminder_due(START, 24 * 60, START - timedelta(hours=12))
    assert not tour.reminder_due(START, 24 * 60, START - timedelta(hours=11))  # half gone
    assert not tour.reminder_due(START - timedelta(hours=1), 60, day_before)  # moved since
    assert not in_status(TourStatus.CANCELLED).reminder_due(START, 24 * 60, day_before)
