"""The compliance officer's workspace: organisations, inventory, tracking, tenant isolation."""

import datetime as dt
import re

import pytest
from django.http import HttpRequest
from django.urls import reverse

from tests.duty_support import obligations_drop
from tests.factories import acme_organisation
from tracker.accounts.services import email_verify
from tracker.catalogue.models import Milestone
from tracker.catalogue.services import milestone_amend
from tracker.outbox.models import Message
from tracker.workspace import services
from tracker.workspace.models import AISystem, Incident, Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(officer, ai_act_catalogue):
    # Each item here is a milestone tracked as a whole; duties: tests/test_duties.py.
    obligations_drop()
    return acme_organisation(officer)


def test_creating_an_organisation_makes_its_creator_owner(client, officer):
    client.force_login(officer)

    response = client.post(reverse("workspace:home"), {"name": "Acme AI"})

    membership = Membership.objects.get(user=officer)
    assert (membership.organisation.slug, membership.role) == ("acme-ai", "owner")
    assert response.url == reverse("workspace:timeline", kwargs={"slug": "acme-ai"})


def test_the_personal_timeline_shows_what_applies_and_why(client, officer, org):
    client.force_login(officer)

    response = client.get(reverse("workspace:timeline", kwargs={"slug": org.slug}))

    assert response.status_code == 200
    keys = set(org.items.filter(applies=True).values_list("milestone__key", flat=True))
    assert "ai-act-high-risk-annex-iii-apply" in keys
    html = response.content.decode()
    assert "CV screener" in html  # the reason names the system
    item = org.items.get(milestone__key="ai-act-high-risk-annex-iii-apply")
    assert any("CV screener" in r["text"] for r in item.reasons)


def test_removing_a_system_retires_its_items_but_keeps_them(client, officer, org):
    org.systems.get().delete()
    from tracker.workspace.services import tracking_sync

    tracking_sync(organisation=org)

    item = org.items.get(milestone__key="ai-act-high-risk-annex-iii-apply")
    assert item.applies is False


def test_an_editor_tracks_an_item_and_the_change_is_in_its_history(client, officer, org):
    item = org.items.get(milestone__key="ai-act-high-risk-annex-iii-apply")
    client.force_login(officer)
    url = reverse("workspace:item", kwargs={"slug": org.slug, "pk": item.pk})

    response = client.post(url, {
        "status": "in_progress", "owner": officer.pk, "target_date": "2027-06-30",
        "notes": "Gap analysis started", "not_applicable_reason": "",
    })  # fmt: skip

    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.owner, str(item.target_date)) == (
        "in_progress",
        officer,
        "2027-06-30",
    )
    assert item.notes == "Gap analysis started"
    assert item.history.first().history_user == officer


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"status": "not_applicable", "not_applicable_reason": ""}, "Say why it does not apply."),
        ({"target_date": "9999-12-31"}, "Choose a target date between 1 January 2000"),
        ({"status": "maybe"}, "Select a valid choice."),
    ],
)
def test_bad_tracking_input_is_explained_and_changes_nothing(client, officer, org, data, message):
    item = org.items.get(milestone__key="ai-act-high-risk-annex-iii-apply")
    client.force_login(officer)
    form = {"status": "in_progress", "notes": "", "not_applicable_reason": "", **data}

    response = client.post(
        reverse("workspace:item", kwargs={"slug": org.slug, "pk": item.pk}), form
    )

    assert response.status_code == 400
    assert message in response.content.decode()
    item.refresh_from_db()
    assert item.status == "not_started"


def test_an_amendment_flags_the_open_items_of_every_organisation(org, editor, after_commit):
    milestone = Milestone.objects.get(key="ai-act-high-risk-annex-iii-apply")

    with after_commit():
        milestone_amend(
            milestone=milestone, new_date=dt.date(2028, 1, 15),
            amending_act="Regulation (EU) 2099/1", source_url="https://example.org",
            confidence="low", recorded_by=editor,
        )  # fmt: skip

    assert org.items.get(milestone=milestone).changed_in_catalogue is True


