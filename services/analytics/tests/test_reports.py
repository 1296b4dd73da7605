"""The report rules alone: periods, the funnel's conversion, local days, who sees what."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from analytics.reports import (
    Period,
    funnel,
    local_days,
    require_dashboard,
    require_listing_owner,
    zone_of,
)
from servicekit.vocabulary import BadUserInput, Forbidden, Principal, Role

START = datetime(2027, 3, 1, 5, 0, tzinfo=UTC)


def test_a_period_is_bounded_and_knows_the_one_before() -> None:
    period = Period.of(START, START + timedelta(days=7))
    assert period.previous == Period(START - timedelta(days=7), START)
    with pytest.raises(BadUserInput) as caught:
        Period.of(START, START)
    assert caught.value.field == "to"
    with pytest.raises(BadUserInput):
        Period.of(START, START + timedelta(days=367))
    recent = Period.or_recent(None, None, START)
    assert recent == Period(START - timedelta(days=30), START)


def test_each_step_converts_from_the_one_before() -> None:
    steps = funnel({"Property View": 4, "Tour Requested": 3, "Tour Scheduled": 2,
                    "Tour Started": 0, "Tour Completed": 0})  # fmt: skip
    assert [(s.count, s.conversion) for s in steps] == [
        (4, None), (3, 0.75), (2, 0.6667), (0, 0.0), (0, None)
    ]  # fmt: skip


def test_local_days_cover_the_period_in_the_zone() -> None:
    new_york = ZoneInfo("America/New_York")
    period = Period.of(START, START + timedelta(days=2))  # midnight to midnight in New York
    assert local_days(period, new_york) == [date(2027, 3, 1), date(2027, 3, 2)]
    assert local_days(period, ZoneInfo("UTC")) == [date(2027, 3, 1), date(2027, 3, 2),
                                                    date(2027, 3, 3)]  # fmt: skip
    assert zone_of("Not/AZone").key == "UTC" and zone_of(None).key == "UTC"


def test_a_dashboard_is_the_realtors_own_or_an_admins_to_see() -> None:
    realtor = uuid.uuid4()
    require_dashboard(Principal(realtor, Role.REALTOR), realtor)
    require_dashboard(Principal(uuid.uuid4(), Role.ADMIN), realtor)
    with pytest.raises(Forbidden):
        require_dashboard(Principal(uuid.uuid4(), Role.REALTOR), realtor)
    with pytest.raises(Forbidden):
        require_dashboard(Principal(realtor, Role.BUYER), realtor)


def test_listing_statistics_are_its_realtors_to_see() -> None:
    owner = uuid.uuid4()
    require_listing_owner(Principal(owner, Role.REALTOR), owner)
    require_listing_owner(Principal(uuid.uuid4(), Role.ADMIN), None)
    with pytest.raises(Forbidden):
        require_listing_owner(Principal(uuid.uuid4(), Role.REALTOR), owner)
    with pytest.raises(Forbidden):
        require_listing_owner(Principal(owner, Role.REALTOR), None)  # a listing not known
