"""Art. 73 reporting clocks: counted as Regulation 1182/71 counts periods, in the time and with
the public holidays of the place where the incident occurred, on periods read from the
catalogue; recorded, corrected (with history) and listed by time left."""

import datetime as dt
from zoneinfo import ZoneInfo

import holidays
import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from tests.factories import UserFactory
from tracker.catalogue.models import Milestone
from tracker.outbox.models import Message
from tracker.workspace.clocks import (
    KIND_MILESTONES,
    PLACES,
    incident_deadline,
    period_in_hours_end,
    report_periods,
)
from tracker.workspace.models import AISystem, Incident, Membership
from tracker.workspace.notifications import incident_reminders
from tracker.workspace.services import incident_record, organisation_create

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 3, 12, tzinfo=dt.UTC)  # Tuesday
MIGRATION = ("workspace", "0003_incident_clocks")


def at(zone: str, *args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo(zone))


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def periods(ai_act_catalogue):
    return report_periods()


@pytest.fixture
def org(officer, ai_act_catalogue):
    organisation = organisation_create(name="Acme AI", owner=officer)
    AISystem.objects.create(
        organisation=organisation, name="CV screener", risk_class="high_risk_annex_iii"
    )
    return organisation


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def deadline(periods, kinds, aware, member_state="", region="") -> dt.datetime:
    return incident_deadline(
        kinds=kinds, aware_at=aware, member_state=member_state, region=region, periods=periods
    ).deadline


def record(org, *, kinds=("general",), aware_at, member_state="FI", region="", owner=None):
    """Recorded through the service; owned by the organisation's owner unless said."""
    owner = owner or org.memberships.get(role="owner").user
    return incident_record(
        organisation=org, system=org.systems.get(), kinds=list(kinds), member_state=member_state,
        region=region, aware_at=aware_at, description="", owner=owner,
    )  # fmt: skip


# Periods from the catalogue ----------------------------------------------------------------


def test_the_periods_are_read_from_the_catalogue_in_one_query(
    ai_act_catalogue, django_assert_num_queries
):
    with django_assert_num_queries(1):
        periods = report_periods()

    assert {kind: (p.milestone_key, p.days) for kind, p in periods.items()} == {
        "general": ("ai-act-serious-incident-report-15-days", 15),
        "critical_infrastructure": ("ai-act-serious-incident-critical-infrastructure-2-days", 2),
        "widespread": ("ai-act-widespread-infringement-2-days", 2),
        "death": ("ai-act-serious-incident-death-10-days", 10),
    }


def test_an_amended_period_in_the_catalogue_moves_the_deadline(ai_act_catalogue):
    Milestone.objects.filter(key=KIND_MILESTONES["general"]).update(offset_days=20)

    # Wednesday 4 March + 20 days = Tuesday 24 March, in Helsinki.
    assert deadline(report_periods(), ["general"], at("Europe/Helsinki", 2026, 3, 4, 10), "FI") == (
        utc("2026-03-24T21:59:59+00:00")
    )


def test_a_withdrawn_period_gives_no_deadline_and_says_why(ai_act_catalogue):
    Milestone.objects.filter(key=KIND_MILESTONES["death"]).update(status="withdrawn")
    aware = at("Europe/Helsinki", 2026, 3, 4, 10)

    clock = incident_deadline(
        kinds=["general", "death"], aware_at=aware, member_state="FI", periods=report_periods()
    )

    assert clock.deadline is None
    assert clock.problems == (
        "the catalogue's milestone “ai-act-serious-incident-death-10-days” is withdrawn",
    )


def test_a_missing_period_gives_no_deadline_and_says_why(ai_act_catalogue):
    Milestone.objects.filter(key=KIND_MILESTONES["widespread"]).update(key="renamed")

    clock = incident_deadline(
        kinds=["widespread"], aware_at=NOW, member_state="FI", periods=report_periods()
    )

    assert (clock.deadline, clock.problems) == (
        None,
        ("the catalogue has no milestone “ai-act-widespread-infringement-2-days”",),
    )


# Where it occurred: local time and public holidays -----------------------------------------


