"""Recording a serious incident in a real Chromium, and the owner's email at a real SMTP server.

Everything runs for real except the broker: Celery tasks run inline (eager), so the notice
queued when the incident is recorded is handed, after the request's commit, to Django's SMTP
backend and delivered to an aiosmtpd server on loopback, where the test reads it.

Data (the catalogue, the organisation, a signed-in session) is written in the `site` fixture,
before Playwright starts (see tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import expect

from tests.factories import UserFactory, acme_organisation
from tracker.catalogue.pack_load import catalogue_load_file
from tracker.workspace.clocks import incident_deadline, report_periods
from tracker.workspace.models import Membership

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REAL_PACKS = sorted((Path(__file__).resolve().parent.parent / "fixtures").glob("*.yaml"))
HELSINKI = ZoneInfo("Europe/Helsinki")


@dataclass
class Site:
    url: str
    slug: str
    session: dict  # the cookie of Ada's signed-in session
    aware_at: str  # what Ada types: yesterday, in Helsinki
    subject: str  # the notice's subject, counted here from the catalogue


@pytest.fixture
def site(live_server, smtp_server, eager_celery, settings) -> Site:
    """The live server with the real catalogue; Ada owns "Acme AI" with Bea, and is signed in."""
    for path in REAL_PACKS:
        catalogue_load_file(path=path)
    settings.SITE_URL = live_server.url
    ada = UserFactory(username="ada", email="ada@example.org")
    org = acme_organisation(ada)
    bea = UserFactory(username="bea", email="bea@example.org")
    Membership.objects.create(organisation=org, user=bea, role="owner")
    client = Client()
    client.force_login(ada)
    aware = (dt.datetime.now(HELSINKI) - dt.timedelta(days=1)).replace(second=0, microsecond=0)
    clock = incident_deadline(
        kinds=["general"], aware_at=aware, member_state="FI", place_name="Finland",
        periods=report_periods(),
    )  # fmt: skip
    return Site(
        url=live_server.url,
        slug=org.slug,
        session={
            "name": django_settings.SESSION_COOKIE_NAME,
            "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
            "url": live_server.url,
        },
        aware_at=aware.strftime("%Y-%m-%dT%H:%M"),
        subject=(
            "Serious incident recorded on CV screener: report it immediately, at the latest by "
            f"{clock.short_deadline_text} {clock.short_zone_text}"
        ),
    )


def _text_part(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text part")


def _wait_for_messages(smtp_server, count: int, seconds: float = 10) -> list:
    deadline = time.monotonic() + seconds
    while len(smtp_server.messages) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(smtp_server.messages)


def test_an_incident_recorded_in_the_browser_reaches_its_owner_by_email(page, site, smtp_server):
    # Given Ada, signed in, on her organisation's incidents page
    page.context.add_cookies([site.session])
    page.goto(f"{site.url}/w/{site.slug}/incidents/")
    expect(page.locator("h1")).to_have_text("Serious incidents (Art. 73)")
    expect(page.get_by_text("No incident recorded.")).to_be_visible()
    # The owner is already Ada: whoever records it
    expect(page.get_by_label("Owner", exact=True).locator("option:checked")).to_have_text("ada")

    # When she records an incident that occurred in Finland yesterday
    page.get_by_label("System").select_option(label="CV screener")
    page.get_by_label("Member State where it occurred").select_option(label="Finland")
    page.get_by_label("Serious incident (Art. 73(2)): 15 days at the latest").check()
    page.get_by_label("Became aware at (local time where it occurred)").fill(site.aware_at)
    page.get_by_label("Description").fill("Candidates were rejected for their postcode")
    page.get_by_role("button", name="Record and start the clock").click()

    # Then the page lists it, owned by her, its clock running
    incident = page.locator("section.clock")
    expect(incident).to_have_count(1)
    expect(incident.get_by_role("heading")).to_contain_text("Serious incident (Art. 73(2))")
    expect(incident).to_contain_text("Owner: ada")
    expect(incident).to_contain_text("hours left")

    # And the SMTP server received her notice, and one for Bea, the other owner
    messages = _wait_for_messages(smtp_server, 2)
    assert sorted(m["To"] for m in messages) == ["ada@example.org", "bea@example.org"]
    email = next(m for m in messages if m["To"] == "ada@example.org")
    assert "".join(email["Subject"].splitlines()) == site.subject  # unfolded
    body = _text_part(email)
    assert body.startswith("ada recorded a serious incident on CV screener (Acme AI).")
    assert "Owner: ada" in body
    assert "Description: Candidates were rejected for their postcode" in body
    assert f"{site.url}/w/{site.slug}/incidents/" in body
    assert "You receive this because you own this incident" in body
    assert email["Auto-Submitted"] == "auto-generated"
    to_bea = _text_part(next(m for m in messages if m["To"] == "bea@example.org"))
    assert "You receive this because you are an owner of Acme AI" in to_bea
