"""A deadline nearer than a lead time already missed: one "coming up" reminder on the next
sweep after confirmation, then the usual reminders, at a real SMTP server."""

import datetime as dt
import re

import pytest
import time_machine
from django.core.cache import cache

from tracker.catalogue.models import Milestone
from tracker.outbox.models import Message
from tracker.reminders.models import Reminder, Subscription
from tracker.reminders.services import reminders_plan, reminders_plan_all
from tracker.reminders.subscriptions import Preferences, subscription_update
from tracker.reminders.tasks import reminders_sweep_task

pytestmark = pytest.mark.django_db

UTC = dt.UTC
# test-high-risk (tests/packs/small.yaml) falls on 2 December 2027.
THREE_DAYS_BEFORE = dt.datetime(2027, 11, 29, 10, 0, tzinfo=UTC)  # 11:00 in Brussels


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()


def _text(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text part")


def _subscribe_and_confirm(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/subscriptions/",
            {"email": "ada@example.org", "regulation": "", "milestones": ["test-high-risk"],
             "lead_days": "30, 7, 1", "language": "en", "timezone": "Europe/Brussels",
             "send_hour": "9"},
        )  # fmt: skip
    assert response.status_code == 302, response.content
    confirmation = Message.objects.get(kind="confirmation")
    confirm_url = re.search(r"http://\S+(/subscriptions/confirm/\S+/)", confirmation.body_text)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(confirm_url.group(1)).status_code == 200
    return Subscription.objects.get(email="ada@example.org")


def test_confirmed_three_days_before_one_coming_up_on_the_next_sweep_then_the_one_day_reminder(
    client, loaded_small_pack, smtp_server, eager_celery, django_capture_on_commit_callbacks
):
    with time_machine.travel(THREE_DAYS_BEFORE, tick=True):
        subscription = _subscribe_and_confirm(client, django_capture_on_commit_callbacks)
        # Nothing is sent inside the request: only the confirmation reached the server.
        assert [m["Subject"] for m in smtp_server.messages] == [
            "Confirm your Jalon deadline reminders"
        ]
        assert not Message.objects.filter(kind="reminders").exists()

    with time_machine.travel(THREE_DAYS_BEFORE + dt.timedelta(minutes=1), tick=True):
        reminders_sweep_task()
    reminders = smtp_server.messages[1:]
    assert len(reminders) == 1
    assert reminders[0]["To"] == "ada@example.org"
    assert reminders[0]["Subject"] == "High-risk obligations apply: 3 days left"
    body = _text(reminders[0])
    assert "Coming up: you started following this deadline after its usual reminders" in body
    assert "late" not in body

    # Sweeping again, and the daily planning walk, send or plan nothing more for it.
    with time_machine.travel(THREE_DAYS_BEFORE + dt.timedelta(minutes=2), tick=True):
        assert reminders_plan_all(now=dt.datetime.now(tz=UTC)) == 0
        reminders_sweep_task()
    with time_machine.travel(dt.datetime(2027, 11, 30, 12, tzinfo=UTC), tick=True):
        assert reminders_plan_all(now=dt.datetime.now(tz=UTC)) == 0
        reminders_sweep_task()
    assert len(smtp_server.messages) == 2

    # One day before, at 09:00 in Brussels (08:00 UTC), the 1-day reminder arrives as usual.
    with time_machine.travel(dt.datetime(2027, 12, 1, 7, 59, tzinfo=UTC), tick=True):
        reminders_sweep_task()
    assert len(smtp_server.messages) == 2
    with time_machine.travel(dt.datetime(2027, 12, 1, 8, 0, 30, tzinfo=UTC), tick=True):
        reminders_sweep_task()
    assert len(smtp_server.messages) == 3
    last = smtp_server.messages[2]
    assert last["Subject"] == "High-risk obligations apply: 1 day left"
    assert "Coming up" not in _text(last)
    assert sorted(subscription.reminders.values_list("lead_days", "status")) == [
        (1, "queued"),
        (7, "queued"),
    ]


@pytest.fixture
def subscriber(loaded_small_pack):
    subscription = Subscription.objects.create(
        email="bob@example.org", status=Subscription.Status.ACTIVE,
        lead_days=[30, 7, 1], timezone="Europe/Brussels", send_hour=9,
    )  # fmt: skip
    subscription.milestones.set([Milestone.objects.get(key="test-high-risk")])
    return subscription


def _rows(subscription):
    return sorted(subscription.reminders.values_list("lead_days", "due_at"))


@pytest.mark.parametrize(
    ("today", "expected_leads", "coming_up"),
    [
        (dt.date(2027, 10, 1), [30, 7, 1], None),  # far enough: every lead time ahead
        (dt.date(2027, 11, 29), [7, 1], 7),  # 3 days: the 7-day one at once, the 1-day later
        (dt.date(2027, 11, 20), [30, 7, 1], 30),  # 12 days: the 30-day one at once
        (dt.date(2027, 11, 25), [7, 1], None),  # the 7-day reminder falls today anyway
        (dt.date(2027, 12, 2), [1], 1),  # the day itself: nearer than every lead time
    ],
)
def test_planning_adds_one_coming_up_reminder_only_when_a_lead_time_was_missed(
    subscriber, today, expected_leads, coming_up
):
    now = dt.datetime.combine(today, dt.time(10), UTC)

    reminders_plan(subscription=subscriber, today=today, now=now)

    rows = _rows(subscriber)
    assert [lead for lead, _ in rows] == sorted(expected_leads)
    at_once = [lead for lead, due_at in rows if due_at == now]
    assert at_once == ([coming_up] if coming_up else [])


def test_planning_again_on_later_days_never_doubles_the_coming_up_reminder(subscriber):
    first = dt.datetime(2027, 11, 29, 10, tzinfo=UTC)
    assert reminders_plan(subscription=subscriber, today=first.date(), now=first) == 2
    Reminder.objects.filter(lead_days=7).update(status=Reminder.Status.QUEUED)

    for days in (0, 1, 2):
        later = first + dt.timedelta(days=days, hours=1)
        assert reminders_plan(subscription=subscriber, today=later.date(), now=later) == 0

    # Changing preferences plans again from scratch; the coming-up one already went out.
    with time_machine.travel(first + dt.timedelta(days=1), tick=False):
        subscription_update(
            subscription=subscriber,
            preferences=Preferences(
                milestones=[Milestone.objects.get(key="test-high-risk")], lead_days=[30, 7, 1]
            ),
        )
    assert sorted(subscriber.reminders.values_list("lead_days", "status")) == [
        (1, "pending"), (7, "queued"),
    ]  # fmt: skip
