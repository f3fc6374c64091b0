"""Overlapping sweeps never split a subscriber's day into two emails (issue 13: the sweep asks
for a helper sweep when much is due). A sweep claims subscribers, not reminders: one that
another sweep holds is skipped whole, and its reminders go out together later. PostgreSQL
only: it needs two real connections (SQLite has one writer, so sweeps cannot overlap there).
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction

from tracker.catalogue.models import Milestone, Regulation
from tracker.outbox.models import Message
from tracker.reminders.models import Reminder, Subscription
from tracker.reminders.services import reminders_sweep

pytestmark = pytest.mark.django_db(transaction=True)

UTC = dt.UTC
NOW = dt.datetime(2027, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs two real concurrent database connections: runs in the PostgreSQL pass "
            "(JALON_TEST_DB=postgres)"
        )


def _milestones(n: int) -> list[Milestone]:
    regulation = Regulation.objects.create(
        key="act", short_name="Act", title="Act", source_url="https://example.org"
    )
    return [
        Milestone.objects.create(
            regulation=regulation,
            key=f"m{i}",
            title=f"Deadline {i}",
            date=dt.date(2027, 11, 9),
            category="application",
            status="in_force",
            confidence="high",
            legal_basis="Art. 113",
            source_url="https://example.org",
        )
        for i in range(n)
    ]


def _subscriber(email: str, milestones: list[Milestone]) -> Subscription:
    subscription = Subscription.objects.create(email=email, status="active")
    for milestone in milestones:
        Reminder.objects.create(
            subscription=subscription, milestone=milestone, occurrence=milestone.date,
            lead_days=7, due_at=NOW - dt.timedelta(minutes=1),
        )  # fmt: skip
    return subscription


def test_a_subscriber_another_sweep_holds_is_skipped_whole_then_sent_in_one_email():
    milestones = _milestones(3)
    held = _subscriber("held@example.org", milestones)
    _subscriber("free@example.org", milestones[:2])
    holding, release, done = threading.Event(), threading.Event(), threading.Event()

    def other_sweep_holds_the_subscriber():
        try:
            with transaction.atomic():
                Subscription.objects.select_for_update().get(pk=held.pk)
                holding.set()
                release.wait(timeout=20)
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=other_sweep_holds_the_subscriber)
    thread.start()
    assert holding.wait(timeout=10)
    try:
        during = reminders_sweep(now=NOW)
    finally:
        release.set()
        done.wait(timeout=20)
        thread.join(timeout=5)
    after = reminders_sweep(now=NOW)

    by_address = {m.to_email: m.reminders.count() for m in Message.objects.all()}
    assert (len(during.message_ids), len(after.message_ids)) == (1, 1)
    assert by_address == {"free@example.org": 2, "held@example.org": 3}  # one email each
    assert not Reminder.objects.filter(status="pending").exists()
