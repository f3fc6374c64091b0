"""The events webhooks plan (issue 14): a milestone's date moved (after the catalogue change
commits, as a consumer), an obligation due soon at the email lead times, an obligation
overdue (weekly), an incident's deadline less than 24 hours away. Each is planned once per
endpoint even when planning runs twice, only for endpoints that follow it, in a fixed number
of queries."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import test_webhooks_support as support
from tests.factories import MilestoneFactory, UserFactory
from tests.test_webhooks_support import URLS, make_endpoint
from tracker.catalogue.models import Milestone
from tracker.webhooks.formats import slack_body
from tracker.webhooks.models import Delivery
from tracker.webhooks.services import (
    due_soon_plan,
    incident_deadlines_plan,
    moves_catch_up,
    overdue_plan,
    webhooks_plan,
)
from tracker.workspace.models import AISystem, Incident, TrackedItem
from tracker.workspace.services import organisation_create

# The support module's fixtures, used here.
org = support.org
owner = support.owner

pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLS)]

NOW = dt.datetime(2027, 3, 1, 8, 0, tzinfo=dt.UTC)
TODAY = dt.date(2027, 3, 1)
URL = "https://hooks.example.com/in"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _item(org, *, date=None, target=None, status="not_started", **milestone):
    m = MilestoneFactory(date=date or TODAY + dt.timedelta(days=400), **milestone)
    return TrackedItem.objects.create(organisation=org, milestone=m, target_date=target,
                                      status=status)  # fmt: skip


def _keys(event_type: str) -> list[str]:
    return sorted(
        Delivery.objects.filter(event_type=event_type).values_list("dedupe_key", flat=True)
    )


def test_due_soon_at_each_lead_time_once_per_endpoint_item_and_lead(org):
    hook = make_endpoint(org, URL)
    other = make_endpoint(org, URL, events=["obligation.overdue"])  # does not follow it
    in_30 = _item(org, date=TODAY + dt.timedelta(days=30))
    target_7 = _item(org, target=TODAY + dt.timedelta(days=7))  # the team's date counts
    _item(org, date=TODAY + dt.timedelta(days=10))  # no lead time today
    _item(org, date=TODAY + dt.timedelta(days=1), status="done")  # not open
    gone = _item(org, date=TODAY + dt.timedelta(days=90))
    TrackedItem.objects.filter(pk=gone.pk).update(applies=False)  # no longer tracked
    yearly = _item(org, date=dt.date(2025, 3, 2), kind=Milestone.Kind.RECURRING, every_months=12)

    first = due_soon_plan(now=NOW)
    second = due_soon_plan(now=NOW)

    assert (first["planned"], second["planned"]) == (3, 0)
    assert _keys("obligation.due_soon") == sorted([
        f"soon:{hook.pk}:{in_30.pk}:30:{TODAY + dt.timedelta(days=30)}",
        f"soon:{hook.pk}:{target_7.pk}:7:{TODAY + dt.timedelta(days=7)}",
        f"soon:{hook.pk}:{yearly.pk}:1:2027-03-02",  # the recurring duty's next date
    ])  # fmt: skip
    assert not Delivery.objects.filter(endpoint=other).exists()
    event = Delivery.objects.get(dedupe_key__contains=f":{target_7.pk}:7:").payload
    assert event["type"] == "obligation.due_soon"
    assert event["data"]["days_left"] == 7 and event["data"]["due_date"] == "2027-03-08"
    assert event["data"]["url"].endswith(f"/w/{org.slug}/items/{target_7.pk}/")
    assert "is due in 7 days, on 08 March 2027" in event["data"]["summary"]
    slack = slack_body(event)["blocks"][0]["text"]["text"]  # what a chat shows of it
    assert "Due: 2027-03-08" in slack and f"/items/{target_7.pk}/|Open in Jalon>" in slack


def test_overdue_once_a_week_per_endpoint_and_item(org):
    hook = make_endpoint(org, URL)
    late = _item(org, target=TODAY - dt.timedelta(days=3))
    _item(org, target=TODAY - dt.timedelta(days=3), status="done")
    _item(org, target=TODAY + dt.timedelta(days=30))

    assert [overdue_plan(now=NOW)["planned"], overdue_plan(now=NOW)["planned"]] == [1, 0]
    next_week = NOW + dt.timedelta(days=7)
    with time_machine.travel(next_week, tick=False):
        assert overdue_plan(now=next_week)["planned"] == 1
    assert _keys("obligation.overdue") == [f"overdue:{hook.pk}:{late.pk}:2027-W09",
                                           f"overdue:{hook.pk}:{late.pk}:2027-W10"]  # fmt: skip
    data = Delivery.objects.filter(event_type="obligation.overdue").first().payload["data"]
    assert data["days_late"] in (3, 10)


@pytest.fixture
def clock_milestone(db):
    return MilestoneFactory(
        key="ai-act-serious-incident-critical-infrastructure-2-days", kind="relative",
        date=None, trigger="awareness of the incident", offset_days=2,
        legal_basis="Art. 73(3)",
    )  # fmt: skip


def test_an_incident_deadline_less_than_a_day_away_once_per_endpoint_and_deadline(
    org, owner, clock_milestone
):
    hook = make_endpoint(org, URL)
    system = AISystem.objects.create(
        organisation=org, name="CV screener", roles=["provider"],
        risk_class="high_risk_annex_iii", annex_iii_point="4a",
    )  # fmt: skip
    incident = Incident.objects.create(
        organisation=org, system=system, kinds=["critical_infrastructure"], member_state="FI",
        aware_at=NOW - dt.timedelta(hours=1), owner=owner,
    )  # fmt: skip
    deadline = incident.clock().deadline
    Incident.objects.create(  # reported: no event
        organisation=org, system=system, kinds=["critical_infrastructure"], member_state="FI",
        aware_at=NOW - dt.timedelta(hours=1), owner=owner, reported_at=NOW,
    )  # fmt: skip

    early = incident_deadlines_plan(now=deadline - dt.timedelta(hours=30))["planned"]
    close = deadline - dt.timedelta(hours=10)
    planned = [incident_deadlines_plan(now=close)["planned"] for _ in range(2)]
    late = incident_deadlines_plan(now=deadline + dt.timedelta(minutes=1))["planned"]

    assert (early, planned, late) == (0, [1, 0], 0)
    delivery = Delivery.objects.get()
    assert delivery.endpoint == hook and delivery.event_type == "incident.deadline_soon"
    assert delivery.payload["data"]["hours_left"] == 10
    assert delivery.payload["data"]["incident"]["system"] == "CV screener"
    assert delivery.dedupe_key.startswith(f"incident:{hook.pk}:{incident.pk}:")


def test_a_moved_date_is_one_event_per_endpoint_after_the_change_commits(
    org, settings, after_commit, admin_user
):
    from tracker.catalogue.services import milestone_update

    settings.CATALOGUE_CHANGE_CONSUMERS = {
        **settings.CATALOGUE_CHANGE_CONSUMERS,
        "webhooks": "tracker.webhooks.tasks.milestone_change_consume_task",
    }
    slack = make_endpoint(org, URL, format="slack")
    generic = make_endpoint(org, URL)
    make_endpoint(org, URL, events=["obligation.due_soon"])
    first = _item(org, date=dt.date(2027, 8, 2))
    milestone = first.milestone
    elsewhere = organisation_create(name="Other Co", owner=UserFactory(username="oscar"))
    make_endpoint(elsewhere, URL)  # tracks nothing on this milestone

    with after_commit():
        milestone_update(milestone=milestone, values={"date": dt.date(2027, 12, 2)},
                         origin="admin", by=admin_user)  # fmt: skip

    deliveries = Delivery.objects.filter(event_type="milestone.date_moved")
    assert sorted(deliveries.values_list("endpoint_id", flat=True)) == sorted(
        [slack.pk, generic.pk]
    )
    data = deliveries.first().payload["data"]
    assert (data["old_date"], data["new_date"], data["items_count"]) == (
        "2027-08-02", "2027-12-02", 1,
    )  # fmt: skip
    assert data["items"][0]["id"] == first.pk
    # the periodic catch-up and a second run plan nothing more
    assert moves_catch_up(now=timezone.now())["planned"] == 0
    assert deliveries.count() == 2


def test_a_second_move_cancels_the_first_moves_queued_event(org, admin_user, settings):
    from tracker.catalogue.services import milestone_update

    make_endpoint(org, URL)
    milestone = _item(org, date=dt.date(2027, 8, 2)).milestone
    milestone_update(milestone=milestone, values={"date": dt.date(2027, 12, 2)}, origin="admin",
                     by=admin_user)  # fmt: skip
    assert moves_catch_up(now=timezone.now())["planned"] == 1
    milestone_update(milestone=milestone, values={"date": dt.date(2028, 1, 5)}, origin="admin",
                     by=admin_user)  # fmt: skip
    assert moves_catch_up(now=timezone.now())["planned"] == 1

    older, newer = Delivery.objects.order_by("pk")
    assert (older.status, newer.status) == ("cancelled", "queued")
    assert older.last_error.startswith("Not sent: the date moved again")


def test_disabled_endpoints_and_organisations_without_endpoints_get_nothing(org):
    make_endpoint(org, URL, enabled=False)
    _item(org, target=TODAY - dt.timedelta(days=3))
    _item(org, date=TODAY + dt.timedelta(days=30))

    report = webhooks_plan(now=NOW)

    assert {name: part["planned"] for name, part in report.items()} == {
        "due_soon": 0, "overdue": 0, "incident": 0, "moved": 0,
    }  # fmt: skip
    assert not Delivery.objects.exists()


def _organisations(n: int) -> None:
    for i in range(n):
        org = organisation_create(name=f"Org {i}", owner=UserFactory(username=f"own{i}"))
        make_endpoint(org, URL)
        _item(org, target=TODAY - dt.timedelta(days=2))
        _item(org, date=TODAY + dt.timedelta(days=7))


def test_planning_costs_the_same_number_of_queries_for_2_and_12_organisations():
    counts = []
    for n in (2, 10):
        _organisations(n)
        Delivery.objects.all().delete()
        with CaptureQueriesContext(connection) as queries:
            report = webhooks_plan(now=NOW)
        counts.append(len(queries))
        assert report["due_soon"]["planned"] == Delivery.objects.filter(
            event_type="obligation.due_soon").count() > 0  # fmt: skip
    assert counts[0] == counts[1] <= 30


def test_beat_plans_hourly_and_sweeps_with_the_reminders_and_the_tasks_are_registered(settings):
    from config.celery_app import app

    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["webhooks-sweep"]["schedule"] == settings.REMINDER_SWEEP_SECONDS
    assert schedule["webhooks-plan"]["task"] == "tracker.webhooks.tasks.webhooks_plan_task"
    app.loader.import_default_modules()
    for entry in ("webhooks-sweep", "webhooks-plan"):
        assert schedule[entry]["task"] in app.tasks
    assert "tracker.webhooks.tasks.webhooks_deliver_task" in app.tasks
    assert settings.WEBHOOK_ALLOW_PRIVATE is False  # never on unless a test asks for it
