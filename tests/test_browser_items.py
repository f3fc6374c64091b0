"""In a real Chromium: an item that stops applying moves to "No longer applies" with its reason
and can be kept on purpose; the dashboard's chart fits a 375 px phone with "Today" and the
years ahead in view.

The real catalogue and Ada's organisation are written before Playwright starts (see
tests/test_browser_officer.py for why); everything after that goes through the pages.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.factories import UserFactory, acme_organisation
from tracker.catalogue.pack_load import catalogue_load_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REAL_PACKS = sorted((Path(__file__).resolve().parent.parent / "fixtures").glob("*.yaml"))
ANNEX_III = "High-risk obligations apply to Annex III systems"
PASSWORD = "a long enough passphrase"


@pytest.fixture
def site(live_server) -> str:
    """The live server, the real catalogue, and Ada owning "Acme AI" with its CV screener."""
    for path in REAL_PACKS:
        catalogue_load_file(path=path)
    ada = UserFactory(username="ada", password=PASSWORD)
    acme_organisation(ada)
    return live_server.url


def serious_violations(page: Page) -> list[str]:
    """What axe-core (bundled with axe-playwright-python, nothing fetched) finds serious or
    critical on the page."""
    found = Axe().run(page).response["violations"]
    return [f"{v['id']}: {v['help']}" for v in found if v["impact"] in ("serious", "critical")]


def sign_in(page: Page, site: str) -> None:
    page.goto(f"{site}/accounts/login/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("What applies to Acme AI")  # where ada works


def test_an_item_that_stops_applying_shows_under_no_longer_applies_with_its_reason(page, site):
    sign_in(page, site)
    page.goto(f"{site}/w/acme-ai/systems/")
    page.get_by_role("link", name="CV screener").click()

    page.get_by_label("Risk class").select_option(label="Other (not high-risk, not prohibited)")
    page.get_by_label("Annex III point").select_option(value="")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{site}/w/acme-ai/systems/")

    page.goto(f"{site}/w/acme-ai/")
    section = page.locator("section", has=page.locator("#h-stopped"))
    expect(section.locator("h2")).to_contain_text("No longer applies")
    item = section.locator("li.item", has=page.get_by_role("link", name=ANNEX_III))
    expect(item).to_have_count(1)
    expect(item.locator(".stopped-reason")).to_contain_text("No longer applies since")
    expect(item.locator(".stopped-reason")).to_contain_text(
        "the system “CV screener” is no longer high-risk"
    )
    upcoming = page.locator("section", has=page.locator("#h-upcoming"))
    expect(upcoming.get_by_role("link", name=ANNEX_III)).to_have_count(0)
    assert serious_violations(page) == []
    page.get_by_role("link", name=ANNEX_III).click()
    expect(page.locator("#h-stopped")).to_have_text("No longer applies")
    expect(page.locator(".item-history")).to_contain_text("Selected by the rules")
    assert serious_violations(page) == []
    page.go_back()

    # Kept on purpose: back among the dates to meet, with a note
    item.get_by_role("button", name="Keep tracking it anyway").click()
    kept = page.locator("section", has=page.locator("#h-upcoming")).locator(
        "li.item", has=page.get_by_role("link", name=ANNEX_III)
    )
    expect(kept).to_have_count(1)
    expect(kept.locator(".badge.kept")).to_have_text("Kept on purpose")
    expect(kept).to_contain_text("kept on purpose by ada")
    expect(section.get_by_role("link", name=ANNEX_III)).to_have_count(0)


def test_the_dashboard_chart_fits_a_375_px_phone(site, new_page):
    page = new_page(viewport={"width": 375, "height": 740})
    sign_in(page, site)
    page.goto(f"{site}/w/acme-ai/dashboard/")
    chart = page.locator("#timeline-chart")
    expect(chart).to_be_visible()

    # No horizontal scroll, for the page or for the chart
    page_widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert page_widths[0] <= page_widths[1], f"the page scrolls sideways: {page_widths}"
    box = chart.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    holder = page.locator(".dash-chart-box")
    assert holder.evaluate("e => e.scrollWidth <= e.clientWidth"), "the chart box scrolls"

    # "Today" and every year label, the years ahead included, are inside the chart
    def inside(locator) -> bool:
        found = locator.bounding_box()
        return (
            found is not None
            and found["x"] >= box["x"] - 0.5
            and found["x"] + found["width"] <= box["x"] + box["width"] + 0.5
        )

    today = chart.locator("g.today text")
    expect(today).to_have_text("Today")
    assert inside(today)
    years = chart.locator("g.tick text")
    labels = [int(text) for text in years.all_text_contents()]
    assert min(labels) <= 2026 < 2028 <= max(labels), labels
    for n in range(years.count()):
        assert inside(years.nth(n)), f"the year {labels[n]} is cut off"
    dots = chart.locator("circle.dot")
    assert dots.count() > 0
    for n in range(dots.count()):
        assert inside(dots.nth(n)), "a dot is cut off"
    # Legible: the labels keep their size on a phone
    size = today.evaluate("e => e.getBoundingClientRect().height")
    assert size >= 10, f"'Today' is {size}px tall"
