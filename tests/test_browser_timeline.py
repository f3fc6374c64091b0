"""The public timeline with the real catalogue in Chromium (issue 12): it opens at today, the
past is one link away, search works by keyboard alone, recurring duties show their next date,
and a 375 px phone never scrolls sideways.

The clock is set to 30 November 2026 (time-machine patches the process, so the live server's
thread sees it too); the packs are loaded before Playwright starts (see tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import time_machine
from playwright.sync_api import Page, expect

from tracker.catalogue.pack_load import catalogue_load_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PACKS = sorted((Path(__file__).resolve().parent.parent / "fixtures").glob("*.yaml"))
TODAY = "2026-11-30"


@pytest.fixture
def site(live_server) -> str:
    with time_machine.travel(dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC), tick=True):
        for path in PACKS:
            catalogue_load_file(path=path)
        yield live_server.url + "/"


def item_dates(page: Page) -> list[str]:
    return page.locator("ol.timeline > li .milestone-date > .date > time").evaluate_all(
        "els => els.map(e => e.getAttribute('datetime'))"
    )


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375, f"{page.url} is {width}px wide at 375px"


def test_the_timeline_opens_at_today_and_the_past_is_one_click_away(page, site):
    page.goto(site)

    dates = item_dates(page)
    assert dates, "nothing coming up"
    assert min(dates) >= TODAY
    assert dates == sorted(dates)
    expect(page.locator("li.milestone.is-past")).to_have_count(0)
    expect(page.locator("#m-ai-act-entry-into-force")).to_have_count(0)

    show = page.get_by_role("link", name=re.compile(r"^Show \d+ past milestones$"))
    expect(show).to_be_visible()
    show.click()

    expect(page).to_have_url(re.compile(r"[?&]past=1(&|#|$)"))
    for key, shown in (
        ("ai-act-entry-into-force", "1 August 2024"),
        ("ai-act-prohibitions-apply", "2 February 2025"),
        ("ai-act-gpai-obligations-apply", "2 August 2025"),
    ):
        item = page.locator(f"#m-{key}")
        expect(item).to_be_visible()
        expect(item.locator(".milestone-date")).to_contain_text(shown)
        expect(item.locator(".past-label")).to_have_text("Past")
    past_years = {d[:4] for d in item_dates(page) if d < TODAY}
    assert {"2024", "2025"} <= past_years
    page.get_by_role("link", name="Hide past milestones").click()
    expect(page.locator("li.milestone.is-past")).to_have_count(0)


def test_a_recurring_duty_shows_its_next_date(page, site):
    page.goto(site)

    item = page.locator("#m-ai-act-fines-annual-report")
    expect(item.locator(".milestone-date > .date")).to_have_text("2 August 2027, yearly since 2025")
    expect(item.locator(".countdown")).to_have_text(re.compile(r"^in \d+ days$"))
    expect(item).not_to_contain_text("2 August 2025")


def test_search_by_keyboard_alone_on_a_phone(new_page, site):
    page = new_page(viewport={"width": 375, "height": 740})
    page.goto(site)
    no_sideways_scroll(page)

    search = page.get_by_role("searchbox", name="Search")
    for _ in range(15):
        page.keyboard.press("Tab")
        if search.evaluate("el => el === document.activeElement"):
            break
    expect(search).to_be_focused()
    page.keyboard.type("fundamental")
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"[?&]q=fundamental(&|$)"))
    titles = page.locator("ol.timeline > li h3")
    expect(titles).to_have_count(2)
    expect(page.locator("#m-ai-act-fria")).to_be_visible()
    expect(page.locator(".search-summary")).to_have_text(
        "2 upcoming milestones and 1 past one match “fundamental”."
    )
    expect(search).to_have_value("fundamental")
    no_sideways_scroll(page)

    page.goto(site + "?q=zeppelin")
    expect(page.locator("main")).to_contain_text("No upcoming milestone matches “zeppelin”.")
    for url in ("?past=1", "?role=provider&past=1", "milestones/ai-act-fines-annual-report/"):
        page.goto(site + url)
        no_sideways_scroll(page)


def test_the_past_link_works_by_keyboard_and_without_javascript(new_page, site):
    page = new_page(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page.goto(site)
    show = page.get_by_role("link", name=re.compile(r"^Show \d+ past milestones$"))
    show.focus()
    page.keyboard.press("Enter")

    expect(page.locator("#m-ai-act-ai-office-decision")).to_be_visible()  # January 2024