def test_finland_counts_to_the_end_of_the_day_in_helsinki_in_winter_and_summer(periods):
    # Monday 2 March + 15 days = Tuesday 17 March, 23:59:59 EET (UTC+2).
    winter = deadline(periods, ["general"], at("Europe/Helsinki", 2026, 3, 2, 10), "FI")
    # Monday 1 June + 15 days = Tuesday 16 June, 23:59:59 EEST (UTC+3).
    summer = deadline(periods, ["general"], at("Europe/Helsinki", 2026, 6, 1, 10), "FI")

    assert winter == utc("2026-03-17T21:59:59+00:00")
    assert summer == utc("2026-06-16T20:59:59+00:00")


def test_an_evening_incident_in_lisbon_counts_from_the_lisbon_day(periods):
    aware = at("Europe/Lisbon", 2026, 3, 4, 23, 30)  # already Thursday in Brussels

    in_lisbon = deadline(periods, ["general"], aware, "PT")
    unrecorded = deadline(periods, ["general"], aware)  # counted in the server's Brussels time

    assert in_lisbon == utc("2026-03-19T23:59:59+00:00")  # Thursday 19 March, 23:59:59 WET
    assert unrecorded == utc("2026-03-20T22:59:59+00:00")  # a day (23 hours) too late


def test_an_evening_incident_in_the_azores_counts_in_azores_time(periods):
    aware = at("Atlantic/Azores", 2026, 3, 4, 23, 30)  # 00:30 UTC on Thursday

    assert deadline(periods, ["general"], aware, "PT", "PT-20") == utc("2026-03-20T00:59:59+00:00")


def test_the_azores_own_holiday_extends_the_period_there_and_not_in_lisbon(periods):
    # Sunday 10 May + 15 days = Monday 25 May, the Day of the Autonomous Region of the Azores.
    azores = deadline(periods, ["general"], at("Atlantic/Azores", 2026, 5, 10, 12), "PT", "PT-20")
    lisbon = deadline(periods, ["general"], at("Europe/Lisbon", 2026, 5, 10, 12), "PT")

    assert azores == utc("2026-05-26T23:59:59+00:00")  # Tuesday, 23:59:59 AZOST (UTC+0)
    assert lisbon == utc("2026-05-25T22:59:59+00:00")  # Monday, 23:59:59 WEST (UTC+1)


def test_reunion_counts_in_its_own_time_with_its_abolition_day(periods):
    assert dt.date(2027, 12, 20) in holidays.country_holidays("FR", subdiv="974", years=2027)
    # Friday 10 December 2027 + 10 days = Monday 20 December, abolition of slavery in Réunion.
    aware = at("Indian/Reunion", 2027, 12, 10, 9)

    assert deadline(periods, ["death"], aware, "FR", "FR-974") == utc("2027-12-21T19:59:59+00:00")
    # In mainland France the 20th is a working day (and Paris is three hours behind).
    assert deadline(periods, ["death"], aware, "FR") == utc("2027-12-20T22:59:59+00:00")


def test_a_public_holiday_at_the_end_moves_to_the_next_working_day(periods):
    # Monday 29 June + 15 days = Tuesday 14 July (national day): Wednesday 15 July, CEST.
    bastille = deadline(periods, ["general"], at("Europe/Paris", 2026, 6, 29, 9), "FR")
    # Thursday 19 March + 15 days = Good Friday; then a weekend and Easter Monday: Tuesday.
    easter = deadline(periods, ["general"], at("Europe/Helsinki", 2026, 3, 19, 9), "FI")

    assert bastille == utc("2026-07-15T21:59:59+00:00")
    assert easter == utc("2026-04-07T20:59:59+00:00")


def test_a_two_day_period_from_a_friday_includes_two_working_days(periods):
    friday = deadline(
        periods, ["critical_infrastructure"], at("Europe/Brussels", 2026, 3, 6, 10), "BE"
    )
    thursday = deadline(periods, ["widespread"], at("Europe/Brussels", 2026, 3, 5, 16), "BE")
    # Thursday before Easter in Finland: Good Friday, the weekend and Easter Monday are off.
    easter = deadline(
        periods, ["critical_infrastructure"], at("Europe/Helsinki", 2026, 4, 2, 9), "FI"
    )

    assert friday == utc("2026-03-10T22:59:59+00:00")  # Sat-Sun, Monday: one; Tuesday: two
    assert thursday == utc("2026-03-09T22:59:59+00:00")  # Friday and Monday
    assert easter == utc("2026-04-08T20:59:59+00:00")  # Tuesday 7 and Wednesday 8 April


