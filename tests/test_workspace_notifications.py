"""What owners hear: reminders for their items, weekly overdue digests, incident clocks, moves."""

import datetime as dt

import pytest
import time_machine

from tests.duty_support import obligations_drop
from tests.factories import UserFactory, acme_organisation
from tracker.catalogue.models import Milestone
from tracker.catalogue.services import milestone_amend
from tracker.outbox.models import Message
from tracker.reminders.models import Subscription
from tracker.reminders.services import reminders_sweep
from tracker.workspace.mail_settings import owner_key
from tracker.workspace.models import Incident
from tracker.workspace.notifications import incident_reminders, overdue_digests
from tracker.workspace.services import (
    item_update,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def owner(db):
    return UserFactory(username="owner", email="owner@example.org")


@pytest.fixture
def org(owner, ai_act_catalogue):
    # Each item here is a milestone tracked as a whole; duties: tests/test_duties.py.
    obligations_drop()
    return acme_organisation(owner)


def _owner_subscription(org, owner):
    return Subscription.objects.get(owner_key=owner_key(organisation_id=org.pk, user_id=owner.pk))


def _item(org, key):
    return org.items.select_related("milestone").get(milestone__key=key)


def test_an_owner_gets_reminders_for_the_items_they_own_until_done(org, owner):
    item = _item(org, "ai-act-high-risk-annex-iii-apply")

    item_update(item=item, by=owner, owner=owner)

    subscription = _owner_subscription(org, owner)
    planned = sorted(subscription.reminders.values_list("occurrence", "lead_days"))
    assert planned == [(dt.date(2027, 12, 2), lead) for lead in (1, 7, 30, 90)]

    item_update(item=item, by=owner, status="done")

    assert subscription.reminders.filter(status="pending").count() == 0


def test_the_owners_reminder_arrives_through_the_engine(org, owner):
    item_update(item=_item(org, "ai-act-high-risk-annex-iii-apply"), by=owner, owner=owner)

    reminders_sweep(now=dt.datetime(2027, 9, 3, 9, tzinfo=dt.UTC))  # 90 days before, 10:00 CEST

    message = Message.objects.get(kind="reminders")
    assert message.to_email == "owner@example.org"
    assert "High-risk obligations apply to Annex III systems" in message.body_text


def test_a_weekly_digest_lists_overdue_items_once_a_week(org, owner):
    item = _item(org, "ai-act-high-risk-annex-iii-apply")
    item_update(item=item, by=owner, owner=owner, target_date=dt.date(2026, 11, 20))

    first = overdue_digests(now=NOW)
    again = overdue_digests(now=NOW + dt.timedelta(days=2))  # same week
    next_week = overdue_digests(now=NOW + dt.timedelta(days=7))

    assert (first, again, next_week) == (1, 0, 1)
    digest = Message.objects.filter(kind="overdue_digest").first()
    assert digest.subject == "1 overdue compliance item"
    assert "7 days late" in digest.body_text


def test_no_digest_once_the_item_is_done(org, owner):
    item = _item(org, "ai-act-high-risk-annex-iii-apply")
    item_update(item=item, by=owner, owner=owner, target_date=dt.date(2026, 11, 20), status="done")

    assert overdue_digests(now=NOW) == 0


def test_an_incident_owner_is_reminded_daily_until_it_is_reported(org, owner):
    incident = Incident.objects.create(
        organisation=org, system=org.systems.get(), kinds=["general"], owner=owner,
        aware_at=dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC),
    )  # fmt: skip

    today = incident_reminders(now=NOW)
    same_day = incident_reminders(now=NOW + dt.timedelta(hours=3))
    tomorrow = incident_reminders(now=NOW + dt.timedelta(days=1))
    Incident.objects.filter(pk=incident.pk).update(reported_at=NOW)
    after = incident_reminders(now=NOW + dt.timedelta(days=2))

    assert (today, same_day, tomorrow, after) == (1, 0, 1, 0)
    message = Message.objects.filter(kind="incident_clock").first()
    # Aware on Wednesday 25 November: 15 days ends on Thursday 10 December. No Member State
    # was recorded, so it is counted in the server's zone, and the email says so.
    assert message.subject == (
        "Report the incident on CV screener immediately, at the latest by 10 December, 23:59 "
        "Europe/Brussels time"
    )


def test_a_moved_date_flags_the_item_and_tells_its_owner(org, owner, after_commit):
    item = _item(org, "ai-act-high-risk-annex-iii-apply")
    item_update(item=item, by=owner, owner=owner)
    editor = UserFactory(username="ed", is_staff=True, is_superuser=True)

    with after_commit():
        milestone_amend(
            milestone=Milestone.objects.get(key="ai-act-high-risk-annex-iii-apply"),
            new_date=dt.date(2028, 2, 1), amending_act="Regulation (EU) 2099/1",
            source_url="https://example.org", confidence="low", recorded_by=editor,
        )  # fmt: skip

    item.refresh_from_db()
    assert item.changed_in_catalogue is True
    notice = Message.objects.get(kind="item_moved")
    assert notice.to_email == "owner@example.org"
    assert not Message.objects.filter(kind="date_moved").exists()  # told once, not twice
    assert "Was: 2 December 2027" in notice.body_text
    # and the owner's reminders moved with the date
    subscription = _owner_subscription(org, owner)
    assert set(subscription.reminders.values_list("occurrence", flat=True)) == {dt.date(2028, 2, 1)}


def test_an_owner_sets_their_own_lead_times_time_zone_and_hour(client, org, owner):
    from django.urls import reverse

    item_update(item=_item(org, "ai-act-high-risk-annex-iii-apply"), by=owner, owner=owner)
    client.force_login(owner)
    url = reverse("workspace:my_reminders", kwargs={"slug": org.slug})

    bad = client.post(url, {"lead_days": "soon", "timezone": "Mars/Base", "send_hour": "8"})
    good = client.post(
        url, {"enabled": "on", "lead_days": "14", "timezone": "America/New_York", "send_hour": "8"}
    )

    assert bad.status_code == 400
    assert good.status_code == 200
    subscription = _owner_subscription(org, owner)
    (reminder,) = subscription.reminders.all()
    # 14 days before 2 December 2027, at 08:00 in New York (EST, UTC-5)
    assert reminder.due_at == dt.datetime(2027, 11, 18, 13, tzinfo=dt.UTC)
