"""The compliance officer's path in a real Chromium: from signing up to the dashboard.

The real catalogue (fixtures/*.yaml) is loaded before Playwright starts: the sync Playwright
API keeps an asyncio loop running in this thread, and Django refuses ORM calls from a thread
with a running loop (see tests/test_browser.py). Everything after that goes through the pages.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.factories import UserFactory, acme_organisation
from tracker.catalogue.pack_load import catalogue_load_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REAL_PACKS = sorted((Path(__file__).resolve().parent.parent / "fixtures").glob("*.yaml"))
ANNEX_III = "High-risk obligations apply to Annex III systems"
PASSWORD = "a long enough passphrase"


@pytest.fixture
def site(live_server) -> str:
    """The live server, with the real catalogue loaded."""
    for path in REAL_PACKS:
        catalogue_load_file(path=path)
    return live_server.url


@pytest.fixture
def acme(site) -> str:
    """For the tests that start signed up: Ada owns "Acme AI" with its CV screener."""
    ada = UserFactory(username="ada", password=PASSWORD)
    org = acme_organisation(ada)
    return f"{site}/w/{org.slug}/dashboard/"


def sign_in(page: Page, site: str) -> None:
    page.goto(f"{site}/accounts/login/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("What applies to Acme AI")  # where ada works


def track_the_annex_iii_item_and_read_the_dashboard(page: Page, site: str, slug: str) -> None:
    """From the personal timeline to a done item, its dashboard figures and an htmx filter."""
    # The personal timeline says what applies and why
    page.goto(f"{site}/w/{slug}/")
    item = page.locator("li.item", has=page.get_by_role("link", name=ANNEX_III))
    expect(item).to_have_count(1)
    item.locator("summary").click()
    expect(item.locator("details")).to_contain_text("CV screener")

    # The dashboard before: nothing done
    page.goto(f"{site}/w/{slug}/dashboard/")
    expect(page.locator("#count-done")).to_have_text("0")
    not_started = int(page.locator("#count-not-started").inner_text())
    assert not_started > 1

    # Take the item on and finish it
    page.goto(f"{site}/w/{slug}/")
    page.get_by_role("link", name=ANNEX_III).click()
    expect(page.locator("h1")).to_have_text(ANNEX_III)
    page.get_by_label("Owner").select_option(label="ada")
    page.get_by_label("Status", exact=True).select_option(label="Done")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{site}/w/{slug}/")

    # The dashboard after: one done, in its category, for its system, on the chart
    page.goto(f"{site}/w/{slug}/dashboard/")
    expect(page.locator("#count-done")).to_have_text("1")
    expect(page.locator("#count-not-started")).to_have_text(str(not_started - 1))
    category = page.locator("#by-category tbody tr", has_text="Obligations apply")
    expect(category.locator("td").first).to_have_text("1")
    system = page.locator("#by-system tbody tr", has_text="CV screener")
    expect(system.locator("td").first).to_have_text("1")
    expect(page.locator("#timeline-chart circle.dot.status-done")).to_have_count(1)

    # Filtering goes through htmx: the results change, the page stays, the URL follows
    page.evaluate("window.__stillHere = 'yes'")
    page.get_by_label("Status", exact=True).select_option(label="Done")
    expect(page).to_have_url(re.compile(r"[?&]status=done(&|$)"))
    expect(page.locator(".dash-status")).to_have_text("1 of the tracked items match the filters.")
    expect(page.locator("#timeline-chart circle.dot")).to_have_count(1)
    assert page.evaluate("window.__stillHere") == "yes"
    expect(page.get_by_label("Status", exact=True).locator("option:checked")).to_have_text("Done")

    # And back: the history entry htmx pushed leads to the unfiltered dashboard
    page.go_back()
    expect(page).to_have_url(f"{site}/w/{slug}/dashboard/")
    expect(page.locator("#count-not-started")).to_have_text(str(not_started - 1))


def test_an_officer_signs_up_and_follows_the_whole_path_to_the_dashboard(page, site):
    # Sign up
    page.goto(f"{site}/accounts/signup/")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("h1")).to_have_text("Check your inbox")
    page.get_by_role("link", name="sign in", exact=True).click()
    page.get_by_label("Email or username").fill("ada@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Your organisations")

    # Create the organisation, then say what it is
    page.get_by_label("Company name").fill("Acme AI")
    page.get_by_role("button", name="Create").click()
    expect(page).to_have_url(f"{site}/w/acme-ai/")
    page.get_by_role("link", name="Company profile").click()
    page.get_by_label("Established in the EU").check()
    page.get_by_role("button", name="Save and continue to AI systems").click()
    expect(page).to_have_url(f"{site}/w/acme-ai/systems/")
    expect(page.locator("h1")).to_have_text("AI systems and models")

    # Add the system
    page.get_by_label("Name", exact=True).fill("CV screener")
    page.get_by_label("Provider", exact=True).check()
    page.get_by_label("Deployer", exact=True).uncheck()
    page.get_by_label("Risk class").select_option(label="High-risk, Annex III (Art. 6(2))")
    page.get_by_label("Annex III point").select_option(label="4(a) Recruitment and selection")
    page.get_by_label("Placed on the market or put into service").fill("2028-01-10")
    page.get_by_role("button", name="Add system").click()
    expect(page.locator("table.data tbody tr")).to_have_count(1)
    expect(page.locator("table.data tbody td").first).to_have_text("CV screener")

    track_the_annex_iii_item_and_read_the_dashboard(page, site, "acme-ai")


def test_the_dashboard_filters_without_javascript(acme, site, new_page):
    page = new_page(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    sign_in(page, site)
    page.goto(acme)
    form = page.get_by_role("form", name="Filter the dashboard")
    expect(form).to_have_attribute("method", "get")

    page.get_by_label("AI system", exact=True).select_option(label="CV screener")
    page.get_by_role("button", name="Apply filters").click()

    expect(page).to_have_url(re.compile(r"[?&]system=\d+(&|$)"))
    expect(page.locator(".dash-status")).to_contain_text("match the filters")
    expect(page.locator("#by-system tbody tr")).to_have_count(1)
    expect(page.get_by_role("link", name="Clear")).to_be_visible()


def test_the_dashboard_fits_a_phone(acme, site, new_page):
    page = new_page(viewport={"width": 375, "height": 740})
    sign_in(page, site)
    page.goto(acme)
    expect(page.locator("#timeline-chart")).to_be_visible()
    # The whole page, header included, fits the phone's width.
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the dashboard is wider than a 375px phone: {widths}"
    # The chart fits the phone, "Today" and the years ahead included (every label and dot is
    # checked in tests/test_browser_items.py).
    box = page.locator(".dash-chart-box").bounding_box()
    chart = page.locator("#timeline-chart").bounding_box()
    assert box is not None and chart is not None
    assert box["x"] + box["width"] <= 375
    assert chart["x"] >= 0 and chart["x"] + chart["width"] <= 375
    expect(page.locator("#timeline-chart g.today text")).to_have_text("Today")
    for label in ("Status", "Category", "Owner", "AI system"):
        box = page.get_by_label(label, exact=True).bounding_box()
        assert box is not None
        assert box["height"] >= 44, f"the {label!r} select is {box['height']}px tall"
