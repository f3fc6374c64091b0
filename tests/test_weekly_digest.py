"""The weekly digest: one email a week instead of single reminders, unique per week."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache

from tracker.catalogue.models import Regulation
from tracker.outbox.models import Message
from tracker.reminders.models import Digest, Reminder, Subscription
from tracker.reminders.selectors import subscription_summary
from tracker.reminders.services import reminders_plan, reminders_plan_all
from tracker.reminders.subscriptions import Preferences, subscription_confirm, subscription_update
from tracker.reminders.tasks import reminders_sweep_task

pytestmark = pytest.mark.django_db

UTC = dt.UTC
WEDNESDAY = dt.datetime(2027, 10, 27, 10, tzinfo=UTC)
# Mondays; Brussels is on winter time (UTC+1) from 31 October 2027: 09:00 local is 08:00 UTC.
FIRST_MONDAY = dt.date(2027, 11, 1)
SECOND_MONDAY = dt.date(2027, 11, 8)


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()


@pytest.fixture
def digest_subscriber(loaded_small_pack):
    subscription = Subscription.objects.create(
        email="ada@example.org", regulation=Regulation.objects.get(key="test-act"),
        lead_days=[30, 7], timezone="Europe/Brussels", send_hour=9, weekly_digest=True,
    )  # fmt: skip
    with time_machine.travel(WEDNESDAY, tick=False):
        subscription_confirm(subscription=subscription)
    return subscription


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), UTC)


def _sweep(when: dt.datetime) -> None:
    with time_machine.travel(when, tick=True):
        reminders_sweep_task()


def _plan(when: dt.datetime) -> int:
    with time_machine.travel(when, tick=False):
        return reminders_plan_all(now=when)


def test_a_digest_subscriber_gets_one_digest_a_week_and_no_single_reminders(
    digest_subscriber, smtp_server, eager_celery
):
    # Confirmed on a Wednesday: the next Monday's digest is planned, no single reminder.
    assert list(digest_subscriber.digests.values_list("week", "due_at")) == [
        (FIRST_MONDAY, _at(FIRST_MONDAY, 8))
    ]
    assert Reminder.objects.count() == 0

    # 1 November: nothing falls due within 30 days (high-risk is on 2 December): no email.
    _sweep(_at(FIRST_MONDAY, 8, 1))
    assert smtp_server.messages == []
    assert digest_subscriber.digests.get().status == Digest.Status.EMPTY

    # The daily walk plans the next week's digest once, however often it runs.
    assert _plan(_at(FIRST_MONDAY, 9)) == 0
    assert _plan(_at(FIRST_MONDAY + dt.timedelta(days=1), 2)) == 1
    assert _plan(_at(FIRST_MONDAY + dt.timedelta(days=2), 2)) == 0

    # 8 November, before 09:00 in Brussels: not yet; at 09:00: one digest.
    _sweep(_at(SECOND_MONDAY, 7, 59))
    assert smtp_server.messages == []
    _sweep(_at(SECOND_MONDAY, 8, 0))
    _sweep(_at(SECOND_MONDAY, 8, 1))  # a second sweep sends nothing more
    assert _plan(_at(SECOND_MONDAY, 9)) == 0

    [digest] = smtp_server.messages
    assert digest["To"] == "ada@example.org"
    assert digest["Subject"] == "Your weekly Jalon digest: 1 deadline ahead"
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = digest.get_payload()[0].get_payload(decode=True).decode().replace("\r\n", "\n")
    assert "High-risk obligations apply\n  Due: 2 December 2027 (24 days left)" in text
    assert "The Commission reviews the Act" not in text  # August 2028: beyond 30 days
    assert Message.objects.filter(kind="reminders").count() == 0
    assert Reminder.objects.count() == 0


def test_a_digest_row_is_unique_per_subscriber_and_week(digest_subscriber):
    with time_machine.travel(WEDNESDAY, tick=False):
        for _ in range(3):
            assert reminders_plan(subscription=digest_subscriber, today=WEDNESDAY.date()) == 0
        assert reminders_plan_all(now=WEDNESDAY) == 0
    assert Digest.objects.count() == 1


def test_choosing_the_digest_replaces_pending_reminders_and_back(loaded_small_pack):
    subscription = Subscription.objects.create(
        email="bob@example.org", regulation=Regulation.objects.get(key="test-act"),
        lead_days=[30, 7], timezone="Europe/Brussels",
    )  # fmt: skip
    regulation = Regulation.objects.get(key="test-act")
    with time_machine.travel(WEDNESDAY, tick=False):
        subscription_confirm(subscription=subscription)
        assert subscription.reminders.count() > 0

        digest = Preferences(regulation=regulation, lead_days=[30, 7], weekly_digest=True)
        subscription_update(subscription=subscription, preferences=digest)
        assert (subscription.reminders.count(), subscription.digests.count()) == (0, 1)

        single = Preferences(regulation=regulation, lead_days=[30, 7])
        subscription_update(subscription=subscription, preferences=single)
        assert subscription.reminders.count() > 0
        assert subscription.digests.count() == 0


def test_the_summary_names_the_first_digest_with_something_to_list(digest_subscriber):
    summary = subscription_summary(subscription=digest_subscriber, today=WEDNESDAY.date())

    assert summary.weekly_digest
    assert (summary.followed, summary.next_day, summary.next_titles) == (
        2, SECOND_MONDAY, ["High-risk obligations apply"],
    )  # fmt: skip


def test_a_digest_needs_a_lead_time_of_a_week_in_the_form_and_the_api(client, loaded_small_pack):
    form = client.post("/subscriptions/", {
        "email": "ada@example.org", "regulation": "test-act", "lead_days": "3, 1",
        "weekly_digest": "on", "language": "en", "timezone": "Europe/Brussels", "send_hour": "9",
    })  # fmt: skip
    api = client.post(
        "/api/v1/subscriptions/",
        {"email": "ada@example.org", "regulation": "test-act", "lead_days": [3, 1],
         "weekly_digest": True},
        content_type="application/json",
    )  # fmt: skip

    assert form.status_code == 400
    assert "A weekly digest needs a lead time of at least 7 days" in form.content.decode()
    assert api.status_code == 400
    assert "at least 7 days" in api.json()["weekly_digest"][0]
    assert Subscription.objects.count() == 0


def test_the_digest_choice_is_saved_from_the_subscribe_form(client, loaded_small_pack):
    response = client.post("/subscriptions/", {
        "email": "ada@example.org", "regulation": "test-act", "lead_days": "30, 7",
        "weekly_digest": "on", "language": "en", "timezone": "Europe/Brussels", "send_hour": "9",
    })  # fmt: skip

    assert response.status_code == 302
    assert Subscription.objects.get().weekly_digest is True