def test_an_incident_starts_its_clock(client, officer, org):
    client.force_login(officer)
    system = org.systems.get()

    client.post(reverse("workspace:incidents", kwargs={"slug": org.slug}), {
        "system": system.pk, "kinds": ["critical_infrastructure"], "member_state": "BE",
        "aware_at": "2026-03-05T16:00", "description": "Outage", "owner": officer.pk,
    })  # fmt: skip
    page = client.get(reverse("workspace:incidents", kwargs={"slug": org.slug}))

    incident = Incident.objects.get()
    assert incident.kinds == ["critical_infrastructure"]
    assert "Monday 9 March 2026, 23:59" in page.content.decode()


# Tenant isolation ---------------------------------------------------------------------------


def _org_urls(org):
    item = org.items.first()
    system = org.systems.first()
    incident = Incident.objects.create(
        organisation=org, system=system, kinds=["general"], member_state="BE",
        aware_at=dt.datetime(2026, 3, 4, 10, tzinfo=dt.UTC),
    )  # fmt: skip
    slug = org.slug
    return {
        "timeline": (reverse("workspace:timeline", kwargs={"slug": slug}), None),
        "profile": (reverse("workspace:profile", kwargs={"slug": slug}),
                    {"public_body": "on"}),
        "systems": (reverse("workspace:systems", kwargs={"slug": slug}),
                    {"name": "x", "roles": ["deployer"], "risk_class": "other"}),
        "system": (reverse("workspace:system", kwargs={"slug": slug, "pk": system.pk}),
                   {"name": "renamed", "roles": ["deployer"], "risk_class": "other"}),
        "item": (reverse("workspace:item", kwargs={"slug": slug, "pk": item.pk}),
                 {"status": "done"}),
        "incidents": (reverse("workspace:incidents", kwargs={"slug": slug}),
                      {"system": system.pk, "kinds": ["general"], "member_state": "BE",
                       "aware_at": "2026-03-04T10:00"}),
        "incident_edit": (reverse("workspace:incident_edit",
                                  kwargs={"slug": slug, "pk": incident.pk}),
                          {"member_state": "FI", "kinds": ["death"],
                           "aware_at": "2026-03-04T10:00"}),
        "incident_reported": (reverse("workspace:incident_reported",
                                      kwargs={"slug": slug, "pk": incident.pk}), {}),
        "members": (reverse("workspace:members", kwargs={"slug": slug}),
                    {"email": "x@example.org", "role": "owner"}),
        "member_remove": (reverse("workspace:member_remove", kwargs={
            "slug": slug, "pk": org.memberships.get(role="owner").pk}), {}),
        "dashboard": (reverse("workspace:dashboard", kwargs={"slug": slug}), None),
        "export": (reverse("workspace:export", kwargs={"slug": slug}), None),
        "my_reminders": (reverse("workspace:my_reminders", kwargs={"slug": slug}), None),
    }  # fmt: skip


def _snapshot(org):
    return (
        (org.established_in_eu, org.public_body, org.provides_public_services),
        sorted(org.memberships.values_list("user__username", "role")),
        org.invitations.count(),
        list(org.systems.values_list("name", "risk_class", "roles")),
        list(org.items.values_list("status", flat=True)),
        list(org.incidents.values_list("kinds", "member_state", "aware_at", "reported_at")),
    )


def test_an_outsider_gets_404_on_every_organisation_url_and_changes_nothing(client, org, outsider):
    urls = _org_urls(org)
    before = _snapshot(org)
    client.force_login(outsider)

    for name, (url, data) in urls.items():
        if name not in ("incident_reported", "member_remove"):
            assert client.get(url).status_code == 404, name
        if data is not None:
            assert client.post(url, data).status_code == 404, name

    assert _snapshot(org) == before


