"""Owners' reminders come from the reminder engine through its one public function: they count
down to the owner's own target date (and say the legal date), can be turned back on after an
unsubscribe, and every recurring workspace email can be stopped from its own link.

Also: what is queued when a date moves stops being sent, and a worker's lease is renewed."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from tests.factories import UserFactory, acme_organisation
from tracker.catalogue.models import Milestone
from tracker.catalogue.services import milestone_amend
from tracker.outbox import services as outbox
from tracker.outbox.models import Message
from tracker.reminders.models import Reminder, Subscription
from tracker.reminders.services import reminders_plan, reminders_sweep
from tracker.workspace.mail_settings import owner_key
from tracker.workspace.models import Incident, OwnerReminders
from tracker.workspace.notifications import incident_reminders, overdue_digests
from tracker.workspace.services import item_update

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
HIGH_RISK = "ai-act-high-risk-annex-iii-apply"  # 2 December 2027


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def owner(db):
    return UserFactory(username="owner", email="owner@example.org")


@pytest.fixture
def org(owner, ai_act_catalogue):
    return acme_organisation(owner)


def _item(org, key=HIGH_RISK):
    return org.items.select_related("milestone").get(milestone__key=key)


def _personal(org, owner):
    return Subscription.objects.get(owner_key=owner_key(organisation_id=org.pk, user_id=owner.pk))


def _link(text, name):
    return re.search(rf"{name}: (http\S+)", text).group(1)


def test_owner_reminders_count_down_to_the_target_date_and_say_the_legal_date(org, owner):
    item_update(item=_item(org), by=owner, owner=owner, target_date=dt.date(2027, 10, 1))

    planned = sorted(_personal(org, owner).reminders.values_list("occurrence", "lead_days"))
    assert planned == [(dt.date(2027, 10, 1), lead) for lead in (1, 7, 30, 90)]
    reminders_sweep(now=dt.datetime(2027, 9, 1, 9, tzinfo=dt.UTC))  # 30 days before, 11:00 CEST

    message = Message.objects.get(kind="reminders")
    assert "Due: 1 October 2027 (30 days left)" in message.body_text
    assert "Legal date: 2 December 2027" in message.body_text
    assert "because you own these items in a Jalon workspace" in message.body_text
    assert _link(message.body_text, "Manage your preferences").endswith(
        f"/w/{org.slug}/my-reminders/"
    )


def test_an_owner_who_unsubscribed_turns_owner_reminders_back_on(client, org, owner):
    item_update(item=_item(org), by=owner, owner=owner)
    reminders_sweep(now=dt.datetime(2027, 9, 3, 9, tzinfo=dt.UTC))
    message = Message.objects.get(kind="reminders")
    one_click = message.headers["List-Unsubscribe"].strip("<>")

    client.post(one_click, "List-Unsubscribe=One-Click", content_type="text/plain")

    subscription = _personal(org, owner)
    assert subscription.status == "unsubscribed"
    assert not subscription.reminders.filter(status="pending").exists()
    client.force_login(owner)
    url = reverse("workspace:my_reminders", kwargs={"slug": org.slug})
    assert "Your deadline reminders are off since" in client.get(url).content.decode()

    response = client.post(url, {"enabled": "on", "lead_days": "30, 7", "send_hour": "9",
                                 "timezone": "Europe/Brussels"})  # fmt: skip

    assert response.status_code == 200
    subscription.refresh_from_db()
    assert subscription.status == "active"
    pending = subscription.reminders.filter(status="pending")
    assert sorted(pending.values_list("lead_days", flat=True)) == [7, 30]


def test_a_recurring_workspace_email_can_be_stopped_from_its_link_and_turned_back_on(
    client, org, owner
):
    item_update(item=_item(org), by=owner, owner=owner, target_date=dt.date(2026, 11, 20))
    overdue_digests(now=NOW)
    digest = Message.objects.get(kind="overdue_digest")
    assert digest.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert _link(digest.body_text, "Your email settings").endswith(f"/w/{org.slug}/my-reminders/")
    stop = _link(digest.body_text, "Stop these emails")
    assert digest.headers["List-Unsubscribe"] == f"<{stop}>"

    assert client.get(stop).status_code == 200  # a link scanner's GET changes nothing
    assert overdue_digests(now=NOW + dt.timedelta(days=7)) == 1
    assert client.post(stop).status_code == 200

    assert OwnerReminders.objects.get(user=owner).overdue_digest is False
    assert overdue_digests(now=NOW + dt.timedelta(days=14)) == 0
    client.force_login(owner)
    client.post(reverse("workspace:my_reminders", kwargs={"slug": org.slug}),
                {"enabled": "on", "lead_days": "7", "timezone": "Europe/Brussels",
                 "send_hour": "9", "overdue_digest": "on"})  # fmt: skip
    assert overdue_digests(now=NOW + dt.timedelta(days=21)) == 1


def test_incident_reminders_stop_from_their_link_in_that_organisation_only(client, org, owner):
    Incident.objects.create(
        organisation=org, system=org.systems.get(), kinds=["general"], owner=owner,
        aware_at=dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC),
    )  # fmt: skip
    incident_reminders(now=NOW)
    message = Message.objects.get(kind="incident_clock")

    client.post(message.headers["List-Unsubscribe"].strip("<>"))

    assert incident_reminders(now=NOW + dt.timedelta(days=1)) == 0
    assert OwnerReminders.objects.get(organisation=org, user=owner).incident_clock is False


def test_a_forged_stop_link_is_refused(client):
    response = client.post(reverse("workspace:mail_stop", kwargs={"token": "forged"}))
    assert response.status_code == 404


# When a date moves, what is queued stops being true ---------------------------------------------


@pytest.fixture
def follower(loaded_small_pack):
    milestone = Milestone.objects.get(key="test-high-risk")
    subscription = Subscription.objects.create(
        email="ada@example.org", status="active", timezone="UTC", send_hour=0, lead_days=[7, 1]
    )
    subscription.milestones.add(milestone)
    return subscription, milestone


def test_a_queued_reminder_with_the_old_date_is_withdrawn_when_the_date_moves(
    follower, editor, after_commit
):
    subscription, milestone = follower
    old_date = milestone.date
    day = old_date - dt.timedelta(days=7)
    with time_machine.travel(dt.datetime.combine(day, dt.time(12), dt.UTC), tick=False):
        reminders_plan(subscription=subscription, today=day)
        report = reminders_sweep(now=dt.datetime.combine(day, dt.time(1), dt.UTC))
        (old,) = Message.objects.filter(pk__in=report.message_ids)
        # deferred by the server (451): queued again for later
        Message.objects.filter(pk=old.pk).update(next_attempt_at=NOW + dt.timedelta(days=999))
        with after_commit():
            milestone_amend(
                milestone=milestone, new_date=day + dt.timedelta(days=1),
                amending_act="Regulation (EU) 2099/1", source_url="https://example.org/a",
                confidence="high", recorded_by=editor,
            )  # fmt: skip
        old.refresh_from_db()
        assert old.status == "cancelled"
        assert "moved" in old.last_error
        reminders_sweep(now=dt.datetime.combine(day, dt.time(12), dt.UTC))

    fresh = Message.objects.get(kind="reminders", status="queued")
    new_date = (day + dt.timedelta(days=1)).strftime("%-d %B %Y")
    assert f"Due: {new_date}" in fresh.body_text
    assert Message.objects.filter(kind="date_moved").count() == 1
    assert Reminder.objects.filter(occurrence=old_date).count() == 0


def test_a_notice_overtaken_by_a_later_move_is_withdrawn(
    follower, editor, after_commit, monkeypatch
):
    _, milestone = follower
    monkeypatch.setattr(outbox, "messages_dispatch", lambda ids: None)  # nothing sent yet
    for new_date in (dt.date(2028, 3, 1), dt.date(2028, 6, 1)):
        with after_commit():
            milestone_amend(
                milestone=Milestone.objects.get(pk=milestone.pk), new_date=new_date,
                amending_act="Regulation (EU) 2099/1", source_url="https://example.org/a",
                confidence="high", recorded_by=editor,
            )  # fmt: skip

    first, second = Message.objects.filter(kind="date_moved").order_by("pk")
    assert (first.status, second.status) == ("cancelled", "queued")
    assert "Superseded" in first.last_error
    assert "1 June 2028" in second.body_text


# The outbox's lease -----------------------------------------------------------------------------


def test_a_worker_renews_the_lease_of_what_it_still_holds():
    ids = [
        outbox.send(to=f"u{n}@example.org", kind="test", subject="s", text="t").pk for n in range(3)
    ]
    won = outbox._claim(ids, NOW)
    assert won == ids
    # The sweep took one back (its lease ran out while this worker was stuck).
    Message.objects.filter(pk=ids[0]).update(status="queued", lease_until=None)

    with time_machine.travel(NOW + dt.timedelta(seconds=60), tick=False):
        held, lease = outbox._renew(ids)

    assert held == ids[1:]
    assert lease == NOW + dt.timedelta(seconds=60) + outbox.LEASE
    assert set(Message.objects.filter(pk__in=held).values_list("lease_until", flat=True)) == {lease}
