"""Workspace mail goes only to addresses their owners proved: owner reminders, the overdue
digest, incident clocks and notices, moved-date and no-longer-applies notices. An owner who
verifies later gets the reminders held back until then, without anyone doing anything else."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.duty_support import obligations_drop
from tests.factories import UserFactory, acme_organisation
from tracker.accounts.services import email_verify
from tracker.catalogue.services import milestone_amend
from tracker.outbox.models import Message
from tracker.reminders.models import Subscription
from tracker.workspace.mail_settings import owner_key
from tracker.workspace.models import Membership
from tracker.workspace.notifications import incident_reminders, overdue_digests
from tracker.workspace.services import incident_record, item_update, system_save

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
HIGH_RISK = "ai-act-high-risk-annex-iii-apply"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def verified_owner(db):
    return UserFactory(username="verified", email="verified@example.org")


@pytest.fixture
def unverified(db):
    return UserFactory(username="unverified", email="unverified@example.org", verified=False)


@pytest.fixture
def org(verified_owner, unverified, ai_act_catalogue):
    # Each item here is a milestone tracked as a whole; duties: tests/test_duties.py.
    obligations_drop()
    organisation = acme_organisation(verified_owner)
    Membership.objects.create(organisation=organisation, user=unverified, role="owner")
    return organisation


def _item(org, key=HIGH_RISK):
    return org.items.select_related("milestone").get(milestone__key=key)


def _personal(org, user):
    key = owner_key(organisation_id=org.pk, user_id=user.pk)
    return Subscription.objects.filter(owner_key=key).first()


def recipients(kind: str) -> set[str]:
    return set(Message.objects.filter(kind=kind).values_list("to_email", flat=True))


def test_owner_reminders_wait_for_a_verified_address_then_start_by_themselves(org, unverified):
    item_update(item=_item(org), by=unverified, owner=unverified)
    assert _personal(org, unverified) is None

    assert email_verify(user=unverified, email="UNVERIFIED@example.org")

    subscription = _personal(org, unverified)
    assert subscription.email == "unverified@example.org"
    assert subscription.reminders.filter(occurrence=dt.date(2027, 12, 2)).count() == 4


def test_changing_the_address_stops_owner_reminders_until_the_new_one_is_proved(
    org, verified_owner
):
    item_update(item=_item(org), by=verified_owner, owner=verified_owner)
    assert _personal(org, verified_owner).reminders.count() == 4

    verified_owner.email = "new@example.org"
    verified_owner.save()
    item_update(item=_item(org), by=verified_owner, notes="A change that syncs again")

    assert not _personal(org, verified_owner).targets


def test_the_overdue_digest_skips_an_unverified_owner(org, verified_owner, unverified):
    first, second = list(org.items.select_related("milestone").order_by("pk")[:2])
    missed = dt.date(2026, 11, 20)  # a target date the team set and missed
    item_update(item=first, by=verified_owner, owner=verified_owner, target_date=missed)
    item_update(item=second, by=verified_owner, owner=unverified, target_date=missed)

    overdue_digests(now=NOW)

    assert recipients("overdue_digest") == {"verified@example.org"}


def test_incident_mail_reaches_only_verified_people(org, verified_owner, unverified):
    incident = incident_record(
        organisation=org, system=org.systems.get(), kinds=["general"], member_state="FI",
        region="", aware_at=NOW - dt.timedelta(hours=2), description="Outage", owner=unverified,
    )  # fmt: skip
    assert recipients("incident_recorded") == {"verified@example.org"}

    incident_reminders(now=NOW + dt.timedelta(days=1))

    assert recipients("incident_clock") == {"verified@example.org"}
    assert incident.owner == unverified  # still the owner: only the mail waits


def test_moved_and_stopped_notices_skip_an_unverified_owner(
    org, verified_owner, unverified, after_commit
):
    other = acme_organisation(unverified)  # the same CV screener, owned by the unverified one
    item_update(item=_item(org), by=verified_owner, owner=verified_owner, status="in_progress")
    item_update(item=_item(other), by=unverified, owner=unverified, status="in_progress")

    with after_commit():  # the workspace's consumer runs, as a worker would
        milestone_amend(
            milestone=_item(org).milestone, new_date=dt.date(2028, 1, 3),
            amending_act="Regulation (EU) 2099/1", source_url="https://example.org/a",
            confidence="high",
        )  # fmt: skip
    for organisation in (org, other):
        system = organisation.systems.get()
        system.risk_class, system.annex_iii_point = "other", ""
        system_save(system=system)

    assert _item(org).stopped_at is not None and _item(other).stopped_at is not None
    assert recipients("item_moved") == {"verified@example.org"}
    assert recipients("item_stopped") == {"verified@example.org"}
