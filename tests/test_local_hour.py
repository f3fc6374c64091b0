"""A reminder lands on the local day the subscriber chose, in every zone, across DST changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.reminders.models import Subscription
from tracker.reminders.services import due_at_for
from tracker.reminders.validation import timezones

ZONES = sorted(timezones())


def _transition_days(zone: str) -> list[dt.date]:
    """The days of 2026-2028 on which the zone's UTC offset changes (and the day before)."""
    tz = ZoneInfo(zone)
    days, day = [], dt.date(2026, 1, 1)
    while day < dt.date(2029, 1, 1):
        start = dt.datetime.combine(day, dt.time(0), tz).utcoffset()
        end = dt.datetime.combine(day, dt.time(23, 59), tz).utcoffset()
        if start != end:
            days += [day - dt.timedelta(days=1), day]
        day += dt.timedelta(days=1)
    return days or [dt.date(2027, 3, 28)]


@st.composite
def zone_day_hour(draw):
    zone = draw(st.sampled_from(ZONES))
    day = draw(st.sampled_from(_transition_days(zone)))
    return zone, day, draw(st.integers(min_value=0, max_value=23))


@settings(max_examples=600, deadline=None)
@given(zone_day_hour())
def test_a_reminder_lands_on_the_chosen_local_day(case):
    zone, day, hour = case
    subscription = Subscription(timezone=zone, send_hour=hour)

    due = due_at_for(subscription=subscription, day=day)

    local = due.astimezone(ZoneInfo(zone))
    assert local.date() == day
    assert abs(local.hour - hour) <= 1 or local.hour == 23  # shifted only by a gap


def test_nuuk_before_the_spring_change_keeps_saturday():
    subscription = Subscription(timezone="America/Nuuk", send_hour=23)

    due = due_at_for(subscription=subscription, day=dt.date(2027, 3, 27))

    assert due.astimezone(ZoneInfo("America/Nuuk")).date() == dt.date(2027, 3, 27)


def test_brussels_keeps_its_usual_instants():
    summer = Subscription(timezone="Europe/Brussels", send_hour=9)
    assert due_at_for(subscription=summer, day=dt.date(2027, 7, 1)) == dt.datetime(
        2027, 7, 1, 7, tzinfo=dt.UTC
    )
    assert due_at_for(subscription=summer, day=dt.date(2027, 3, 28)) == dt.datetime(
        2027, 3, 28, 7, tzinfo=dt.UTC
    )