def test_the_deadline_is_in_summer_time_after_the_spring_change(periods):
    # Friday 20 March (CET) + 15 days = Saturday 4 April; Easter Monday: Tuesday 7 April, CEST.
    general = deadline(periods, ["general"], at("Europe/Brussels", 2026, 3, 20, 8), "BE")
    # Friday 27 March, two days over the change on Sunday 29 March: Tuesday 31 March, CEST.
    two_days = deadline(
        periods, ["critical_infrastructure"], at("Europe/Brussels", 2026, 3, 27, 10), "BE"
    )

    assert general == utc("2026-04-07T21:59:59+00:00")
    assert two_days == utc("2026-03-31T21:59:59+00:00")


def test_the_deadline_is_in_winter_time_after_the_autumn_change(periods):
    # Friday 23 October (CEST), over the change on Sunday 25 October: Tuesday 27 October, CET.
    before = deadline(
        periods, ["critical_infrastructure"], at("Europe/Berlin", 2026, 10, 23, 15), "DE"
    )
    # Aware in the repeated hour (02:30 CET, the second time): the same local day counts.
    repeated = dt.datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin"))
    during = deadline(periods, ["critical_infrastructure"], repeated, "DE")

    assert repeated.astimezone(dt.UTC) == utc("2026-10-25T01:30:00+00:00")
    assert before == utc("2026-10-27T22:59:59+00:00")
    assert during == utc("2026-10-27T22:59:59+00:00")


def test_a_period_in_hours_runs_by_the_clock_and_does_not_roll_over():
    brussels = ZoneInfo("Europe/Brussels")

    # From Friday 10:20: the period starts at 11:00 and ends 24 hours later, on Saturday.
    friday = period_in_hours_end(
        event=at("Europe/Brussels", 2026, 3, 27, 10, 20), hours=24, zone=brussels
    )
    # Over the spring change, 24 hours are 24 hours: 11:59:59 on the summer-time clock.
    saturday = period_in_hours_end(
        event=at("Europe/Brussels", 2026, 3, 28, 10, 20), hours=24, zone=brussels
    )

    assert friday == utc("2026-03-28T09:59:59+00:00")
    assert saturday == utc("2026-03-29T09:59:59+00:00")
    assert saturday.astimezone(brussels).hour == 11


# Several kinds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kinds", "winner", "expected"),
    [
        (["general"], "general", "2026-03-19T22:59:59+00:00"),
        (["general", "death"], "death", "2026-03-16T22:59:59+00:00"),
        (["death", "critical_infrastructure", "general"], "critical_infrastructure",
         "2026-03-06T22:59:59+00:00"),
    ],
)  # fmt: skip
def test_where_several_kinds_apply_the_shortest_clock_wins(periods, kinds, winner, expected):
    clock = incident_deadline(
        kinds=kinds, aware_at=at("Europe/Brussels", 2026, 3, 4, 10), member_state="BE",
        periods=periods,
    )  # fmt: skip

    assert (clock.period.kind, clock.deadline) == (winner, utc(expected))


# Places --------------------------------------------------------------------------------------


def test_every_member_state_and_region_has_a_time_zone_and_public_holidays():
    codes = set(Incident.MemberState.values) | set(Incident.Region.values)

    assert codes == set(PLACES)
    assert len(Incident.MemberState.values) == 27
    for code, place in PLACES.items():
        assert ZoneInfo(place.zone), code
        assert holidays.country_holidays(place.country, subdiv=place.subdivision, years=2026), code


def test_a_region_must_be_in_its_member_state(org):
    system = org.systems.get()

    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.create(
            organisation=org, system=system, kinds=["general"], member_state="FR",
            region="PT-20", aware_at=NOW,
        )  # fmt: skip


# The incidents page ---------------------------------------------------------------------------


