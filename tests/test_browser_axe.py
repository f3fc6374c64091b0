"""axe-core finds no serious or critical accessibility violation on any page, in Chromium.

axe-core is the copy bundled in axe-playwright-python (axe_playwright_python/axe.min.js): it
is injected into each page, nothing is fetched. Every page of the public site is checked
anonymously, and every page of the workspace as the owner of an organisation with a system,
tracked items and an incident (the real catalogue is loaded, so the pages show what an officer
sees), at a desktop width and on a 375 px phone, where wide tables scroll.

Left out: the API's reference page (/api/v1/docs/), which Redoc renders from a vendored bundle
that is not ours to fix (its schema is tested in tests/test_api_schema.py), and the change log
feed (/changes.atom), which is XML for feed readers; the changes are shown on each milestone
page, checked here on an amended one. The data is written before Playwright starts (see
tests/conftest.py, "Real browser").
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.test import Client
from django.utils import timezone

from tests.factories import UserFactory, acme_organisation
from tracker.accounts.services import email_verify
from tracker.catalogue.models import Milestone
from tracker.catalogue.pack_load import catalogue_load_file
from tracker.workspace.facts_links import facts_link_encode
from tracker.workspace.models import Incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REAL_PACKS = sorted((Path(__file__).resolve().parent.parent / "fixtures").glob("*.yaml"))
BLOCKING = {"serious", "critical"}
CHECKER_ANSWERS = {
    "company": {"established_in_eu": True},
    "systems": [
        {"name": "CV screener", "roles": ["provider"], "risk": "high_risk_annex_iii",
         "annex_iii_point": "4a", "placed_on_market": "2027-01-04"}
    ],
}  # fmt: skip


@pytest.fixture
def site(live_server) -> dict:
    """The live server with the real catalogue, and Ada's "Acme AI" with its CV screener, its
    items and an incident; Ada's session, for the browser."""
    for path in REAL_PACKS:
        catalogue_load_file(path=path)
    ada = UserFactory(username="ada", email="ada@example.org")
    email_verify(user=ada, email=ada.email)
    org = acme_organisation(ada)
    item = org.items.filter(applies=True).order_by("pk").first()
    incident = Incident.objects.create(
        organisation=org, system=org.systems.get(), kinds=["general"], member_state="FR",
        aware_at=timezone.now() - dt.timedelta(hours=5), description="A wrong rejection",
        owner=ada,
    )  # fmt: skip
    client = Client()
    client.force_login(ada)
    amended = Milestone.objects.exclude(original_date=None).order_by("key").first()
    return {
        "url": live_server.url,
        "session": client.cookies["sessionid"].value,
        "public": [
            "/",
            f"/milestones/{amended.key}/",  # a date moved, with its change log
            "/?role=provider&category=application",
            "/subscriptions/",
            "/check/",
            f"/check/result/?f={facts_link_encode(CHECKER_ANSWERS)}",
            "/for-companies/",
            "/accounts/login/",
            "/accounts/signup/",
            "/accounts/password_reset/",
            "/no-such-page/",
        ],
        "workspace": [
            "/w/",
            f"/w/{org.slug}/",
            f"/w/{org.slug}/items/{item.pk}/",
            f"/w/{org.slug}/systems/",
            f"/w/{org.slug}/profile/",
            f"/w/{org.slug}/members/",
            f"/w/{org.slug}/incidents/",
            f"/w/{org.slug}/incidents/{incident.pk}/",
            f"/w/{org.slug}/dashboard/",
            f"/w/{org.slug}/my-reminders/",
            f"/w/{org.slug}/evidence/",
            f"/w/{org.slug}/evidence/add/",
            f"/w/import/?f={facts_link_encode(CHECKER_ANSWERS)}",
        ],
    }


def _violations(page, url: str) -> list[str]:
    page.goto(url)
    results = Axe().run(page)
    return [
        f"{url}: {v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(f"{node['target']} {node['html'][:160]}" for node in v["nodes"][:5])
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


def test_the_public_site_has_no_serious_or_critical_violation(site, page):
    found = [v for path in site["public"] for v in _violations(page, site["url"] + path)]

    assert found == []


def test_the_workspace_has_no_serious_or_critical_violation(site, new_page):
    page = new_page(viewport={"width": 1280, "height": 900})
    page.context.add_cookies([{"name": "sessionid", "value": site["session"], "url": site["url"]}])

    found = [v for path in site["workspace"] for v in _violations(page, site["url"] + path)]

    assert found == []


def test_every_page_on_a_phone_has_no_serious_or_critical_violation(site, new_page):
    page = new_page(viewport={"width": 375, "height": 740}, is_mobile=True)
    page.context.add_cookies([{"name": "sessionid", "value": site["session"], "url": site["url"]}])
    paths = site["public"] + site["workspace"]

    found = [v for path in paths for v in _violations(page, site["url"] + path)]

    assert found == []
