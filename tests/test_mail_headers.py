"""What every email says about itself: plain-text subjects, RFC 3834 Auto-Submitted,
Content-Language and, on list mail, the RFC 8058 unsubscribe headers; and who the throttle
counts a request against."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone

from tracker.catalogue.models import Milestone, MilestoneChange
from tracker.outbox.services import SUBJECT_MAX, subject_line
from tracker.reminders.changes import _notice
from tracker.reminders.emails import subscriber_message
from tracker.reminders.models import Reminder, Subscription
from tracker.reminders.services import message_for_reminders
from tracker.workspace.notifications import workspace_message

pytestmark = pytest.mark.django_db
TRICKY = "Commission's yearly check of Smith & Sons <AI>"
LIST_HEADERS = {"List-Unsubscribe", "List-Unsubscribe-Post"}


@pytest.fixture
def milestone(loaded_small_pack):
    milestone = Milestone.objects.get(key="test-high-risk")
    Milestone.objects.filter(pk=milestone.pk).update(title=TRICKY)
    milestone.refresh_from_db()
    return milestone


def _subscriber(language):
    return Subscription.objects.create(
        email=f"{language}@example.org", status="active", language=language
    )


def _reminders(subscription, milestone):
    reminder = Reminder.objects.create(
        subscription=subscription, milestone=milestone, occurrence=milestone.date,
        lead_days=7, due_at=timezone.now(),
    )  # fmt: skip
    today = milestone.date - dt.timedelta(days=7)
    return message_for_reminders(
        subscription=subscription, reminders=[reminder], today=today, now=timezone.now()
    )


def _date_moved(subscription, milestone):
    change = MilestoneChange.objects.create(
        milestone=milestone, kind="moved", origin="amendment", old_date=dt.date(2027, 12, 2),
        new_date=milestone.date, amending_act="Regulation (EU) 2099/1",
    )  # fmt: skip
    return _notice(subscription, change, milestone, timezone.now())


def _confirmation(subscription, milestone):
    return subscriber_message(
        "confirmation", subscription=subscription, now=timezone.now(),
        context={"confirm_url": "https://jalon.example/confirm"}, list_headers=False,
    )  # fmt: skip


def _manage(subscription, milestone):
    return subscriber_message(
        "manage", subscription=subscription, now=timezone.now(),
        context={"subscription": subscription},
    )  # fmt: skip


def _owner_reminders(subscription, milestone):
    Subscription.objects.filter(pk=subscription.pk).update(
        owner_key="workspace:1:1", manage_url="https://jalon.example/w/acme/my-reminders/",
        targets={str(milestone.pk): "2027-10-01"},
    )  # fmt: skip
    subscription.refresh_from_db()
    return _reminders(subscription, milestone)


SUBSCRIBER_KINDS = {
    "reminders": _reminders,
    "date_moved": _date_moved,
    "confirmation": _confirmation,
    "manage": _manage,
    "owner reminders": _owner_reminders,
}


@pytest.mark.parametrize("language", ["en", "fr", "de"])
@pytest.mark.parametrize("kind", list(SUBSCRIBER_KINDS))
def test_every_subscriber_email_carries_its_headers_and_a_plain_subject(kind, language, milestone):
    message = SUBSCRIBER_KINDS[kind](_subscriber(language), milestone)

    assert message.headers["Auto-Submitted"] == "auto-generated"
    assert message.headers["Content-Language"] == language
    # The confirmation is the one email sent before the address joined a list.
    assert (set(message.headers) >= LIST_HEADERS) is (kind != "confirmation")
    if kind == "owner reminders":
        assert "/w/acme/my-reminders/" in message.body_text  # the owner's settings, not ours
    assert "&amp;" not in message.subject + message.body_text
    assert "&#x27;" not in message.subject + message.body_text
    if kind in ("reminders", "date_moved", "owner reminders"):
        assert "Smith & Sons" in message.body_text


# Recurring workspace emails are list mail, stoppable from their own link; an invitation is not.
WORKSPACE_KINDS = {"overdue_digest": True, "incident_clock": True, "item_moved": True,
                   "invitation": False, "incident_recorded": False}  # fmt: skip


@pytest.mark.parametrize("kind", list(WORKSPACE_KINDS))
def test_every_workspace_email_is_automatic_and_plain(kind):
    from tracker.workspace.models import Organisation

    listed = WORKSPACE_KINDS[kind]
    organisation = Organisation(pk=1, name="Smith & Sons", slug="smith-sons")
    stop = {"user_id": 1, "organisation_id": 1, "organisation": organisation} if listed else None
    message = workspace_message(
        kind, to_email="o@example.org", now=timezone.now(), context=_workspace_context(kind),
        stop=stop,
    )  # fmt: skip

    assert message.headers["Auto-Submitted"] == "auto-generated"
    assert message.headers["Content-Language"] == "en"
    assert (set(message.headers) >= LIST_HEADERS) is listed
    if listed:
        stop_url = message.headers["List-Unsubscribe"].strip("<>")
        assert f"Stop these emails: {stop_url}" in message.body_text
        assert "Your email settings: http" in message.body_text
    assert "&amp;" not in message.subject + message.body_text


def _workspace_context(kind):
    """Enough context for each template to render a name with an ampersand in it."""

    class Thing(dict):
        def __getattr__(self, name):
            return self.get(name, "Smith & Sons")

    thing = Thing()
    clock = Thing(zone="Europe/Helsinki", deadline=None, problems=["no period"])
    return {"clock": clock, "organisation": thing, "owner": thing, "item": thing,
            "milestone": thing, "incident": thing, "items": [], "url": "https://jalon.example/x",
            "accept_url": "https://jalon.example/i", "invited_by": thing, "old_date": None,
            "deadline": timezone.now(), "hours_left": 5}  # fmt: skip


def test_a_long_subject_is_cut_to_the_column_with_an_ellipsis():
    line = subject_line("Reminder: " + "very long title " * 40)
    assert len(line) == SUBJECT_MAX and line.endswith("…")
    assert subject_line("  two\n  lines ") == "two lines"


def test_a_forged_forwarded_for_header_does_not_make_a_new_client(client, loaded_small_pack):
    cache.clear()

    statuses = [
        client.post(
            "/api/v1/subscriptions/",
            {"email": f"u{n}@example.org", "regulation": "test-act", "lead_days": [7]},
            content_type="application/json", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(12)
    ]  # fmt: skip

    assert statuses == [202] * 10 + [429] * 2
    cache.clear()