def test_an_incident_is_recorded_where_it_occurred_and_says_report_immediately(
    client, officer, org, frozen
):
    client.force_login(officer)
    url = reverse("workspace:incidents", kwargs={"slug": org.slug})

    response = client.post(url, {
        "system": org.systems.get().pk, "member_state": "FI", "region": "",
        "kinds": ["general", "death"], "aware_at": "2026-03-02T10:00", "description": "Outage",
        "owner": officer.pk,
    })  # fmt: skip
    page = client.get(url).content.decode()

    assert response.status_code == 302
    incident = Incident.objects.get()
    assert (incident.kinds, incident.member_state) == (["general", "death"], "FI")
    assert incident.aware_at == utc("2026-03-02T08:00:00+00:00")  # 10:00 in Helsinki
    assert incident.history.get().history_user == officer
    assert (
        "<strong>Report immediately</strong>, at the latest by <strong>Thursday 12 March 2026, "
        "23:59:59</strong> Finland time (Europe/Helsinki, UTC+02:00)"
    ) in page
    assert "Aware since 2 March 2026, 10:00, Finland time" in page


def test_a_future_awareness_time_is_refused_and_nothing_is_saved(client, officer, org, frozen):
    client.force_login(officer)
    url = reverse("workspace:incidents", kwargs={"slug": org.slug})
    form = {"system": org.systems.get().pk, "member_state": "FI", "kinds": ["general"],
            "description": "", "owner": officer.pk}  # fmt: skip

    # It is 14:00 in Helsinki: 14:30 there has not happened yet (though it has in Lisbon).
    refused = client.post(url, {**form, "aware_at": "2026-03-03T14:30"})
    tomorrow = client.post(url, {**form, "aware_at": "2026-03-04T09:00"})

    assert (refused.status_code, tomorrow.status_code) == (400, 400)
    assert "You cannot have become aware of it in the future." in refused.content.decode()
    assert Incident.objects.count() == 0
    assert client.post(url, {**form, "aware_at": "2026-03-03T13:30"}).status_code == 302


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kinds": []}, "kinds", "Tick at least one kind of incident."),
        ({"member_state": "FR", "region": "PT-20"}, "region", "Azores is not in France."),
        ({"member_state": ""}, "member_state", "This field is required."),
    ],
)
def test_an_incomplete_incident_is_explained_and_not_saved(
    client, officer, org, frozen, data, field, message
):
    client.force_login(officer)
    form = {"system": org.systems.get().pk, "member_state": "PT", "region": "",
            "kinds": ["general"], "aware_at": "2026-03-02T10:00", **data}  # fmt: skip

    response = client.post(reverse("workspace:incidents", kwargs={"slug": org.slug}), form)

    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert Incident.objects.count() == 0


def test_the_list_is_sorted_by_time_left_unreported_first(
    client, officer, org, frozen, django_assert_max_num_queries
):
    later = record(org, aware_at=at("Europe/Helsinki", 2026, 3, 2, 9))  # 17 March
    reported = record(org, kinds=["widespread"], aware_at=at("Europe/Helsinki", 2026, 3, 3, 9))
    Incident.objects.filter(pk=reported.pk).update(reported_at=NOW)
    sooner = record(org, kinds=["death"], aware_at=at("Europe/Helsinki", 2026, 2, 20, 9))  # 2 March
    soonest = record(  # Thursday 5 March
        org, kinds=["critical_infrastructure"], aware_at=at("Europe/Helsinki", 2026, 3, 3, 9)
    )
    client.force_login(officer)

    with django_assert_max_num_queries(10):
        response = client.get(reverse("workspace:incidents", kwargs={"slug": org.slug}))

    rows = response.context["clocks"]
    assert [row["incident"].pk for row in rows] == [sooner.pk, soonest.pk, later.pk, reported.pk]
    assert [row["hours_left"] for row in rows[:3]] == [-15, 57, 345]
    html = response.content.decode()
    assert (
        html.index("late by 15 hours") < html.index("57 hours left") < html.index("345 hours left")
    )


def test_an_incident_without_a_member_state_says_where_it_is_counted(client, officer, org, frozen):
    # An incident migrated from before the Member State was asked.
    Incident.objects.create(
        organisation=org, system=org.systems.get(), kinds=["general"],
        aware_at=at("Europe/Brussels", 2026, 3, 2, 10),
    )  # fmt: skip
    client.force_login(officer)

    html = client.get(reverse("workspace:incidents", kwargs={"slug": org.slug})).content.decode()

    assert (
        "Member State not recorded: the deadline is counted in Europe/Brussels until you set it"
    ) in html
    assert "Tuesday 17 March 2026, 23:59:59</strong> Europe/Brussels time (UTC+01:00)" in html


