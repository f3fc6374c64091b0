"""The subscribe and manage pages: a grouped picker of deadlines still to come, one
validator refusing past milestones (form, API, admin), the summary of what is followed."""

import datetime as dt
import re

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import MilestoneFactory
from tracker.catalogue.models import Milestone, Regulation
from tracker.outbox.models import Message
from tracker.reminders.models import Subscription
from tracker.reminders.selectors import milestone_picker, subscription_summary
from tracker.reminders.subscriptions import subscription_confirm
from tracker.reminders.tokens import MANAGE, subscription_token

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()


@pytest.fixture
def act(loaded_small_pack):
    regulation = Regulation.objects.get(key="test-act")
    # A yearly duty that started in the past: offered at its next date.
    MilestoneFactory(
        regulation=regulation, key="test-yearly-report", title="Yearly report to the board",
        kind=Milestone.Kind.RECURRING, date=dt.date(2025, 2, 2), every_months=12,
        category=Milestone.Category.REPORTING,
    )  # fmt: skip
    MilestoneFactory(
        regulation=regulation, key="test-superseded", title="An old date, superseded",
        date=dt.date(2027, 5, 1), status=Milestone.Status.SUPERSEDED,
    )  # fmt: skip
    return regulation


def _offered(html: str) -> list[str]:
    return re.findall(r'name="milestones" value="([^"]+)"', html)


def test_the_picker_offers_only_deadlines_still_to_come_at_their_next_date(act):
    picker = milestone_picker(today=TODAY)

    [block] = picker
    assert block.regulation.key == "test-act"
    groups = {g.label: [(e.milestone.key, e.next_date) for e in g.entries] for g in block.groups}
    assert groups == {
        "Obligations apply": [("test-high-risk", dt.date(2027, 12, 2))],
        "Reporting": [("test-yearly-report", dt.date(2027, 2, 2))],
        "Review and evaluation": [("test-review", dt.date(2028, 8, 2))],
    }


def test_the_subscribe_page_lists_grouped_checkboxes_with_dates_and_no_past_item(client, act):
    html = client.get("/subscriptions/").content.decode()

    assert sorted(_offered(html)) == ["test-high-risk", "test-review", "test-yearly-report"]
    assert "test-entry-into-force" not in html  # past
    assert "test-incident" not in html  # counts from an event: no date to remind of
    assert "test-superseded" not in html
    assert "<legend>Reporting</legend>" in html
    assert '<time class="picker-date" datetime="2027-02-02">2 Feb 2027, recurring</time>' in html
    assert 'id="picker-filter"' in html and "web/picker.js" in html
    assert 'list="timezone-names"' in html and '<option value="America/New_York">' in html


def _post(client, **data):
    body = {"email": "ada@example.org", "regulation": "", "lead_days": "30, 7",
            "language": "en", "timezone": "Europe/Brussels", "send_hour": "9", **data}  # fmt: skip
    return client.post("/subscriptions/", body)


def test_the_form_refuses_a_past_milestone_with_a_clear_message(client, act):
    response = _post(client, milestones=["test-high-risk", "test-entry-into-force"])

    assert response.status_code == 400
    html = response.content.decode()
    assert "“The Test Act enters into force” is in the past (1 August 2024)" in html
    assert Subscription.objects.count() == 0


