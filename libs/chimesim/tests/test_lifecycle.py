"""Meetings end as Chime ends them, on the emulator's clock."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chimesim.testing import ChimeSim


def create(meetings: Any, token: str | None = None) -> str:
    response = meetings.create_meeting(
        ClientRequestToken=token or uuid.uuid4().hex,
        MediaRegion="us-east-1",
        ExternalMeetingId="tour",
    )
    return str(response["Meeting"]["MeetingId"])


def is_gone(meetings: Any, meeting_id: str) -> bool:
    try:
        meetings.get_meeting(MeetingId=meeting_id)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NotFoundException"
        return True
    return False


def test_a_meeting_nobody_joins_ends_after_five_minutes(chime: ChimeSim, meetings: Any) -> None:
    meeting_id = create(meetings)
    chime.advance(299)
    assert not is_gone(meetings, meeting_id)
    chime.advance(1)
    assert is_gone(meetings, meeting_id)
    with pytest.raises(ClientError) as caught:
        meetings.create_attendee(MeetingId=meeting_id, ExternalUserId="late-buyer")
    assert caught.value.response["Error"]["Code"] == "NotFoundException"


def test_a_meeting_ends_five_minutes_after_the_last_attendee_left(
    chime: ChimeSim, meetings: Any
) -> None:
    meeting_id = create(meetings)
    agent = meetings.create_attendee(MeetingId=meeting_id, ExternalUserId="agent")["Attendee"]
    buyer = meetings.create_attendee(MeetingId=meeting_id, ExternalUserId="buyer")["Attendee"]
    chime.join(meeting_id, agent["AttendeeId"])
    chime.join(meeting_id, buyer["AttendeeId"])
    chime.advance(600)
    assert not is_gone(meetings, meeting_id)
    chime.leave(meeting_id, agent["AttendeeId"])
    chime.advance(400)
    assert not is_gone(meetings, meeting_id), "one attendee is still there"
    chime.drop(meeting_id, buyer["AttendeeId"])
    chime.advance(299)
    assert not is_gone(meetings, meeting_id)
    chime.advance(1)
    assert is_gone(meetings, meeting_id)


def test_every_meeting_ends_after_24_hours(chime: ChimeSim, meetings: Any) -> None:
    meeting_id = create(meetings)
    agent = meetings.create_attendee(MeetingId=meeting_id, ExternalUserId="agent")["Attendee"]
    chime.join(meeting_id, agent["AttendeeId"])
    chime.advance(24 * 3600 - 1)
    assert not is_gone(meetings, meeting_id)
    chime.advance(1)
    assert is_gone(meetings, meeting_id)


def test_delete_meeting_ends_it_at_once(meetings: Any) -> None:
    meeting_id = create(meetings)
    meetings.delete_meeting(MeetingId=meeting_id)
    assert is_gone(meetings, meeting_id)
    with pytest.raises(ClientError) as caught:
        meetings.delete_meeting(MeetingId=meeting_id)
    assert caught.value.response["Error"]["Code"] == "NotFoundException"


def test_the_same_client_request_token_returns_the_same_meeting(meetings: Any) -> None:
    token = uuid.uuid4().hex
    first = create(meetings, token)
    assert create(meetings, token) == first
    assert create(meetings) != first


def test_the_same_external_user_id_returns_the_same_attendee(meetings: Any) -> None:
    meeting_id = create(meetings)
    first = meetings.create_attendee(MeetingId=meeting_id, ExternalUserId="buyer")["Attendee"]
    again = meetings.create_attendee(MeetingId=meeting_id, ExternalUserId="buyer")["Attendee"]
    assert again["AttendeeId"] == first["AttendeeId"]
    assert again["JoinToken"] == first["JoinToken"]


def test_a_deleted_attendee_is_gone(chime: ChimeSim, meetings: Any) -> None:
    meeting_id = create(meetings)
    buyer = meetings.create_attendee(MeetingId=meeting_id, ExternalUserId="buyer")["Attendee"]
    meetings.delete_attendee(MeetingId=meeting_id, AttendeeId=buyer["AttendeeId"])
    with pytest.raises(ClientError) as caught:
        meetings.get_attendee(MeetingId=meeting_id, AttendeeId=buyer["AttendeeId"])
    assert caught.value.response["Error"]["Code"] == "NotFoundException"
    listed = meetings.list_attendees(MeetingId=meeting_id)
    assert listed["Attendees"] == []


def test_replicas_end_with_their_primary(chime: ChimeSim, meetings: Any) -> None:
    primary = create(meetings)
    replica = meetings.create_meeting(
        ClientRequestToken=uuid.uuid4().hex,
        MediaRegion="us-west-2",
        ExternalMeetingId="overflow",
        PrimaryMeetingId=primary,
    )["Meeting"]
    assert replica["PrimaryMeetingId"] == primary
    meetings.delete_meeting(MeetingId=primary)
    assert is_gone(meetings, replica["MeetingId"])
