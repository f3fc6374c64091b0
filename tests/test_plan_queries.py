"""Reminder planning is set-based: the same statements for one milestone or many, for a first
planning or a repeat, and no COUNT of the subscriber's reminders."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tracker.catalogue.models import Milestone, Regulation
from tracker.reminders.models import Digest, Reminder, Subscription
from tracker.reminders.services import reminders_plan

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 30)
NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)


def _subscriber_of(milestones: int, *, key: str, **fields) -> Subscription:
    regulation = Regulation.objects.create(
        key=key, short_name=key, title=key, source_url="https://example.org"
    )
    for n in range(milestones):
        Milestone.objects.create(
            regulation=regulation, key=f"{key}-{n}", title=f"Deadline {n}",
            date=TODAY + dt.timedelta(days=100 + n), category="application",
            status="in_force", confidence="high", legal_basis="Art. 113",
            source_url="https://example.org", verified_on=dt.date(2026, 11, 27),
        )  # fmt: skip
    return Subscription.objects.create(
        email=f"{key}@example.org", status="active", regulation=regulation,
        lead_days=[90, 30, 7, 1], **fields,
    )  # fmt: skip


def _plan(subscription) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        created = reminders_plan(subscription=subscription, today=TODAY, now=NOW)
    return created, [q["sql"] for q in queries.captured_queries]


def test_planning_runs_the_same_statements_for_one_milestone_or_twelve():
    one, twelve = _subscriber_of(1, key="one"), _subscriber_of(12, key="twelve")

    created_one, sql_one = _plan(one)
    created_twelve, sql_twelve = _plan(twelve)

    assert (created_one, created_twelve) == (4, 48)
    assert len(sql_one) == len(sql_twelve)
    assert not any("COUNT(" in sql.upper() for sql in sql_one + sql_twelve)
    assert Reminder.objects.filter(subscription=twelve).count() == 48


def test_planning_again_creates_nothing_and_runs_no_more_statements():
    subscription = _subscriber_of(5, key="again")
    _, first = _plan(subscription)
    Reminder.objects.filter(subscription=subscription).first().delete()  # one gone, say

    created, again = _plan(subscription)
    created_last, last = _plan(subscription)

    assert (created, created_last) == (1, 0)
    assert len(again) == len(first)
    assert len(last) <= len(first)  # nothing new: the INSERT is left out
    assert Reminder.objects.filter(subscription=subscription).count() == 20


def test_a_weekly_digest_subscriber_gets_one_digest_without_counting():
    subscription = _subscriber_of(3, key="digest", weekly_digest=True)

    created, first = _plan(subscription)
    created_again, again = _plan(subscription)

    assert (created, created_again) == (1, 0)
    assert not any("COUNT(" in sql.upper() for sql in first + again)
    assert Digest.objects.filter(subscription=subscription).count() == 1
    assert not Reminder.objects.filter(subscription=subscription).exists()
