"""The rules of joining, guests and the call's lifecycle, with no I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from media.domain import (
    MAX_VIDEO_SENDERS,
    Attendee,
    AttendeeJoined,
    AttendeeLeft,
    Guest,
    GuestStatus,
    JoinMode,
    JoinWindow,
    Meeting,
    MeetingEnded,
    MeetingStarted,
    MeetingState,
    Tour,
    TourStatus,
    Trust,
    attendee_still_in_chime,
    capabilities,
    device_key,
    may_see,
    require_host,
    require_joiner,
    require_room_for_guest,
    user_of,
)
from servicekit.vocabulary import Conflict, Forbidden, Principal, Role

START = datetime(2027, 1, 5, 15, 0, tzinfo=UTC)
WINDOW = JoinWindow(before=timedelta(minutes=10), after=timedelta(minutes=30))


def tour(status: TourStatus = TourStatus.SCHEDULED) -> Tour:
    return Tour(
        id=uuid.uuid4(),
        listing_id=uuid.uuid4(),
        buyer_id=uuid.uuid4(),
        realtor_id=uuid.uuid4(),
        status=status,
        starts_at=START,
        ends_at=START + timedelta(minutes=30),
        sequence=1,
    )


def reason(excinfo: pytest.ExceptionInfo[Conflict]) -> str:
    return str(excinfo.value.extensions()["reason"])


def test_a_scheduled_tour_opens_ten_minutes_early_and_closes_thirty_after_its_end() -> None:
    t = tour()
    t.require_open(START - timedelta(minutes=10), WINDOW)
    t.require_open(t.ends_at + timedelta(minutes=30), WINDOW)
    with pytest.raises(Conflict) as early:
        t.require_open(START - timedelta(minutes=10, seconds=1), WINDOW)
    assert reason(early) == "TOO_EARLY"
    with pytest.raises(Conflict) as late:
        t.require_open(t.ends_at + timedelta(minutes=30, seconds=1), WINDOW)
    assert reason(late) == "TOO_LATE"


def test_an_in_progress_tour_is_open_whatever_the_time_and_others_never() -> None:
    tour(TourStatus.IN_PROGRESS).require_open(START + timedelta(hours=5), WINDOW)
    for status in (
        TourStatus.REQUESTED,
        TourStatus.COMPLETED,
        TourStatus.CANCELLED,
        TourStatus.DECLINED,
        TourStatus.NO_SHOW,
    ):
        with pytest.raises(Conflict) as closed:
            tour(status).require_open(START, WINDOW)
        assert reason(closed) == "TOUR_NOT_JOINABLE"


def guest_of(t: Tour, *, status: GuestStatus = GuestStatus.INVITED) -> Guest:
    return Guest(uuid.uuid4(), t.id, "pat@example.com", status, t.buyer_id, START)


def test_participants_and_invited_guests_join_nobody_else_not_even_an_admin() -> None:
    t = tour()
    require_joiner(t, Principal(t.buyer_id, Role.BUYER), None)
    require_joiner(t, Principal(t.realtor_id, Role.REALTOR), None)
    stranger = Principal(uuid.uuid4(), Role.BUYER)
    require_joiner(t, stranger, guest_of(t))
    with pytest.raises(Forbidden):
        require_joiner(t, stranger, None)
    with pytest.raises(Forbidden):
        require_joiner(t, stranger, guest_of(t, status=GuestStatus.REMOVED))
    with pytest.raises(Forbidden):
        require_joiner(t, Principal(uuid.uuid4(), Role.ADMIN), None)


def test_guests_are_managed_by_the_buyer_or_realtor_up_to_the_limit() -> None:
    t = tour()
    require_host(t, Principal(t.buyer_id, Role.BUYER))
    require_host(t, Principal(uuid.uuid4(), Role.ADMIN))
    with pytest.raises(Forbidden):
        require_host(t, Principal(uuid.uuid4(), Role.REALTOR))
    require_room_for_guest(7, 8)
    with pytest.raises(Conflict):
        require_room_for_guest(8, 8)
    assert may_see(t, Principal(uuid.uuid4(), Role.BUYER), guest_of(t))
    assert not may_see(t, Principal(uuid.uuid4(), Role.BUYER), None)


def test_data_saver_joins_and_the_video_sender_limit() -> None:
    assert capabilities(JoinMode.FULL, 0)["Video"] == "SendReceive"
    assert capabilities(JoinMode.RECEIVE_VIDEO, 0) == {
        "Audio": "SendReceive",
        "Video": "Receive",
        "Content": "Receive",
    }
    assert capabilities(JoinMode.AUDIO_ONLY, 0) == {
        "Audio": "SendReceive",
        "Video": "None",
        "Content": "None",
    }
    assert capabilities(JoinMode.FULL, MAX_VIDEO_SENDERS - 1)["Video"] == "SendReceive"
    assert capabilities(JoinMode.FULL, MAX_VIDEO_SENDERS)["Video"] == "Receive"


def test_a_device_key_fits_chime_and_names_its_user() -> None:
    user = uuid.uuid4()
    key = device_key(user, "x" * 500)
    assert len(key) <= 64
    assert device_key(user, "phone") != device_key(user, "laptop")
    assert device_key(user, "phone") == device_key(user, "phone")
    assert user_of(key) == user
    assert user_of("aws:MediaPipeline-1234") is None


def live_meeting(*people: uuid.UUID) -> Meeting:
    meeting = Meeting(tour_id=uuid.uuid4())
    meeting.created({"MeetingId": "m-1"}, START)
    for n, person in enumerate(people):
        meeting.attendees.append(
            Attendee(f"a-{n}", "m-1", device_key(person, None), person, {}, video=True)
        )
    return meeting


def test_the_first_join_is_first_and_minutes_add_up_when_people_leave() -> None:
    buyer, realtor = uuid.uuid4(), uuid.uuid4()
    meeting = live_meeting(buyer, realtor)
    meeting.chime_started("m-1", START)
    meeting.chime_joined("m-1", "a-0", START)
    meeting.chime_joined("m-1", "a-1", START + timedelta(minutes=1))
    meeting.chime_joined("m-1", "a-1", START + timedelta(minutes=2))  # repeated: no effect
    meeting.chime_left("m-1", "a-1", START + timedelta(minutes=11))
    meeting.chime_left("m-1", "a-0", START + timedelta(minutes=20, seconds=30))
    kinds = [type(e) for e in meeting.events]
    assert kinds == [MeetingStarted, AttendeeJoined, AttendeeJoined, AttendeeLeft, AttendeeLeft]
    joined = [e for e in meeting.events if isinstance(e, AttendeeJoined)]
    assert [j.first for j in joined] == [True, False]
    left = [e for e in meeting.events if isinstance(e, AttendeeLeft)]
    assert [(x.seconds, x.last) for x in left] == [(600, False), (1230, True)]
    assert meeting.attendee_minutes == 31  # 1830 s, rounded up
    assert meeting.empty_since == START + timedelta(minutes=20, seconds=30)


def test_an_empty_meeting_is_due_after_the_grace_and_a_join_cancels_it() -> None:
    person = uuid.uuid4()
    meeting = live_meeting(person)
    meeting.chime_joined("m-1", "a-0", START)
    meeting.chime_left("m-1", "a-0", START + timedelta(minutes=5))
    grace = timedelta(minutes=2)
    assert not meeting.due_for_deletion(START + timedelta(minutes=6), grace)
    assert meeting.due_for_deletion(START + timedelta(minutes=7), grace)
    meeting.chime_joined("m-1", "a-0", START + timedelta(minutes=6))
    assert not meeting.due_for_deletion(START + timedelta(minutes=9), grace)


def test_a_late_join_report_after_the_leave_is_ignored() -> None:
    person = uuid.uuid4()
    meeting = live_meeting(person)
    meeting.chime_left("m-1", "a-0", START + timedelta(minutes=3))
    meeting.chime_joined("m-1", "a-0", START)
    assert meeting.events == []
    assert meeting.present() == []


def test_the_end_closes_whoever_is_in_and_reports_the_duration() -> None:
    person = uuid.uuid4()
    meeting = live_meeting(person)
    meeting.chime_joined("m-1", "a-0", START)
    meeting.chime_ended("m-1", START + timedelta(minutes=40))
    ended = meeting.events[-1]
    assert isinstance(ended, MeetingEnded)
    assert ended.duration_seconds == 2400
    assert ended.attendee_minutes == 40
    assert isinstance(meeting.events[-2], AttendeeLeft)
    assert meeting.state is MeetingState.NONE
    meeting.chime_ended("m-1", START + timedelta(minutes=41))  # repeated: no effect
    assert sum(isinstance(e, MeetingEnded) for e in meeting.events) == 1


def test_a_meeting_nobody_joined_ends_without_announcing_an_end() -> None:
    meeting = live_meeting()
    meeting.chime_ended("m-1", START + timedelta(minutes=5))
    assert meeting.events == []


def test_replacing_a_vanished_meeting_ends_it_and_changes_the_request_token() -> None:
    person = uuid.uuid4()
    meeting = live_meeting(person)
    meeting.chime_joined("m-1", "a-0", START)
    token = meeting.request_token()
    new_token = meeting.replace(START + timedelta(minutes=10))
    assert new_token != token
    assert isinstance(meeting.events[-1], MeetingEnded)
    assert meeting.attendees == [] and meeting.meeting_id is None and not meeting.live
    meeting.chime_joined("m-1", "a-0", START + timedelta(minutes=11))  # the old meeting
    assert not isinstance(meeting.events[-1], AttendeeJoined)


TRUST = Trust(age_margin=timedelta(minutes=30), quiet=timedelta(minutes=4))


def trusted(now: datetime, **state: object) -> bool:
    facts: dict[str, object] = {
        "live": True,
        "attendee_deleted": False,
        "created_at": START,
        "someone_present": False,
        "empty_since": None,
    }
    facts.update(state)
    return attendee_still_in_chime(now, trust=TRUST, **facts)  # type: ignore[arg-type]


def test_a_stored_attendee_is_trusted_only_where_chime_cannot_have_ended_it() -> None:
    minute = timedelta(minutes=1)
    # Made a moment ago, nobody in yet: Chime waits five minutes for a first join.
    assert trusted(START + 3 * minute)
    assert trusted(START + 4 * minute - timedelta(seconds=1))
    assert not trusted(START + 4 * minute)
    # Someone is in it, as Chime's events tell: no empty end is coming.
    assert trusted(START + 3 * 60 * minute, someone_present=True)
    # Left empty: trusted for less than four of Chime's five minutes from then.
    emptied = START + 60 * minute
    assert trusted(emptied + 3 * minute, empty_since=emptied)
    assert not trusted(emptied + 4 * minute, empty_since=emptied)
    # Well short of Chime's 24 hours, never past them even with people in.
    day = timedelta(hours=24)
    assert trusted(START + day - 31 * minute, someone_present=True)
    assert not trusted(START + day - 30 * minute, someone_present=True)
    # Media deleted the meeting or the attendee, or never recorded its creation.
    assert not trusted(START + minute, live=False, someone_present=True)
    assert not trusted(START + minute, attendee_deleted=True, someone_present=True)
    assert not trusted(START + minute, created_at=None, someone_present=True)


def test_a_meeting_trusts_its_attendees_as_its_events_tell() -> None:
    buyer, realtor = uuid.uuid4(), uuid.uuid4()
    meeting = live_meeting(buyer, realtor)
    mine, theirs = meeting.attendees
    assert meeting.trusts(mine, START + timedelta(minutes=3), TRUST)
    assert not meeting.trusts(mine, START + timedelta(minutes=5), TRUST)
    meeting.chime_joined("m-1", "a-1", START + timedelta(minutes=1))
    assert meeting.trusts(mine, START + timedelta(hours=2), TRUST)  # the realtor is in
    meeting.chime_left("m-1", "a-1", START + timedelta(hours=2))
    assert meeting.trusts(mine, START + timedelta(hours=2, minutes=3), TRUST)
    assert not meeting.trusts(mine, START + timedelta(hours=2, minutes=4), TRUST)
    # Chime deleting an attendee leaves the device with none to trust; it gets a new one.
    meeting.chime_joined("m-1", "a-1", START + timedelta(hours=3))
    meeting.chime_deleted("m-1", "a-0", START + timedelta(hours=3))
    assert mine.deleted and meeting.attendee_for(mine.device_key) is None
    assert not meeting.trusts(mine, START + timedelta(hours=3), TRUST)
    assert meeting.trusts(theirs, START + timedelta(hours=3), TRUST)
    # Media deleting the meeting: nothing in it is trusted any more.
    meeting.deleting()
    assert not meeting.trusts(theirs, START + timedelta(hours=3), TRUST)
