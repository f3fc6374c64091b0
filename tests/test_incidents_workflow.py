"""Every incident clock reaches a person: an owner always (who recorded it, by default), the
owner and the organisation's owners emailed at once and every day until it is reported,
awareness times refused in the future or more than 5 years back, corrections kept as
"field: old → new", and the list sorted by time left with the last 48 hours highlighted."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import UserFactory
from tracker.outbox.models import Message
from tracker.workspace.models import AISystem, Incident, Membership, OwnerReminders
from tracker.workspace.notifications import incident_notify_recorded, incident_reminders
from tracker.workspace.services import (
    incident_mark_reported,
    incident_record,
    incident_update,
    organisation_create,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 3, 12, tzinfo=dt.UTC)  # Tuesday, 14:00 in Helsinki
TOMORROW = NOW + dt.timedelta(days=1)
TOO_OLD = "That is more than 5 years ago: check the year (the earliest accepted is 3 March 2021)."
FUTURE = "You cannot have become aware of it in the future."
NO_OWNER = "Choose who owns this incident: they are reminded every day until it is reported."


def helsinki(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo("Europe/Helsinki"))


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def coowner(db):
    return UserFactory(username="coowner", email="coowner@example.org")


@pytest.fixture
def org(officer, coowner, teammate, ai_act_catalogue):
    """Acme AI: owned by the officer and a co-owner; the teammate edits."""
    organisation = organisation_create(name="Acme AI", owner=officer)
    Membership.objects.create(organisation=organisation, user=coowner, role="owner")
    Membership.objects.create(organisation=organisation, user=teammate, role="editor")
    AISystem.objects.create(
        organisation=organisation, name="CV screener", risk_class="high_risk_annex_iii"
    )
    return organisation


def incidents_url(org) -> str:
    return reverse("workspace:incidents", kwargs={"slug": org.slug})


def edit_url(incident) -> str:
    return reverse(
        "workspace:incident_edit", kwargs={"slug": incident.organisation.slug, "pk": incident.pk}
    )


def record(org, *, owner, aware_at=None, kinds=("general",), by=None, **fields):
    return incident_record(
        organisation=org, system=org.systems.get(), kinds=list(kinds),
        member_state=fields.get("member_state", "FI"), region=fields.get("region", ""),
        aware_at=aware_at or helsinki(2026, 3, 2, 10), description=fields.get("description", ""),
        owner=owner, by=by,
    )  # fmt: skip


def form_data(org, **changes) -> dict:
    return {"system": org.systems.get().pk, "member_state": "FI", "region": "",
            "kinds": ["general"], "aware_at": "2026-03-02T10:00", "description": "Outage",
            **changes}  # fmt: skip


def sent(kind: str) -> list[tuple[str, str]]:
    """(recipient, dedupe key) of the messages of a kind, sorted."""
    return sorted(Message.objects.filter(kind=kind).values_list("to_email", "dedupe_key"))


# An owner, always ---------------------------------------------------------------------------


@pytest.mark.parametrize("recorder", ["officer", "teammate"])
def test_the_form_offers_whoever_records_it_as_owner(client, org, recorder, request):
    user = request.getfixturevalue(recorder)
    client.force_login(user)

    response = client.get(incidents_url(org))

    form = response.context["form"]
    assert form["owner"].value() == user.pk
    html = response.content.decode()
    assert re.search(rf'<option value="{user.pk}" selected>{user.username}</option>', html)
    assert form.fields["owner"].help_text == (
        "Emailed now and every day until it is reported, with the organisation's owners."
    )


def test_an_incident_recorded_for_someone_else_is_theirs(client, org, officer, teammate):
    client.force_login(officer)

    response = client.post(incidents_url(org), form_data(org, owner=teammate.pk))

    assert response.status_code == 302
    assert Incident.objects.get().owner == teammate


def test_an_incident_without_owner_is_refused_by_the_form_and_the_model(client, org, officer):
    client.force_login(officer)

    response = client.post(incidents_url(org), form_data(org, owner=""))

    assert response.status_code == 400
    assert response.context["form"].errors["owner"] == [NO_OWNER]
    assert NO_OWNER in response.content.decode()
    with pytest.raises(ValidationError) as refused:
        record(org, owner=None)
    assert refused.value.message_dict["owner"] == [NO_OWNER]
    assert Incident.objects.count() == 0
    assert Message.objects.count() == 0


def test_an_owner_who_is_not_a_member_is_refused_with_one_message(client, org, officer, outsider):
    client.force_login(officer)

    response = client.post(incidents_url(org), form_data(org, owner=outsider.pk))

    assert response.status_code == 400
    assert response.context["form"].errors["owner"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    with pytest.raises(ValidationError) as refused:
        record(org, owner=outsider)
    assert refused.value.message_dict["owner"] == [
        "The owner must be a member of the organisation."
    ]
    assert Incident.objects.count() == 0


# Emailed at once ----------------------------------------------------------------------------


def test_recording_emails_the_owner_and_every_organisation_owner_at_once(
    client, org, officer, coowner, teammate, viewer, django_capture_on_commit_callbacks,
    eager_celery,
):  # fmt: skip
    client.force_login(officer)

    # When the officer records an incident owned by the teammate, and the request commits
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(incidents_url(org), form_data(org, owner=teammate.pk))

    # Then the owner and both organisation owners have it, once each; the viewer has nothing
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert sent("incident_recorded") == sorted(
        (user.email, f"incident-recorded:{incident.pk}:u{user.pk}")
        for user in (teammate, officer, coowner)
    )
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [teammate.email, officer.email, coowner.email]
    )
    assert all(m.status == "sent" for m in Message.objects.filter(kind="incident_recorded"))
    email = next(m for m in mail.outbox if m.to == [teammate.email])
    assert email.subject == (
        "Serious incident recorded on CV screener: report it immediately, at the latest by "
        "17 March, 23:59 Finland time"
    )
    assert email.body.startswith("officer recorded a serious incident on CV screener (Acme AI).\n")
    assert "Owner: teammate\nDescription: Outage\n" in email.body
    assert (
        "at the latest by: Tuesday 17 March 2026, 23:59:59 Finland time (Europe/Helsinki, "
        "UTC+02:00) (345 hours left)"
    ) in email.body
    assert "You receive this because you own this incident" in email.body
    to_officer = next(m for m in mail.outbox if m.to == [officer.email])
    assert "You receive this because you are an owner of Acme AI" in to_officer.body
    assert email.extra_headers["Auto-Submitted"] == "auto-generated"


def test_the_owner_who_is_also_an_organisation_owner_gets_one_email(org, officer, coowner):
    incident = record(org, owner=officer, by=officer)

    assert sent("incident_recorded") == [
        (coowner.email, f"incident-recorded:{incident.pk}:u{coowner.pk}"),
        (officer.email, f"incident-recorded:{incident.pk}:u{officer.pk}"),
    ]


def test_a_retried_notice_is_not_sent_twice(org, teammate):
    incident = record(org, owner=teammate)

    again = incident_notify_recorded(incident=incident)

    assert again == 0
    assert Message.objects.filter(kind="incident_recorded").count() == 3


def test_a_notice_that_cannot_be_written_fails_alone_and_the_incident_is_kept(
    org, teammate, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("the catalogue could not be read")

    monkeypatch.setattr(Incident, "clock", broken)  # the edge: the clock blows up

    incident = record(org, owner=teammate)

    assert Incident.objects.filter(pk=incident.pk).exists()
    failed = Message.objects.filter(kind="incident_recorded")
    assert {m.status for m in failed} == {"failed"}
    assert failed.count() == 3
    assert all("RuntimeError: the catalogue could not be read" in m.last_error for m in failed)


# Reminded every day -------------------------------------------------------------------------


def test_the_owner_and_the_organisation_owners_are_reminded_once_a_day_until_reported(
    org, officer, coowner, teammate, viewer
):
    incident = record(org, owner=teammate)
    day = dt.date(2026, 3, 3)

    today = incident_reminders(now=NOW)
    same_day = incident_reminders(now=NOW + dt.timedelta(hours=5))
    tomorrow = incident_reminders(now=TOMORROW)
    incident_mark_reported(incident=incident, by=officer)
    after = incident_reminders(now=NOW + dt.timedelta(days=2))

    assert (today, same_day, tomorrow, after) == (3, 0, 3, 0)
    # The owner keeps the key it always had; the organisation's owners have one each.
    keys = set(Message.objects.filter(kind="incident_clock").values_list("dedupe_key", flat=True))
    assert keys == {
        f"incident:{incident.pk}:{day}",
        f"incident:{incident.pk}:{day}:u{officer.pk}",
        f"incident:{incident.pk}:{day}:u{coowner.pk}",
        f"incident:{incident.pk}:{day + dt.timedelta(days=1)}",
        f"incident:{incident.pk}:{day + dt.timedelta(days=1)}:u{officer.pk}",
        f"incident:{incident.pk}:{day + dt.timedelta(days=1)}:u{coowner.pk}",
    }
    assert viewer.email not in set(Message.objects.values_list("to_email", flat=True))
    to_owner = Message.objects.get(dedupe_key=f"incident:{incident.pk}:{day}")
    to_officer = Message.objects.get(dedupe_key=f"incident:{incident.pk}:{day}:u{officer.pk}")
    assert (
        to_owner.subject
        == to_officer.subject
        == (
            "Report the incident on CV screener immediately, at the latest by 17 March, 23:59 "
            "Finland time"
        )
    )
    # Each copy stops for its own reader only.
    assert to_owner.headers["List-Unsubscribe"] != to_officer.headers["List-Unsubscribe"]


def test_marking_it_reported_withdraws_the_reminders_still_queued(org, officer, teammate):
    incident = record(org, owner=teammate)
    incident_reminders(now=NOW)

    assert incident_mark_reported(incident=incident, by=officer) is True
    assert incident_mark_reported(incident=incident, by=officer) is False  # once

    statuses = set(Message.objects.filter(kind="incident_clock").values_list("status", flat=True))
    assert statuses == {"cancelled"}
    assert incident.history.latest().history_user == officer


def test_an_incident_without_owner_reminds_the_organisation_owners(org, officer, coowner):
    legacy = Incident.objects.create(  # recorded before an owner was required
        organisation=org, system=org.systems.get(), kinds=["general"], member_state="FI",
        aware_at=helsinki(2026, 3, 2, 10),
    )  # fmt: skip

    assert incident_reminders(now=NOW) == 2

    assert sent("incident_clock") == sorted([
        (officer.email, f"incident:{legacy.pk}:2026-03-03:u{officer.pk}"),
        (coowner.email, f"incident:{legacy.pk}:2026-03-03:u{coowner.pk}"),
    ])  # fmt: skip


def test_an_owner_who_left_is_not_reminded_and_the_organisation_owners_are(
    org, officer, coowner, teammate
):
    record(org, owner=teammate)
    Membership.objects.filter(organisation=org, user=teammate).delete()

    assert incident_reminders(now=NOW) == 2

    assert {to for to, _ in sent("incident_clock")} == {officer.email, coowner.email}


def test_an_organisation_owner_who_stopped_incident_emails_is_not_reminded(
    org, officer, coowner, teammate
):
    record(org, owner=teammate)
    OwnerReminders.objects.create(organisation=org, user=coowner, incident_clock=False)

    assert incident_reminders(now=NOW) == 2

    assert {to for to, _ in sent("incident_clock")} == {teammate.email, officer.email}


def test_the_daily_job_costs_the_same_queries_for_one_incident_as_for_six(
    org, officer, teammate, coowner
):
    record(org, owner=teammate)
    with CaptureQueriesContext(connection) as one:
        incident_reminders(now=NOW)
    for hour in range(5):
        record(org, owner=officer, aware_at=helsinki(2026, 3, 1, 10 + hour))
    Incident.objects.create(  # and one without owner
        organisation=org, system=org.systems.get(), kinds=["death"], member_state="FI",
        aware_at=helsinki(2026, 3, 1, 9),
    )  # fmt: skip

    with CaptureQueriesContext(connection) as seven:
        written = incident_reminders(now=TOMORROW)

    # The teammate's: to three people; the officer's five and the ownerless one: to two.
    assert written == 3 + 5 * 2 + 2
    assert len(seven.captured_queries) == len(one.captured_queries)


# Awareness times ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aware_at", "message"),
    [
        ("2026-03-03T14:30", FUTURE),  # half an hour from now in Helsinki
        ("2021-03-03T01:59", TOO_OLD),  # 23:59 UTC the day before the floor
        ("2020-03-02T10:00", TOO_OLD),
        ("0001-01-01T00:00", TOO_OLD),
        ("9999-12-31T23:59", FUTURE),
        ("10000-01-01T00:00", "Enter a valid date/time."),
    ],
)
def test_an_implausible_awareness_time_is_refused_with_a_message(
    client, org, officer, aware_at, message
):
    client.force_login(officer)

    response = client.post(incidents_url(org), form_data(org, owner=officer.pk, aware_at=aware_at))

    assert response.status_code == 400
    assert response.context["form"].errors["aware_at"] == [message]
    assert message in response.content.decode()
    assert Incident.objects.count() == 0


@pytest.mark.parametrize("region", ["", "PT-20"])
def test_a_year_zero_or_nine_in_any_zone_is_a_message_never_a_500(client, org, officer, region):
    client.force_login(officer)
    for aware_at in ("0001-01-01T00:00", "9999-12-31T23:59"):
        data = form_data(org, owner=officer.pk, aware_at=aware_at, member_state="PT", region=region)

        response = client.post(incidents_url(org), data)

        assert response.status_code == 400, aware_at
    assert Incident.objects.count() == 0


def test_the_floor_is_five_years_back_to_the_day(client, org, officer):
    client.force_login(officer)

    # 00:00 UTC on 3 March 2021 is 02:00 in Helsinki: the first minute accepted.
    response = client.post(incidents_url(org), form_data(org, owner=officer.pk,
                                                         aware_at="2021-03-03T02:00"))  # fmt: skip

    assert response.status_code == 302
    assert Incident.objects.get().aware_at == dt.datetime(2021, 3, 3, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("aware_at", "message"),
    [(dt.datetime(2021, 3, 2, 23, 59, tzinfo=dt.UTC), TOO_OLD),
     (NOW + dt.timedelta(minutes=1), FUTURE)],
)  # fmt: skip
def test_the_model_refuses_the_same_times_with_the_same_messages(org, officer, aware_at, message):
    with pytest.raises(ValidationError) as refused:
        record(org, owner=officer, aware_at=aware_at)

    assert refused.value.message_dict["aware_at"] == [message]
    incident = record(org, owner=officer)
    incident.aware_at = aware_at
    with pytest.raises(ValidationError) as corrected:
        incident.full_clean()
    assert corrected.value.message_dict["aware_at"] == [message]


def test_a_correction_too_far_back_is_refused(client, org, officer):
    incident = record(org, owner=officer)
    client.force_login(officer)

    response = client.post(edit_url(incident), {"member_state": "FI", "kinds": ["general"],
                           "aware_at": "2019-03-02T10:00", "owner": officer.pk})  # fmt: skip

    assert response.status_code == 400
    assert response.context["form"].errors["aware_at"] == [TOO_OLD]
    incident.refresh_from_db()
    assert incident.aware_at == helsinki(2026, 3, 2, 10)


def test_the_floor_on_a_leap_day_is_the_28th_of_february(org, officer):
    with time_machine.travel(dt.datetime(2028, 2, 29, 12, tzinfo=dt.UTC), tick=False):
        with pytest.raises(ValidationError) as refused:
            record(org, owner=officer, aware_at=dt.datetime(2023, 2, 27, 23, tzinfo=dt.UTC))
        accepted = record(org, owner=officer, aware_at=dt.datetime(2023, 2, 28, tzinfo=dt.UTC))

    assert refused.value.message_dict["aware_at"] == [
        "That is more than 5 years ago: check the year (the earliest accepted is 28 February 2023)."
    ]
    assert accepted.pk


# Corrections with history --------------------------------------------------------------------


def test_a_correction_is_shown_in_the_history_as_old_and_new_values(
    client, org, officer, teammate, django_capture_on_commit_callbacks
):
    incident = record(org, owner=officer, by=officer, description="Outage")
    client.force_login(teammate)

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(edit_url(incident), {
            "member_state": "PT", "region": "PT-20", "kinds": ["general", "death"],
            "aware_at": "2026-03-02T06:00", "description": "Outage in the Azores",
            "owner": teammate.pk,
        })  # fmt: skip
    page = client.get(edit_url(incident))

    assert response.status_code == 302
    history = page.context["history"]
    assert [(entry["what"], entry["who"]) for entry in history] == [
        ("Corrected", teammate),
        ("Recorded", officer),
    ]
    assert history[0]["changes"] == [
        ("What happened", "Serious incident (Art. 73(2))",
         "Serious incident (Art. 73(2)), Death of a person (Art. 73(4))"),
        ("Where", "Finland", "Azores (Portugal)"),
        ("Became aware", "2 March 2026, 10:00 (Europe/Helsinki)",
         "2 March 2026, 06:00 (Atlantic/Azores)"),
        ("Description", "Outage", "Outage in the Azores"),
        ("Owner", "officer", "teammate"),
    ]  # fmt: skip
    html = page.content.decode()
    assert "Owner: officer → teammate</li>" in html
    assert "Where: Finland → Azores (Portugal)</li>" in html
    assert "<strong>Recorded</strong>" in html and "Reported: not reported</li>" in html


def test_marking_it_reported_is_in_the_history(client, org, officer):
    incident = record(org, owner=officer, by=officer)
    client.force_login(officer)

    client.post(reverse("workspace:incident_reported",
                        kwargs={"slug": org.slug, "pk": incident.pk}))  # fmt: skip
    history = client.get(edit_url(incident)).context["history"]

    assert history[0]["who"] == officer
    assert history[0]["changes"] == [("Reported", "not reported", "3 March 2026, 14:00")]


def test_a_new_owner_is_told_at_once_and_only_once(org, officer, teammate, coowner):
    incident = record(org, owner=officer, by=officer)
    fields = {"kinds": incident.kinds, "member_state": "FI", "region": "",
              "aware_at": incident.aware_at, "description": ""}  # fmt: skip

    incident_update(incident=incident, by=officer, owner=teammate, **fields)
    incident_update(incident=incident, by=officer, owner=officer, **fields)
    incident_update(incident=incident, by=officer, owner=teammate, **fields)
    incident_update(incident=incident, by=coowner, owner=coowner, **fields)  # took it: not told

    notices = Message.objects.filter(dedupe_key__startswith="incident-owner:")
    assert [(m.to_email, m.subject) for m in notices] == [(
        teammate.email,
        "You now own the incident on CV screener: report it immediately, at the latest by "
        "17 March, 23:59 Finland time",
    )]  # fmt: skip
    assert notices.get().body_text.startswith(
        "officer made you the owner of a serious incident on CV screener (Acme AI)."
    )


def test_a_legacy_incident_needs_an_owner_to_be_corrected(client, org, officer):
    legacy = Incident.objects.create(
        organisation=org, system=org.systems.get(), kinds=["general"], member_state="FI",
        aware_at=helsinki(2026, 3, 2, 10),
    )  # fmt: skip
    client.force_login(officer)
    data = {"member_state": "FI", "kinds": ["death"], "aware_at": "2026-03-02T10:00"}

    refused = client.post(edit_url(legacy), data)
    accepted = client.post(edit_url(legacy), {**data, "owner": officer.pk})

    assert refused.status_code == 400
    assert refused.context["form"].errors["owner"] == [NO_OWNER]
    assert accepted.status_code == 302
    legacy.refresh_from_db()
    assert (legacy.kinds, legacy.owner) == (["death"], officer)


# The list: time left, the last 48 hours, who owns it ------------------------------------------


def test_the_list_highlights_the_clocks_with_less_than_48_hours_left(
    client, org, officer, django_assert_max_num_queries
):
    # Deadlines (Helsinki): 17 March (345 h), Thursday 5 March (57 h), 2 March (late), and a
    # two-day clock aware Friday 27 February: Tuesday 3 March, 23:59:59 (9 h left).
    later = record(org, owner=officer, aware_at=helsinki(2026, 3, 2, 9))
    two_days = record(org, owner=officer, kinds=["critical_infrastructure"],
                      aware_at=helsinki(2026, 3, 3, 9))  # fmt: skip
    late = record(org, owner=officer, kinds=["death"], aware_at=helsinki(2026, 2, 20, 9))
    soon = record(org, owner=officer, kinds=["widespread"], aware_at=helsinki(2026, 2, 27, 9))
    reported = record(org, owner=officer, kinds=["widespread"], aware_at=helsinki(2026, 3, 3, 8))
    incident_mark_reported(incident=reported)
    client.force_login(officer)

    with django_assert_max_num_queries(11):
        response = client.get(incidents_url(org))

    rows = response.context["clocks"]
    assert [row["incident"].pk for row in rows] == [
        late.pk,
        soon.pk,
        two_days.pk,
        later.pk,
        reported.pk,
    ]
    assert [(row["hours_left"], row["soon"]) for row in rows[:4]] == [
        (-15, False),
        (9, True),
        (57, False),
        (345, False),
    ]
    html = response.content.decode()
    classes = re.findall(r'<section class="([^"]+)" aria-labelledby="incident-(\d+)"', html)
    assert classes == [
        ("clock late", str(late.pk)), ("clock soon", str(soon.pk)),
        ("clock", str(two_days.pk)), ("clock", str(later.pk)), ("clock done", str(reported.pk)),
    ]  # fmt: skip
    assert html.count('<span class="badge">less than 48 hours left</span>') == 1
    assert " style=" not in html  # a strict CSP is coming


def test_the_list_flags_an_incident_nobody_owns(client, org, officer, teammate):
    Incident.objects.create(
        organisation=org, system=org.systems.get(), kinds=["general"], member_state="FI",
        aware_at=helsinki(2026, 3, 2, 10),
    )  # fmt: skip
    record(org, owner=teammate, aware_at=helsinki(2026, 3, 2, 11))
    record(org, owner=officer, aware_at=helsinki(2026, 3, 2, 12))  # then the officer leaves
    client.force_login(teammate)
    Membership.objects.filter(organisation=org, user=officer).delete()

    html = client.get(incidents_url(org)).content.decode()

    assert (
        "<strong>No owner:</strong> the organisation's owners get its daily reminder until "
        "someone owns it."
    ) in html
    assert "<strong>Its owner, officer, is no longer a member:</strong>" in html
    assert "<p>Owner: teammate</p>" in html
    assert html.count("Choose an owner</a>") == 2