def test_a_viewer_reads_but_every_write_is_refused_with_403(client, org, viewer):
    urls = _org_urls(org)
    before = _snapshot(org)
    client.force_login(viewer)

    for name, (url, data) in urls.items():
        if name not in ("incident_reported", "member_remove", "incident_edit"):
            assert client.get(url).status_code == 200, name
        if data is not None:
            assert client.post(url, data).status_code == 403, name

    assert _snapshot(org) == before


def test_anonymous_visitors_are_sent_to_sign_in(client, org):
    response = client.get(reverse("workspace:timeline", kwargs={"slug": org.slug}))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_signing_up_sends_a_link_that_signs_in_and_leads_to_the_workspace(client, db):
    response = client.post(reverse("signup"), {
        "email": "ada@example.org",
        "password1": "a long enough passphrase", "password2": "a long enough passphrase",
    })  # fmt: skip

    assert response.status_code == 302
    assert response.url == reverse("signup_done")
    verify = Message.objects.get(kind="verify_email", to_email="ada@example.org")
    confirmed = client.post(re.search(r"/accounts/verify/\S+/", verify.body_text).group(0))
    assert confirmed.url == reverse("workspace:home")
    assert client.get(reverse("workspace:home")).status_code == 200


def test_the_timeline_runs_a_fixed_number_of_queries(
    client, officer, org, django_assert_max_num_queries
):
    client.force_login(officer)
    url = reverse("workspace:timeline", kwargs={"slug": org.slug})

    with django_assert_max_num_queries(8):
        client.get(url)


# The organisation API ------------------------------------------------------------------------


def _api_urls(org):
    item = org.items.first()
    system = org.systems.first()
    base = f"/api/v1/organisations/{org.slug}"
    return {
        "organisation": (f"/api/v1/organisations/{org.slug}/", None),
        "items": (f"{base}/items/", None),
        "item": (f"{base}/items/{item.pk}/", {"status": "done"}),
        "systems": (f"{base}/systems/", None),
        "system": (f"{base}/systems/{system.pk}/", None),
    }


def test_the_api_lets_a_member_read_and_an_editor_update_an_item(client, officer, org):
    client.force_login(officer)
    item = org.items.get(milestone__key="ai-act-high-risk-annex-iii-apply")
    url = f"/api/v1/organisations/{org.slug}/items/{item.pk}/"

    listing = client.get(f"/api/v1/organisations/{org.slug}/items/").json()
    updated = client.patch(url, {"status": "in_progress", "owner": "officer"},
                           content_type="application/json")  # fmt: skip
    bad = client.patch(url, {"status": "not_applicable"}, content_type="application/json")

    assert "ai-act-high-risk-annex-iii-apply" in {row["milestone"] for row in listing["results"]}
    assert updated.status_code == 200
    assert (updated.json()["status"], updated.json()["owner"]) == ("in_progress", "officer")
    assert bad.status_code == 400
    assert bad.json() == {"not_applicable_reason": ["Say why it does not apply."]}
    item.refresh_from_db()
    assert item.status == "in_progress"


def test_the_api_hides_an_organisation_from_outsiders(client, org, outsider):
    before = _snapshot(org)
    client.force_login(outsider)

    for name, (url, data) in _api_urls(org).items():
        assert client.get(url).status_code == 404, name
        if data is not None:
            patched = client.patch(url, data, content_type="application/json")
            assert patched.status_code == 404, name
    assert [o["slug"] for o in client.get("/api/v1/organisations/").json()["results"]] == [
        "other-co"
    ]
    assert _snapshot(org) == before


def test_the_api_refuses_writes_from_a_viewer(client, org, viewer):
    before = _snapshot(org)
    client.force_login(viewer)

    for name, (url, data) in _api_urls(org).items():
        assert client.get(url).status_code == 200, name
        if data is not None:
            patched = client.patch(url, data, content_type="application/json")
            assert patched.status_code == 403, name
    assert _snapshot(org) == before


