"""Rules about one milestone: occurrences, constraints, validation."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from tests.factories import MilestoneFactory
from tracker.catalogue.models import Milestone

pytestmark = pytest.mark.django_db


def test_a_recurring_milestone_yields_its_next_occurrences():
    review = MilestoneFactory.build(kind="recurring", date=dt.date(2028, 8, 2), every_months=48)

    assert review.occurrences(start=dt.date(2029, 1, 1), count=2) == [
        dt.date(2032, 8, 2),
        dt.date(2036, 8, 2),
    ]


def test_a_recurring_milestone_stops_at_its_last_date():
    report = MilestoneFactory.build(
        kind="recurring", date=dt.date(2025, 8, 2), every_months=24, until=dt.date(2029, 12, 31)
    )

    assert report.occurrences(start=dt.date(2026, 1, 1), count=5) == [
        dt.date(2027, 8, 2),
        dt.date(2029, 8, 2),
    ]


def test_a_fixed_milestone_in_the_past_has_no_next_date():
    milestone = MilestoneFactory.build(date=dt.date(2025, 2, 2))

    assert milestone.next_date(dt.date(2025, 2, 2)) == dt.date(2025, 2, 2)
    assert milestone.next_date(dt.date(2025, 2, 3)) is None


def test_month_end_recurrences_stay_on_the_last_day():
    milestone = MilestoneFactory.build(kind="recurring", date=dt.date(2025, 1, 31), every_months=1)

    assert milestone.occurrences(start=dt.date(2025, 1, 1), count=3) == [
        dt.date(2025, 1, 31), dt.date(2025, 2, 28), dt.date(2025, 3, 31),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"kind": "fixed", "date": None}, "milestone_dated_kinds_have_a_date"),
        ({"kind": "relative", "offset_days": None, "date": None, "trigger": "x"},
         "milestone_relative_has_offset_and_no_date"),
        ({"kind": "recurring", "every_months": None}, "milestone_recurring_has_a_period"),
    ],
)  # fmt: skip
def test_the_database_refuses_an_inconsistent_milestone(fields, constraint):
    with pytest.raises(IntegrityError, match=constraint):
        MilestoneFactory(**fields)


def test_clean_explains_what_a_relative_milestone_needs():
    milestone = MilestoneFactory.build(kind="relative", date=dt.date(2025, 1, 1))

    with pytest.raises(ValidationError) as caught:
        milestone.clean()

    assert caught.value.message_dict == {
        "date": ["A relative milestone has no calendar date."],
        "offset_days": ["A relative milestone needs its offset in days."],
        "trigger": ["A relative milestone needs the event that starts the clock."],
    }


def test_kinds_are_the_three_the_product_promises():
    assert Milestone.Kind.values == ["fixed", "recurring", "relative"]
