"""Tracked items never vanish and say honestly where they stand.

- An item the rules stop selecting moves to "No longer applies" on the timeline, the dashboard
  and the CSV, with what changed in words and the date; its owner is emailed once; a member can
  keep tracking it on purpose; if it applies again it comes back with its work intact.
- Every field of an item is in its history, shown as a diff, read in a fixed number of queries.
- A date that had passed before the organisation existed asks "in force: confirm you comply";
  overdue is only what someone here could still have done.
- Admin writes of systems, items and roles go through the services (or are read-only).
- Bounded target dates; a stored 9999-12-31 does not break the dashboard.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.duty_support import obligations_drop
from tests.factories import UserFactory, acme_organisation
from tracker.catalogue.models import Milestone
from tracker.catalogue.services import milestone_update
from tracker.outbox import services as outbox
from tracker.outbox.models import Message
from tracker.reminders.models import Subscription
from tracker.workspace import services
from tracker.workspace.mail_settings import owner_key
from tracker.workspace.models import AISystem, Evidence, Membership, Organisation, TrackedItem
from tracker.workspace.selectors import item_history

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")
NOW = dt.datetime(2026, 12, 1, 10, tzinfo=BRUSSELS)
ANNEX_III = "ai-act-high-risk-annex-iii-apply"  # 2 December 2027
ANNEX_III_TITLE = "High-risk obligations apply to Annex III systems"
NO_LONGER_HIGH_RISK = (
    "The rules no longer select it since the system “CV screener” is no longer high-risk "
    "(now “Other (not high-risk, not prohibited)”)."
)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def org(officer, ai_act_catalogue):
    # Each item here is a milestone tracked as a whole; duties: tests/test_duties.py.
    obligations_drop()
    return acme_organisation(officer)


@pytest.fixture
def worked(org, officer):
    """The Annex III item, taken on: owner, status, target date, notes, evidence."""
    item = org.items.get(milestone__key=ANNEX_III)
    services.item_update(
        item=item, by=officer, owner=officer, status="in_progress",
        target_date=dt.date(2027, 9, 30), notes="Gap analysis started",
    )  # fmt: skip
    Evidence.objects.create(organisation=org, title="Gap analysis",
                            link="https://example.org/gap-analysis").covers.add(item)  # fmt: skip
    return item


def _url(name, org, **kwargs):
    return reverse(f"workspace:{name}", kwargs={"slug": org.slug, **kwargs})


def _system_form(system, **changes):
    data = {
        "name": system.name, "purpose": system.purpose, "roles": system.roles,
        "risk_class": system.risk_class, "annex_iii_point": system.annex_iii_point,
        "annex_i_section": system.annex_i_section, "art50": system.art50,
        "placed_on_market": system.placed_on_market.isoformat() if system.placed_on_market
        else "", "art25": system.art25,
    }  # fmt: skip
    data.update(changes)
    return {key: value for key, value in data.items() if value not in (None, False)}


def _no_longer_high_risk(client, org):
    system = org.systems.get()
    response = client.post(
        _url("system", org, pk=system.pk),
        _system_form(system, risk_class="other", annex_iii_point=""),
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def _high_risk_again(client, org):
    system = org.systems.get()
    response = client.post(
        _url("system", org, pk=system.pk),
        _system_form(system, risk_class="high_risk_annex_iii", annex_iii_point="4a"),
    )
    assert response.status_code == 302


def _section(html: str, heading_id: str) -> str:
    """The HTML of the <section> whose heading has this id ("" when there is none)."""
    start = html.find(f'<h2 id="{heading_id}"')
    if start < 0:
        return ""
    return html[start : html.find("</section>", start)]


def _stopped_notices():
    return Message.objects.filter(kind="item_stopped")


# Nothing vanishes -------------------------------------------------------------------------------


def test_an_item_that_stops_applying_moves_to_its_own_section_with_the_reason_and_date(
    client, officer, org, worked
):
    client.force_login(officer)

    _no_longer_high_risk(client, org)

    item = TrackedItem.objects.get(pk=worked.pk)
    assert (item.applies, item.stopped_at, item.stopped_reason) == (
        False, NOW, NO_LONGER_HIGH_RISK,
    )  # fmt: skip
    html = client.get(_url("timeline", org)).content.decode()
    stopped = _section(html, "h-stopped")
    assert ANNEX_III_TITLE in stopped
    assert 'No longer applies since <time datetime="2026-12-01">1 December 2026</time>' in (stopped)
    assert NO_LONGER_HIGH_RISK in stopped
    assert "Keep tracking it anyway" in stopped
    for section in ("h-overdue", "h-to-confirm", "h-upcoming", "h-relative", "h-closed"):
        assert ANNEX_III_TITLE not in _section(html, section), section
    # Its work is all there
    assert (item.status, item.owner, item.target_date, item.notes) == (
        "in_progress", officer, dt.date(2027, 9, 30), "Gap analysis started",
    )  # fmt: skip
    assert [piece.title for piece in item.evidence.all()] == ["Gap analysis"]
    # The item page says so, and why it applied
    page = client.get(_url("item", org, pk=item.pk)).content.decode()
    assert "No longer applies" in page and NO_LONGER_HIGH_RISK in page
    assert "Why it applied" in page and "CV screener" in page
    assert " style=" not in html and " style=" not in page  # ready for a strict CSP


def test_the_dashboard_and_the_export_list_it_apart_with_the_reason(client, officer, org, worked):
    client.force_login(officer)
    before = client.get(_url("dashboard", org)).content.decode()
    total = int(before.split('class="dash-status" role="status">', 1)[1].split(" ", 1)[0])

    _no_longer_high_risk(client, org)

    html = client.get(_url("dashboard", org)).content.decode()
    stopped = html.split('id="no-longer-applies"', 1)[1].split("</section>", 1)[0]
    assert ANNEX_III_TITLE in stopped and NO_LONGER_HIGH_RISK in stopped
    assert "1 December 2026" in stopped
    gone = org.items.filter(applies=False).count()
    assert f"{total - gone} tracked items apply." in html
    rows = list(
        csv.reader(io.StringIO(client.get(_url("export", org)).content.decode("utf-8-sig")))
    )
    row = next(r for r in rows if r[0] == ANNEX_III)
    assert row[5:8] == ["In progress", "officer", "Gap analysis started"]
    assert row[9:12] == ["No longer", "2026-12-01", NO_LONGER_HIGH_RISK]
    assert row[-1] == "Gap analysis"  # its evidence, kept
    assert len(rows) == 1 + org.items.count()  # every item, none vanished


def test_the_owner_is_emailed_once_and_the_email_says_why(
    client, officer, org, worked, smtp_server
):
    client.force_login(officer)

    _no_longer_high_risk(client, org)
    system = org.systems.get()
    client.post(_url("system", org, pk=system.pk), _system_form(system, name="CV sorter"))
    services.tracking_sync(organisation=org)

    (notice,) = _stopped_notices()
    assert notice.to_email == "officer@example.org"
    assert notice.subject == f"No longer applies: {ANNEX_III_TITLE}"
    assert "List-Unsubscribe" not in notice.headers  # a one-off notice, not list mail
    outbox.messages_send(message_ids=[notice.pk])
    (received,) = smtp_server.messages
    body = received.get_payload(decode=True).decode()
    assert received["To"] == "officer@example.org"
    assert f"Why: {NO_LONGER_HIGH_RISK}" in body
    assert "Since: 1 December 2026" in body
    assert f"/w/{org.slug}/items/{worked.pk}/" in body
    # Items nobody owns stopped too, and nobody was emailed about them
    assert org.items.filter(applies=False, owner=None).exists()


def test_the_owner_reminders_stop_and_restart_with_the_item(client, officer, org, worked):
    client.force_login(officer)
    key = owner_key(organisation_id=org.pk, user_id=officer.pk)
    followed = lambda: set(  # noqa: E731
        Subscription.objects.get(owner_key=key).milestones.values_list("key", flat=True)
    )
    assert ANNEX_III in followed()

    _no_longer_high_risk(client, org)
    assert ANNEX_III not in followed()

    _high_risk_again(client, org)
    assert ANNEX_III in followed()


def test_a_member_keeps_tracking_it_on_purpose_and_can_let_it_go(client, officer, org, worked):
    client.force_login(officer)
    _no_longer_high_risk(client, org)
    item_url = _url("item", org, pk=worked.pk)

    response = client.post(item_url, {"keep": "keep"})

    assert response.status_code == 302
    assert response.url == _url("timeline", org) + f"#item-{worked.pk}"
    item = TrackedItem.objects.get(pk=worked.pk)
    assert (item.applies, item.kept_at, item.kept_by) == (False, NOW, officer)
    html = client.get(_url("timeline", org)).content.decode()
    assert ANNEX_III_TITLE not in _section(html, "h-stopped")
    upcoming = _section(html, "h-upcoming")
    assert ANNEX_III_TITLE in upcoming and "Kept on purpose" in upcoming
    assert "No longer selected by the rules; kept on purpose by officer" in upcoming
    assert NO_LONGER_HIGH_RISK in upcoming
    assert ANNEX_III in {i.milestone.key for i in TrackedItem.objects.tracked()}
    assert item.history.first().history_user == officer

    client.post(item_url, {"keep": "stop"})

    item.refresh_from_db()
    assert item.kept_at is None
    assert ANNEX_III_TITLE in _section(
        client.get(_url("timeline", org)).content.decode(), "h-stopped"
    )


def test_keeping_asks_for_an_item_that_no_longer_applies_and_a_known_choice(
    client, officer, org, worked, viewer
):
    client.force_login(officer)
    item_url = _url("item", org, pk=worked.pk)

    applying = client.post(item_url, {"keep": "keep"})
    _no_longer_high_risk(client, org)
    odd = client.post(item_url, {"keep": "forever"})
    client.force_login(viewer)
    refused = client.post(item_url, {"keep": "keep"})

    assert applying.status_code == 400
    assert "Only an item that no longer applies" in applying.content.decode()
    assert odd.status_code == 400
    assert refused.status_code == 403
    assert TrackedItem.objects.get(pk=worked.pk).kept_at is None


def test_an_item_that_applies_again_comes_back_intact(client, officer, org, worked):
    client.force_login(officer)
    _no_longer_high_risk(client, org)
    client.post(_url("item", org, pk=worked.pk), {"keep": "keep"})

    _high_risk_again(client, org)

    item = TrackedItem.objects.get(pk=worked.pk)
    assert (item.applies, item.stopped_at, item.stopped_reason, item.kept_at) == (
        True, None, "", None,
    )  # fmt: skip
    assert (item.status, item.owner, item.target_date, item.notes) == (
        "in_progress", officer, dt.date(2027, 9, 30), "Gap analysis started",
    )  # fmt: skip
    assert [piece.title for piece in item.evidence.all()] == ["Gap analysis"]
    assert any("CV screener" in r["text"] for r in item.reasons)
    html = client.get(_url("timeline", org)).content.decode()
    assert ANNEX_III_TITLE in _section(html, "h-upcoming")
    assert _section(html, "h-stopped") == ""
    assert org.items.filter(milestone__key=ANNEX_III).count() == 1


def test_a_notice_still_queued_when_it_applies_again_is_withdrawn(client, officer, org, worked):
    client.force_login(officer)

    _no_longer_high_risk(client, org)
    _high_risk_again(client, org)

    (notice,) = _stopped_notices()
    assert notice.status == Message.Status.CANCELLED
    assert notice.last_error == "Not sent: the item applies again."


def test_stopping_again_later_is_a_new_notice(client, officer, org, worked):
    client.force_login(officer)
    _no_longer_high_risk(client, org)
    _high_risk_again(client, org)

    with time_machine.travel(NOW + dt.timedelta(days=3), tick=False):
        _no_longer_high_risk(client, org)

    notices = list(_stopped_notices().order_by("pk").values_list("status", flat=True))
    assert notices == [Message.Status.CANCELLED, Message.Status.QUEUED]


def test_a_company_fact_says_what_changed_about_the_company(client, officer, org):
    client.force_login(officer)
    system = org.systems.get()
    client.post(_url("system", org, pk=system.pk), _system_form(system, roles=["deployer"]))
    client.post(_url("profile", org), {"established_in_eu": "on", "public_body": "on"})
    fria = org.items.get(milestone__key="ai-act-fria")
    assert fria.applies

    client.post(_url("profile", org), {"established_in_eu": "on"})

    fria.refresh_from_db()
    assert not fria.applies
    assert fria.stopped_reason == (
        "The rules no longer select it since the company is no longer recorded as “A body "
        "governed by public law”."
    )


def test_a_withdrawn_milestone_says_the_catalogue_withdrew_it(org, editor, after_commit):
    milestone = Milestone.objects.get(key=ANNEX_III)

    with after_commit():
        milestone_update(milestone=milestone, values={"status": "withdrawn"}, origin="admin",
                         by=editor)  # fmt: skip

    item = org.items.get(milestone=milestone)
    assert not item.applies
    assert item.stopped_reason == (
        "The catalogue now marks this milestone “withdrawn”: it is no longer a date to meet."
    )


def test_the_relative_deadline_reads_as_a_sentence(client, officer, org):
    client.force_login(officer)

    html = client.get(_url("timeline", org)).content.decode()

    assert (
        "Within 15 days after the provider (or, where applicable, the deployer) becomes aware "
        "of a serious incident"
    ) in html
    assert "days of the" not in html


# History ----------------------------------------------------------------------------------------


def test_every_field_is_in_the_history_as_old_and_new(client, officer, teammate, org):
    Membership.objects.create(organisation=org, user=teammate, role="editor")
    item = org.items.get(milestone__key=ANNEX_III)
    client.force_login(officer)
    url = _url("item", org, pk=item.pk)
    base = {"status": "not_started", "not_applicable_reason": "", "owner": "", "target_date": "",
            "notes": ""}  # fmt: skip

    client.post(url, {**base, "owner": officer.pk, "notes": "First look"})
    client.post(url, {**base, "owner": officer.pk, "notes": "First look"})  # nothing changes
    client.post(url, {**base, "owner": teammate.pk, "notes": "Gap analysis",
                      "target_date": "2027-06-30"})  # fmt: skip

    entries = item_history(item=item)
    assert len(entries) == 3  # the two real edits and the creation; the empty save wrote nothing
    latest = {c.label: (c.old, c.new) for c in entries[0].changes}
    assert latest == {
        "Owner": ("officer", "teammate"),
        "Target date": ("—", "30 June 2027"),
        "Notes": ("First look", "Gap analysis"),
    }
    assert entries[0].user == officer
    assert {c.label: (c.old, c.new) for c in entries[1].changes} == {
        "Owner": ("—", "officer"), "Notes": ("—", "First look"),
    }  # fmt: skip
    assert entries[-1].created and entries[-1].user is None
    page = client.get(url).content.decode()
    assert "<dt>Notes</dt><dd><del>First look</del>" in page
    assert "<ins>Gap analysis</ins>" in page
    assert "started tracking" in page


def test_the_stop_and_the_return_are_in_the_history_too(client, officer, org, worked):
    client.force_login(officer)
    _no_longer_high_risk(client, org)

    latest = item_history(item=worked)[0]

    assert latest.user == officer  # whose change of the system made it stop
    changes = {c.label: (c.old, c.new) for c in latest.changes}
    assert changes["Selected by the rules"] == ("yes", "no")
    assert changes["Why it no longer applies"] == ("—", NO_LONGER_HIGH_RISK)
    assert changes["No longer applies since"] == ("—", "1 December 2026, 10:00")


@pytest.mark.parametrize("edits", [1, 25])
def test_the_item_page_reads_its_history_in_a_fixed_number_of_queries(
    client, officer, teammate, org, edits, django_assert_num_queries
):
    Membership.objects.create(organisation=org, user=teammate, role="editor")
    item = org.items.get(milestone__key=ANNEX_III)
    for n in range(edits):
        services.item_update(item=item, by=teammate if n % 2 else officer,
                             owner=officer if n % 2 else teammate, notes=f"Edit {n}")  # fmt: skip
    client.force_login(officer)
    url = _url("item", org, pk=item.pk)
    client.get(url)

    # session, user, membership, org menu count, item, history rows (with their authors),
    # the owners they name, the form's member list, its evidence pieces
    with django_assert_num_queries(9):
        response = client.get(url)

    assert response.status_code == 200
    assert response.content.decode().count("<dt>Notes</dt>") == min(edits, 20)


# Honest states ----------------------------------------------------------------------------------


def test_day_one_shows_nothing_overdue_for_dates_in_force_before_the_organisation(
    client, officer, org
):
    client.force_login(officer)

    html = client.get(_url("timeline", org)).content.decode()
    board = client.get(_url("dashboard", org)).content.decode()

    assert "Overdue (" not in html
    confirm = _section(html, "h-to-confirm")
    in_force = org.items.filter(status="to_confirm")
    assert {i.milestone.key for i in in_force} >= {
        "ai-act-ai-literacy-applies", "ai-act-prohibitions-apply", "ai-act-general-application",
    }  # fmt: skip
    assert f"In force: confirm you comply ({in_force.count()})" in confirm
    assert all(i.milestone.date <= dt.date(2026, 12, 1) for i in in_force)
    assert org.items.filter(status="not_started", milestone__date__lte=NOW.date()).count() == 0
    assert 'id="count-overdue">0<' in board
    assert f'id="count-to-confirm">{in_force.count()}<' in board
    assert TrackedItem.objects.overdue(NOW.date()).count() == 0


def test_overdue_is_what_someone_here_could_still_have_done(client, officer, org):
    literacy = org.items.get(milestone__key="ai-act-ai-literacy-applies")  # 2 February 2025
    services.item_update(item=literacy, by=officer, target_date=dt.date(2026, 12, 15))
    new_prohibitions = org.items.get(milestone__key="ai-act-omnibus-new-prohibitions-apply")
    later = dt.datetime(2027, 1, 10, 10, tzinfo=BRUSSELS)

    with time_machine.travel(later, tick=False):
        client.force_login(officer)
        html = client.get(_url("timeline", org)).content.decode()
        overdue = {i.milestone.key for i in TrackedItem.objects.overdue(later.date())}

    # the team's own target date, and a legal date after the organisation joined
    assert overdue == {"ai-act-ai-literacy-applies", "ai-act-omnibus-new-prohibitions-apply"}
    assert new_prohibitions.milestone.date == dt.date(2026, 12, 2)
    assert "Overdue (2)" in html
    assert "ai-act-general-application" not in overdue
    assert "Gpai" not in html


def test_python_and_sql_agree_on_overdue(officer, org):
    today = dt.date(2027, 3, 1)
    items = list(org.items.select_related("milestone", "organisation"))
    for n, item in enumerate(items):  # every status, with and without a target date
        item.status = TrackedItem.Status.values[n % 5]
        item.not_applicable_reason = "n/a"
        item.target_date = [None, dt.date(2027, 2, 1), dt.date(2027, 4, 1)][n % 3]
        item.save()

    in_sql = set(TrackedItem.objects.overdue(today).values_list("pk", flat=True))

    assert in_sql == {item.pk for item in items if item.is_overdue(today)}
    assert in_sql  # the case is not empty


# Admin goes through the services ----------------------------------------------------------------


def test_an_admin_edit_of_a_system_keeps_tracking_in_step(client, admin_user, officer, org, worked):
    system = org.systems.get()
    client.force_login(admin_user)
    url = reverse("admin:workspace_aisystem_change", args=[system.pk])
    data = {**_system_form(system, risk_class="other", annex_iii_point=""),
            "organisation": org.pk}  # fmt: skip

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    item = TrackedItem.objects.get(pk=worked.pk)
    assert (item.applies, item.stopped_reason) == (False, NO_LONGER_HIGH_RISK)
    assert system.history.first().history_user == admin_user
    assert _stopped_notices().count() == 1


def test_the_admin_refuses_a_system_the_checker_would_refuse(client, admin_user, org):
    system = org.systems.get()
    client.force_login(admin_user)
    url = reverse("admin:workspace_aisystem_change", args=[system.pk])
    data = {**_system_form(system, risk_class="other", annex_iii_point="4a"),
            "organisation": org.pk}  # fmt: skip

    response = client.post(url, data)

    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    assert org.items.filter(applies=False).count() == 0


def test_an_admin_removes_a_system_and_its_items_say_so(client, admin_user, org, worked):
    system = org.systems.get()
    client.force_login(admin_user)

    response = client.post(reverse("admin:workspace_aisystem_delete", args=[system.pk]),
                           {"post": "yes"})  # fmt: skip

    assert response.status_code == 302
    item = TrackedItem.objects.get(pk=worked.pk)
    assert item.stopped_reason == (
        "The rules no longer select it since the system “CV screener” was removed from the "
        "inventory."
    )


def test_an_admin_edit_of_an_item_goes_through_item_update(
    client, admin_user, officer, teammate, org, worked
):
    Membership.objects.create(organisation=org, user=teammate, role="editor")
    client.force_login(admin_user)
    url = reverse("admin:workspace_trackeditem_change", args=[worked.pk])
    form = {"status": "done", "not_applicable_reason": "", "owner": teammate.pk,
            "target_date": "2027-09-30", "notes": "Closed by support"}  # fmt: skip

    response = client.post(url, form)

    assert response.status_code == 302, response.content.decode()[:3000]
    item = TrackedItem.objects.get(pk=worked.pk)
    assert (item.status, item.owner, item.notes) == ("done", teammate, "Closed by support")
    latest = item_history(item=item)[0]
    assert latest.user == admin_user
    assert {c.label for c in latest.changes} == {"Status", "Owner", "Notes"}
    # the owners' reminders followed: the new owner's item is done, the old one owns nothing
    for user in (officer, teammate):
        key = owner_key(organisation_id=org.pk, user_id=user.pk)
        subscription = Subscription.objects.filter(owner_key=key).first()
        assert subscription is None or not subscription.milestones.exists()


def test_the_admin_refuses_an_owner_from_outside_the_organisation(client, admin_user, org, worked):
    stranger = UserFactory(username="stranger")
    client.force_login(admin_user)
    url = reverse("admin:workspace_trackeditem_change", args=[worked.pk])

    response = client.post(url, {"status": "in_progress", "owner": stranger.pk,
                                 "notes": ""})  # fmt: skip

    assert response.status_code == 200
    assert "The owner must be a member of the organisation." in response.content.decode()
    assert TrackedItem.objects.get(pk=worked.pk).owner_id != stranger.pk


def test_the_admin_cannot_add_or_delete_items(client, admin_user, org, worked):
    client.force_login(admin_user)

    assert client.get(reverse("admin:workspace_trackeditem_add")).status_code == 403
    delete = reverse("admin:workspace_trackeditem_delete", args=[worked.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert TrackedItem.objects.filter(pk=worked.pk).exists()


def test_admin_company_facts_go_through_the_service_and_roles_are_read_only(
    client, admin_user, officer, teammate, org
):
    membership = Membership.objects.create(organisation=org, user=teammate, role="viewer")
    system = org.systems.get()
    system.roles = ["deployer"]
    services.system_save(system=system)
    services.organisation_set_facts(organisation=org, established_in_eu=True, public_body=True,
                                    provides_public_services=False)  # fmt: skip
    client.force_login(admin_user)
    url = reverse("admin:workspace_organisation_change", args=[org.pk])
    page = client.get(url).content.decode()

    response = client.post(url, {
        "name": "Acme AI SA", "established_in_eu": "on",
        # a forged inline: the members are read-only and stay as they are
        "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "1",
        "memberships-0-id": membership.pk, "memberships-0-role": "owner",
        "memberships-0-organisation": org.pk,
    })  # fmt: skip

    assert response.status_code == 302, response.content.decode()[:3000]
    org.refresh_from_db()
    assert (org.name, org.public_body) == ("Acme AI SA", False)
    fria = org.items.get(milestone__key="ai-act-fria")
    assert "no longer recorded as “A body governed by public law”" in fria.stopped_reason
    membership.refresh_from_db()
    assert membership.role == "viewer"
    assert 'name="memberships-0-role"' not in page
    assert client.get(reverse("admin:workspace_organisation_add")).status_code == 403


# Bounded dates ----------------------------------------------------------------------------------


def test_a_target_date_beyond_2100_is_refused_with_a_message(client, officer, org):
    item = org.items.get(milestone__key=ANNEX_III)
    client.force_login(officer)

    response = client.post(_url("item", org, pk=item.pk), {
        "status": "in_progress", "target_date": "9999-12-31", "notes": "", "evidence": "",
        "not_applicable_reason": "",
    })  # fmt: skip
    api = client.patch(f"/api/v1/organisations/{org.slug}/items/{item.pk}/",
                       {"target_date": "9999-12-31"}, content_type="application/json")  # fmt: skip

    message = "Choose a target date between 1 January 2000 and 31 December 2100."
    assert response.status_code == 400
    assert message in response.content.decode()
    assert api.status_code == 400
    assert api.json() == {"target_date": [message]}
    item.refresh_from_db()
    assert item.target_date is None


@pytest.mark.parametrize("stored", [dt.date(9999, 12, 31), dt.date(1, 1, 1)])
def test_a_dashboard_copes_with_any_date_already_stored(client, officer, org, stored):
    TrackedItem.objects.filter(organisation=org, milestone__key=ANNEX_III).update(
        target_date=stored
    )
    client.force_login(officer)

    dashboard = client.get(_url("dashboard", org))
    timeline = client.get(_url("timeline", org))
    export = client.get(_url("export", org))

    assert (dashboard.status_code, timeline.status_code, export.status_code) == (200, 200, 200)
    html = dashboard.content.decode()
    assert "is not drawn." in html
    chart = html.split('<svg id="timeline-chart"', 1)[1].split("</svg>", 1)[0]
    assert ">Today</text>" in chart
    assert all(0 <= float(x.split('%"', 1)[0]) <= 100 for x in chart.split(' cx="')[1:]), (
        "a dot outside the chart"
    )


def test_the_chart_always_shows_today_and_the_years_ahead(client, officer, org):
    client.force_login(officer)

    html = client.get(_url("dashboard", org)).content.decode()

    chart = html.split('<svg id="timeline-chart"', 1)[1].split("</svg>", 1)[0]
    assert 'width="100%"' in chart and "viewBox" not in chart  # fits the screen it is on
    assert ">Today</text>" in chart
    years = [int(t.split("<", 1)[0]) for t in chart.split('fill="#1b1f24">')[1:] if t[:1] == "2"]
    assert min(years) <= 2026 < 2027 <= max(years)


# Staff overview ---------------------------------------------------------------------------------


def test_the_staff_overview_counts_items_kept_on_purpose_and_honest_overdue(
    client, officer, org, worked
):
    staff = UserFactory(username="support", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_organisation"))
    client.force_login(officer)
    _no_longer_high_risk(client, org)
    client.post(_url("item", org, pk=worked.pk), {"keep": "keep"})
    client.force_login(staff)

    html = client.get(reverse("workspace:staff_dashboard")).content.decode()

    tracked = TrackedItem.objects.tracked().filter(organisation=org).count()
    row = html.split("Acme AI <small>", 1)[1].split("</tr>", 1)[0]
    cells = [c.split("<", 1)[0] for c in row.split("<td>")[1:]]
    assert cells[2] == str(tracked)  # items applying or kept
    assert cells[-1] == "0"  # nothing overdue on day one


def test_organisation_created_at_is_the_day_the_honest_state_turns_on(officer, ai_act_catalogue):
    """An organisation created later than a date starts that item as "to confirm"; one created
    before it, as "not started" (the rule uses the organisation's creation date)."""
    early = acme_organisation(officer)
    Organisation.objects.filter(pk=early.pk).update(
        created_at=dt.datetime(2025, 1, 1, tzinfo=BRUSSELS)
    )
    early.refresh_from_db()
    early.items.all().delete()

    services.tracking_sync(organisation=early)

    literacy = early.items.get(milestone__key="ai-act-ai-literacy-applies")
    assert literacy.status == "not_started"
    assert literacy.is_overdue(NOW.date())


def test_a_system_added_later_starts_dated_items_honestly(officer, org):
    services.system_save(system=AISystem(organisation=org, name="Bot", roles=["provider"],
                                         risk_class="other", art50=["interacts"]))  # fmt: skip

    item = org.items.select_related("milestone").get(
        milestone__key="ai-act-transparency-interaction"
    )
    assert item.milestone.date <= NOW.date()
    assert item.status == "to_confirm"
    assert not item.is_overdue(NOW.date())


# The migration ----------------------------------------------------------------------------------


CATALOGUE_BEFORE_EXPLAINER = ("catalogue", "0009_editors_edit_obligations")


def _latest():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _migrate(targets):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_migration_0005_makes_existing_items_honest_and_dates_the_retired_ones():
    # The catalogue as it was then too (its milestones' `notes` became `editor_note` later)
    old = _migrate([("workspace", "0004_owner_mail_settings"), CATALOGUE_BEFORE_EXPLAINER])
    regulation = old.get_model("catalogue", "Regulation").objects.create(
        key="eu-ai-act", short_name="AI Act", title="AI Act", source_url="https://example.org"
    )

    def milestone(key, date):
        return old.get_model("catalogue", "Milestone").objects.create(
            regulation=regulation, key=key, title=key, kind="fixed", date=date,
            category="application", status="in_force", confidence="high",
            legal_basis="Art. 113", source_url="https://example.org",
        )  # fmt: skip

    organisation_model = old.get_model("workspace", "Organisation")
    acme = organisation_model.objects.create(name="Acme", slug="acme")
    organisation_model.objects.filter(pk=acme.pk).update(
        created_at=dt.datetime(2026, 3, 1, 12, tzinfo=BRUSSELS)
    )
    item_model = old.get_model("workspace", "TrackedItem")
    history = old.get_model("workspace", "HistoricalTrackedItem")
    rows = {
        "before": dict(date=dt.date(2025, 2, 2)),
        "same-day": dict(date=dt.date(2026, 3, 1)),
        "after": dict(date=dt.date(2026, 8, 2)),
        "planned": dict(date=dt.date(2025, 2, 2), target_date=dt.date(2026, 6, 1)),
        "working": dict(date=dt.date(2025, 2, 2), status="in_progress"),
        "retired": dict(date=dt.date(2025, 2, 2), status="done", applies=False),
    }
    items = {}
    for key, fields in rows.items():
        date = fields.pop("date")
        items[key] = item_model.objects.create(
            organisation=acme, milestone=milestone(key, date), reasons=[], **fields
        )
    retired = items["retired"]
    for when, applies in [(dt.datetime(2026, 3, 1, 12, tzinfo=BRUSSELS), True),
                          (dt.datetime(2026, 5, 4, 9, tzinfo=BRUSSELS), False),
                          (dt.datetime(2026, 6, 1, 9, tzinfo=BRUSSELS), False)]:  # fmt: skip
        history.objects.create(
            id=retired.pk, organisation_id=acme.pk, milestone_id=retired.milestone_id,
            status="done", reasons=[], applies=applies,
            history_date=when, history_type="~",
        )  # fmt: skip

    try:
        new = _migrate([("workspace", "0005_item_lifecycle"), CATALOGUE_BEFORE_EXPLAINER])
        found = {
            i.milestone.key: i for i in new.get_model("workspace", "TrackedItem").objects.all()
        }

        assert {key: found[key].status for key in rows} == {
            "before": "to_confirm", "same-day": "to_confirm", "after": "not_started",
            "planned": "not_started", "working": "in_progress", "retired": "done",
        }  # fmt: skip
        assert found["retired"].stopped_at == dt.datetime(2026, 5, 4, 9, tzinfo=BRUSSELS)
        assert "before Jalon recorded what changed" in found["retired"].stopped_reason
        assert found["before"].stopped_at is None
        written = new.get_model("workspace", "HistoricalTrackedItem").objects.filter(
            history_change_reason__startswith="Jalon 0005"
        )
        assert sorted(written.values_list("id", flat=True)) == sorted(
            [items["before"].pk, items["same-day"].pk, retired.pk]
        )
    finally:
        _migrate(_latest())


def test_the_api_lists_stopped_items_on_request_and_says_why(client, org, officer, worked):
    client.force_login(officer)
    _no_longer_high_risk(client, org)
    base = f"/api/v1/organisations/{org.slug}/items/"

    timeline = client.get(base).json()["results"]
    everything = client.get(base, {"include": "stopped"}).json()["results"]
    detail = client.get(f"{base}{worked.pk}/").json()
    wrong = client.get(base, {"include": "everything"})

    assert worked.pk not in [row["id"] for row in timeline]
    stopped = next(row for row in everything if row["id"] == worked.pk)
    assert stopped == detail
    assert stopped["on_timeline"] is False and stopped["applies"] is False
    assert stopped["stopped_reason"] == NO_LONGER_HIGH_RISK
    assert stopped["stopped_at"].startswith("2026-12-01")
    assert stopped["notes"] == "Gap analysis started" and stopped["owner"] == officer.username
    assert wrong.status_code == 400
    assert wrong.json() == {"include": ["Leave it out, or use include=stopped."]}