def test_the_api_asks_anonymous_callers_to_authenticate(client, org):
    response = client.get(f"/api/v1/organisations/{org.slug}/items/")

    assert response.status_code in (401, 403)


def test_an_editor_adds_a_system_from_the_page_and_the_timeline_follows(client, officer, org):
    client.force_login(officer)
    url = reverse("workspace:systems", kwargs={"slug": org.slug})
    assert client.get(url).status_code == 200

    response = client.post(url, {
        "name": "Frontier model", "roles": ["provider"], "risk_class": "other",
        "is_gpai_model": "on", "gpai_systemic_risk": "on", "placed_on_market": "2025-03-01",
    })  # fmt: skip
    bad = client.post(url, {
        "name": "Odd", "roles": ["provider"], "risk_class": "other", "annex_iii_point": "4a",
    })  # fmt: skip

    assert response.status_code == 302
    keys = set(org.items.filter(applies=True).values_list("milestone__key", flat=True))
    assert {"ai-act-legacy-gpai-compliance", "ai-act-gpai-systemic-risk-notification"} <= keys
    assert bad.status_code == 400
    assert org.systems.count() == 2


def test_a_forgotten_password_is_reset_by_email(client, officer):
    email_verify(user=officer, email=officer.email)
    response = client.post(reverse("password_reset"), {"email": officer.email})

    assert response.status_code == 302
    message = Message.objects.get(kind="password_reset")
    link = next(line for line in message.body_text.splitlines() if "/accounts/reset/" in line)
    path = link[link.index("/accounts/reset/") :].strip()
    form = client.get(path, follow=True)
    assert form.context["validlink"] is True
    done = client.post(form.redirect_chain[-1][0], {
        "new_password1": "another long passphrase", "new_password2": "another long passphrase",
    })  # fmt: skip
    assert done.status_code == 302
    assert client.login(
        request=HttpRequest(), username="officer", password="another long passphrase"
    )


@pytest.mark.parametrize("systems", [1, 50])
def test_the_workspace_pages_cost_the_same_queries_for_1_and_50_systems(
    client, officer, org, systems, django_assert_num_queries
):
    AISystem.objects.bulk_create(
        AISystem(organisation=org, name=f"Tool {n}", roles=["deployer"], risk_class="other",
                 art50=["interacts"])
        for n in range(systems - 1)
    )  # fmt: skip
    services.tracking_sync(organisation=org)
    client.force_login(officer)
    pages = ["timeline", "profile", "systems"]
    client.get(reverse("workspace:timeline", kwargs={"slug": org.slug}))  # session warmed

    counts = {}
    for page in pages:
        with django_assert_num_queries(QUERIES[page]) as captured:
            response = client.get(reverse(f"workspace:{page}", kwargs={"slug": org.slug}))
        assert response.status_code == 200
        counts[page] = len(captured)

    assert counts == QUERIES


QUERIES = {"timeline": 5, "profile": 4, "systems": 5}


def test_migrated_facts_are_listed_for_review_until_dismissed(client, officer, org):
    org.review_notes = ["“CV screener”: choose its point in Annex III area 4 (employment)."]
    org.save()
    client.force_login(officer)
    profile = reverse("workspace:profile", kwargs={"slug": org.slug})

    timeline = client.get(reverse("workspace:timeline", kwargs={"slug": org.slug}))
    page = client.get(profile)
    client.post(profile, {"review": "done"})

    assert "Review 1 point" in timeline.content.decode()
    assert "choose its point in Annex III area 4" in page.content.decode()
    org.refresh_from_db()
    assert org.review_notes == []


def test_an_organisation_never_takes_a_reserved_address(officer):
    organisation = services.organisation_create(name="Import", owner=officer)
    assert organisation.slug == "import-co"