# Corrections ---------------------------------------------------------------------------------


def test_a_correction_recounts_the_clock_and_is_kept_in_history(client, officer, org, frozen):
    incident = record(org, aware_at=at("Europe/Brussels", 2026, 3, 2, 10), member_state="")
    client.force_login(officer)
    url = reverse("workspace:incident_edit", kwargs={"slug": org.slug, "pk": incident.pk})

    page = client.get(url)
    response = client.post(url, {
        "member_state": "PT", "region": "PT-20", "kinds": ["general", "critical_infrastructure"],
        "aware_at": "2026-03-02T08:00", "description": "Grid outage", "owner": officer.pk,
    })  # fmt: skip

    assert page.context["form"]["aware_at"].value() == dt.datetime(2026, 3, 2, 10)
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.member_state, incident.region, incident.kinds, incident.owner) == (
        "PT", "PT-20", ["general", "critical_infrastructure"], officer,
    )  # fmt: skip
    assert incident.aware_at == utc("2026-03-02T09:00:00+00:00")  # 08:00 in the Azores
    assert incident.clock().deadline == utc("2026-03-05T00:59:59+00:00")  # Wednesday 4, AZOT
    old, new = incident.history.order_by("history_date")
    assert (old.kinds, old.member_state, old.aware_at) == (
        ["general"], "", utc("2026-03-02T09:00:00+00:00")
    )  # fmt: skip
    assert (new.history_user, new.description) == (officer, "Grid outage")
    assert "Member State not recorded" in client.get(url).content.decode()  # the old row


def test_a_correction_to_the_future_is_refused(client, officer, org, frozen):
    incident = record(org, aware_at=at("Europe/Helsinki", 2026, 3, 2, 10))
    client.force_login(officer)
    url = reverse("workspace:incident_edit", kwargs={"slug": org.slug, "pk": incident.pk})

    response = client.post(url, {"member_state": "FI", "kinds": ["general"],
                                 "aware_at": "2026-03-05T10:00"})  # fmt: skip

    assert response.status_code == 400
    incident.refresh_from_db()
    assert incident.aware_at == utc("2026-03-02T08:00:00+00:00")
    assert incident.history.count() == 1


def test_only_editors_and_owners_may_correct_an_incident(client, officer, org, viewer, outsider):
    incident = record(org, aware_at=at("Europe/Helsinki", 2026, 3, 2, 10))
    editor = UserFactory(username="teammate")
    Membership.objects.create(organisation=org, user=editor, role="editor")
    url = reverse("workspace:incident_edit", kwargs={"slug": org.slug, "pk": incident.pk})
    data = {"member_state": "SE", "kinds": ["death"], "aware_at": "2026-03-01T10:00"}
    other = outsider.memberships.get().organisation
    elsewhere = reverse("workspace:incident_edit", kwargs={"slug": other.slug, "pk": incident.pk})

    client.force_login(viewer)
    viewer_get, viewer_post = client.get(url).status_code, client.post(url, data).status_code
    client.force_login(outsider)
    outsider_get, outsider_post = client.get(url).status_code, client.post(url, data).status_code
    outsider_own_slug = client.post(elsewhere, data).status_code
    client.logout()
    anonymous = client.get(url)
    client.force_login(editor)
    editor_get = client.get(url).status_code

    assert (viewer_get, viewer_post) == (403, 403)
    assert (outsider_get, outsider_post, outsider_own_slug) == (404, 404, 404)
    assert anonymous.status_code == 302 and anonymous.url.startswith(reverse("login"))
    assert editor_get == 200
    incident.refresh_from_db()
    assert (incident.member_state, incident.kinds, incident.history.count()) == (
        "FI",
        ["general"],
        1,
    )


# The daily reminder ----------------------------------------------------------------------------


def test_the_daily_reminder_gives_the_deadline_in_the_incidents_local_time(org, officer, frozen):
    record(org, aware_at=at("Europe/Helsinki", 2026, 3, 2, 10), owner=officer)

    assert incident_reminders(now=NOW) == 1

    message = Message.objects.get(kind="incident_clock")
    assert message.subject == (
        "Report the incident on CV screener immediately, at the latest by 17 March, 23:59 "
        "Finland time"
    )
    assert (
        "at the latest by: Tuesday 17 March 2026, 23:59:59 Finland time (Europe/Helsinki, "
        "UTC+02:00) (345 hours left)"
    ) in message.body_text
    assert "Aware since: 2 March 2026, 10:00, Finland time" in message.body_text


