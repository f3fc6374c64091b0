"""The public pages in a real Chromium: filtering, permalinks, keyboard, phone and no-JS use.

Each test loads tests/packs/small.yaml into the live server's database. The pack is loaded
before Playwright starts: the sync Playwright API keeps an asyncio loop running in this
thread, and Django refuses ORM calls (SynchronousOnlyOperation) from a thread with a running
loop. Fixture teardown runs in reverse, so Playwright stops before the database is flushed.
Assertions do not depend on today's date (the live server runs in another thread).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tracker.catalogue.pack_load import catalogue_load_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What the timeline opens at: the entry into force (2024) is past, folded away (issue 12).
DATED_TITLES = [
    "High-risk obligations apply",
    "The Commission reviews the Act",
]
# A scope includes what concerns every AI system (the review, scope "all").
HIGH_RISK_TITLES = DATED_TITLES
COMING_UP_2 = re.compile(r"^Coming up, from \d{1,2} \w+ \d{4} \(2\)$")
HIGH_RISK = "High-risk (Annex III)"
SCOPE_IN_URL = re.compile(r"[?&]scope=high_risk_annex_iii(&|$)")
FILTER_LABELS = ["Regulation", "Who it concerns", "Risk scope", "Category"]
REAL_PACKS = sorted((Path(__file__).resolve().parent.parent / "fixtures").glob("*.yaml"))


@pytest.fixture
def packs(small_pack) -> list[Path]:
    """The packs `site` loads; a test can parametrize this name to load others."""
    return [small_pack]


@pytest.fixture
def site(live_server, packs) -> str:
    """The live server's home page URL, with the packs loaded."""
    for path in packs:
        catalogue_load_file(path=path)
    return live_server.url + "/"


def dated_titles(page: Page) -> list[str]:
    return page.locator("ol.timeline > li h3").all_inner_texts()


def test_timeline_filter_and_permalink(page, site):
    page.goto(site)
    expect(page.locator("h1")).to_have_text("Test Act timeline")
    assert dated_titles(page) == DATED_TITLES
    dates = page.locator("ol.timeline > li .milestone-date > .date > time").evaluate_all(
        "els => els.map(e => e.getAttribute('datetime'))"
    )
    assert dates == ["2027-12-02", "2028-08-02"]
    next_box = page.locator("section.next")
    expect(next_box).to_be_visible()
    expect(next_box.get_by_role("heading", level=2)).to_contain_text("Next deadline")
    expect(next_box.get_by_role("link").first).to_have_text(
        re.compile(f"^({'|'.join(map(re.escape, DATED_TITLES))})$")
    )
    expect(next_box.get_by_role("link", name="Show it on the timeline")).to_have_attribute(
        "href", re.compile(r"^#m-test-")
    )
    expect(page.locator("#relative-heading")).to_have_text("Deadlines that run from an event")

    page.get_by_label("Risk scope").select_option(label=HIGH_RISK)
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(SCOPE_IN_URL)
    expect(page.locator("ol.timeline > li")).to_have_count(2)
    assert dated_titles(page) == HIGH_RISK_TITLES
    expect(page.get_by_label("Risk scope").locator("option:checked")).to_have_text(HIGH_RISK)
    expect(page.locator("#dated-heading")).to_have_text(COMING_UP_2)
    expect(page.get_by_role("link", name="Clear")).to_be_visible()

    item = page.locator("#m-test-high-risk")
    old_date = item.locator(".milestone-date del.old-date")
    expect(old_date).to_be_visible()
    expect(old_date).to_have_text("2 August 2026")
    expect(old_date).to_have_css("text-decoration-line", "line-through")
    expect(item.locator(".milestone-date > .date > time")).to_have_text("2 December 2027")
    expect(item.locator(".milestone-date > .date")).to_have_text("2 August 2026 2 December 2027")
    expect(item.locator(".amended-note")).to_have_text(
        "Moved from 2 August 2026 by Regulation (EU) 2026/1744."
    )

    item.get_by_role("link", name="High-risk obligations apply").click()
    expect(page).to_have_url(site + "milestones/test-high-risk/")
    expect(page.locator("h1")).to_have_text("High-risk obligations apply")
    expect(page).to_have_title("High-risk obligations apply · Jalon")
    table = page.locator("table.amendments")
    expect(table).to_be_visible()
    expect(table.locator("thead th")).to_have_text(
        ["Amending act", "From", "To", "In force", "Confidence"]
    )
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr td")).to_have_text(
        ["Regulation (EU) 2026/1744", "2 August 2026", "2 December 2027", "27 July 2026", "High"]
    )
    expect(table.get_by_role("link", name="Regulation (EU) 2026/1744")).to_have_attribute(
        "href", "https://example.org/omnibus"
    )