def test_the_form_accepts_deadlines_still_to_come(client, act):
    response = _post(client, milestones=["test-high-risk", "test-yearly-report"])

    assert response.status_code == 302
    subscription = Subscription.objects.get()
    assert sorted(subscription.milestones.values_list("key", flat=True)) == [
        "test-high-risk", "test-yearly-report",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("test-entry-into-force", "is in the past"),
        ("test-incident", "counts from an event"),
        ("test-superseded", "is superseded"),
    ],
)
def test_the_api_refuses_what_the_form_refuses(client, act, key, message):
    response = client.post(
        "/api/v1/subscriptions/",
        {"email": "ada@example.org", "milestones": [key]},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert message in " ".join(response.json()["milestones"])


def test_the_admin_refuses_adding_a_past_milestone_but_keeps_one_already_followed(
    client, admin_user, act
):
    subscription = Subscription.objects.create(email="fix@example.org", status="active")
    past = Milestone.objects.get(key="test-entry-into-force")
    future = Milestone.objects.get(key="test-high-risk")
    client.force_login(admin_user)
    url = reverse("admin:reminders_subscription_change", args=[subscription.pk])
    data = {"email": "fix@example.org", "status": "active", "language": "en", "send_hour": 9,
            "categories": "[]", "move_notices": "on", "timezone": "Europe/Brussels",
            "lead_days": "[30, 7]"}  # fmt: skip

    refused = client.post(url, {**data, "milestones": [past.pk, future.pk]})
    assert refused.status_code == 200
    assert "is in the past" in refused.content.decode()

    subscription.milestones.set([past])  # followed before it passed
    kept = client.post(url, {**data, "milestones": [past.pk, future.pk]})
    assert kept.status_code == 302
    assert subscription.milestones.count() == 2


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def _more_milestones(regulation, n):
    for i in range(n):
        MilestoneFactory(regulation=regulation, date=dt.date(2025 + i % 4, 3, 1))


@pytest.fixture
def active(act):
    subscription = Subscription.objects.create(
        email="ada@example.org", regulation=act, lead_days=[30, 7], timezone="Europe/Brussels"
    )
    subscription.milestones.set([Milestone.objects.get(key="test-yearly-report")])
    subscription_confirm(subscription=subscription)
    return subscription


def test_the_pages_query_counts_do_not_grow_with_the_milestones(client, act, active):
    manage = reverse(
        "reminders:manage",
        kwargs={"token": subscription_token(subscription=active, purpose=MANAGE)},
    )
    before = (_queries(client, "/subscriptions/"), _queries(client, manage))

    _more_milestones(act, 40)
    active.milestones.add(*Milestone.objects.filter(key__startswith="milestone-")[:5])
    after = (_queries(client, "/subscriptions/"), _queries(client, manage))

    assert before == after
    assert after == (6, 12), after


def test_the_summary_counts_the_followed_deadlines_and_names_the_next_reminder(active):
    with CaptureQueriesContext(connection) as queries:
        summary = subscription_summary(subscription=active, today=TODAY)

    # high-risk, review (by the regulation) and the yearly report (chosen by hand).
    assert summary.followed == 3
    # The yearly report falls on 2 February 2027: its 30-day reminder is on 3 January.
    assert (summary.next_day, summary.next_titles) == (
        dt.date(2027, 1, 3), ["Yearly report to the board"],
    )  # fmt: skip
    assert len(queries) == 3  # roles, scopes, the followed milestones


def test_the_manage_page_summarises_what_is_followed(client, active):
    manage = reverse(
        "reminders:manage",
        kwargs={"token": subscription_token(subscription=active, purpose=MANAGE)},
    )

    html = client.get(manage).content.decode()

    assert (
        "You follow 3 deadlines; the next reminder is on 3 January 2027 about "
        "Yearly report to the board." in html
    )
    assert 'value="test-yearly-report" id="milestone-test-yearly-report" checked' in html


def test_the_confirmation_email_summarises_the_choice(client, act):
    _post(client, milestones=["test-high-risk"], lead_days="30, 7")

    message = Message.objects.get(kind="confirmation")
    assert (
        "Once confirmed, you follow 1 deadline; the next reminder is on 2 November 2027 about "
        "High-risk obligations apply." in message.body_text
    )
    assert "Once confirmed, you follow 1 deadline" in message.body_html


def test_the_time_zone_must_be_a_known_name(client, act):
    response = _post(client, milestones=["test-high-risk"], timezone="Paris")

    assert response.status_code == 400
    assert "is not a time zone name such as Europe/Brussels" in response.content.decode()