def test_the_daily_reminder_says_so_when_the_deadline_cannot_be_counted(org, officer, frozen):
    Milestone.objects.filter(key=KIND_MILESTONES["general"]).update(status="superseded")
    record(org, aware_at=at("Europe/Brussels", 2026, 3, 2, 10), member_state="", owner=officer)

    incident_reminders(now=NOW)

    message = Message.objects.get(kind="incident_clock")
    assert message.subject == (
        "Report the incident on CV screener immediately: its deadline cannot be counted"
    )
    assert (
        "the catalogue's milestone “ai-act-serious-incident-report-15-days” is superseded"
    ) in message.body_text
    assert "Member State not recorded: the deadline is counted in Europe/Brussels" in (
        message.body_text
    )


@pytest.mark.parametrize(
    ("poison", "written", "failed"),
    [
        ({"aware_at": dt.datetime(9999, 12, 31, 23, tzinfo=dt.UTC)}, 1, 1),  # no deadline
        ({"aware_at": dt.datetime(1, 1, 1, 1, tzinfo=dt.UTC)}, 2, 0),  # long late, still said
        ({"member_state": "XX"}, 2, 0),  # counted in the default zone, and said so
    ],
)
def test_a_poisoned_incident_fails_alone_and_visibly(org, officer, frozen, poison, written, failed):
    healthy = record(org, aware_at=at("Europe/Helsinki", 2026, 3, 2, 10), owner=officer)
    bad = record(org, aware_at=at("Europe/Helsinki", 2026, 3, 2, 11), owner=officer)
    Incident.objects.filter(pk=bad.pk).update(**poison)  # past every form, straight in the table
    # A name as long as the column allows, all ampersands: once escaped it passed the subject's
    AISystem.objects.filter(pk=healthy.system_id).update(name="Smith & Sons & Co " * 6)

    assert incident_reminders(now=NOW) == written

    queued = Message.objects.filter(kind="incident_clock", status="queued")
    assert f"incident:{healthy.pk}" in {m.topic for m in queued}
    assert all(len(m.subject) <= 300 for m in queued)
    failures = list(Message.objects.filter(kind="incident_clock", status="failed"))
    assert len(failures) == failed
    for failure in failures:
        assert failure.topic == f"incident:{bad.pk}"
        assert failure.subject.startswith("(not written) incident #")
        assert failure.last_error
    assert incident_reminders(now=NOW) == 0  # the same day again: nothing twice


# The migration -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_each_kind_as_a_list_and_leaves_the_member_state_blank(officer):
    organisation = organisation_create(name="Acme AI", owner=officer)
    system = AISystem.objects.create(organisation=organisation, name="CV screener",
                                     risk_class="high_risk_annex_iii")  # fmt: skip
    executor = MigrationExecutor(connection)
    before = list(executor.loader.graph.node_map[MIGRATION].parents)
    leaves = executor.loader.graph.leaf_nodes()
    aware = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    try:
        executor.migrate([parent.key for parent in before if parent.key[0] == "workspace"])
        old = executor.loader.project_state([p.key for p in before]).apps
        old_incident = old.get_model("workspace", "Incident").objects.create(
            organisation_id=organisation.pk, system_id=system.pk, kind="death", aware_at=aware
        )
        old.get_model("workspace", "HistoricalIncident").objects.create(
            id=old_incident.pk, organisation_id=organisation.pk, system_id=system.pk,
            kind="widespread", aware_at=aware, history_date=aware, history_type="+",
        )  # fmt: skip
        executor = MigrationExecutor(connection)
        executor.migrate([MIGRATION])
    finally:
        MigrationExecutor(connection).migrate(leaves)

    incident = Incident.objects.get()
    assert (incident.kinds, incident.member_state, incident.region) == (["death"], "", "")
    assert incident.history.get().kinds == ["widespread"]
    assert incident.clock().place == ""  # counted in the server's zone, and the page says so