def test_keyboard_skip_link_and_filter_form(page, site):
    page.goto(site)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page).to_have_url(site + "#main")
    expect(page.locator("main#main")).to_be_focused()

    scope = page.get_by_label("Risk scope")
    for _ in range(10):
        page.keyboard.press("Tab")
        if scope.evaluate("el => el === document.activeElement"):
            break
    expect(scope).to_be_focused()
    for _ in range(5):
        if scope.locator("option:checked").inner_text() == HIGH_RISK:
            break
        page.keyboard.press("ArrowDown")
    expect(scope.locator("option:checked")).to_have_text(HIGH_RISK)

    button = page.get_by_role("button", name="Apply filters")
    for _ in range(5):
        page.keyboard.press("Tab")
        if button.evaluate("el => el === document.activeElement"):
            break
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(SCOPE_IN_URL)
    expect(page.locator("ol.timeline > li")).to_have_count(2)
    assert dated_titles(page) == HIGH_RISK_TITLES


def test_phone_layout(new_page, site):
    page = new_page(viewport={"width": 375, "height": 740})
    for url in (site, site + "milestones/test-high-risk/"):
        page.goto(url)
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"horizontal scroll at 375px on {url}: {widths}"
    page.goto(site)
    for label in FILTER_LABELS:
        box = page.get_by_label(label).bounding_box()
        assert box is not None
        assert box["height"] >= 44, f"the {label!r} select is {box['height']}px tall"
    button = page.get_by_role("button", name="Apply filters").bounding_box()
    assert button is not None
    assert button["height"] >= 44


def test_filters_without_javascript(new_page, site):
    page = new_page(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page.goto(site)
    assert dated_titles(page) == DATED_TITLES
    form = page.get_by_role("form", name="Filter the timeline")
    expect(form).to_have_attribute("method", "get")
    page.get_by_label("Risk scope").select_option(label=HIGH_RISK)
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(SCOPE_IN_URL)
    expect(page.locator("ol.timeline > li")).to_have_count(2)
    assert dated_titles(page) == HIGH_RISK_TITLES
    expect(page.locator("#m-test-high-risk del.old-date")).to_have_text("2 August 2026")


@pytest.mark.parametrize("packs", [REAL_PACKS], ids=["real-catalogue"])
@pytest.mark.parametrize(("width", "height"), [(375, 740), (1280, 900)], ids=["phone", "desktop"])
def test_filters_fit_with_real_catalogue(new_page, site, width, height):
    """With the long option labels of fixtures/, the form still fits and its button shows."""
    page = new_page(viewport={"width": width, "height": height})
    page.goto(site)
    expect(page.locator("h1")).to_have_text("EU AI Act timeline")
    form = page.get_by_role("form", name="Filter the timeline").bounding_box()
    assert form is not None
    for control in [
        *(page.get_by_label(label) for label in FILTER_LABELS),
        page.get_by_role("button", name="Apply filters"),
    ]:
        box = control.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= form["x"] + form["width"], f"{control} overflows"
        assert box["height"] >= 44
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"horizontal scroll at {width}px: {widths}"
