"""The public checker in a real Chromium: from the home page to a saved workspace, without
JavaScript, and on a phone.

The real catalogue (fixtures/*.yaml) is loaded before Playwright starts (see tests/conftest.py):
the sync Playwright API keeps an asyncio loop running in this thread, and Django refuses ORM
calls from such a thread. Everything after that goes through the pages.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.test_checker import cutoffs_complete
from tracker.catalogue.pack_load import catalogue_load_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REAL_PACKS = sorted((Path(__file__).resolve().parent.parent / "fixtures").glob("*.yaml"))
ANNEX_III = "High-risk obligations apply to Annex III systems"
PASSWORD = "a long enough passphrase"
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def site(live_server) -> str:
    """The live server, with the real catalogue (and any cut-off it still lacks) loaded."""
    for path in REAL_PACKS:
        catalogue_load_file(path=path)
    cutoffs_complete()
    return live_server.url


def describe_a_cv_screener(page: Page, n: int = 1) -> None:
    """Answer for system `n` as the provider of a CV screener (Annex III point 4(a)), by label."""
    system = page.get_by_role("group", name=f"System {n}", exact=True)
    system.get_by_label("Provider", exact=True).check()
    system.get_by_label("High-risk, Annex III (Art. 6(2))", exact=True).check()
    system.get_by_label("Annex III point").select_option(label="4(a) Recruitment and selection")
    system.get_by_label("Name", exact=True).fill("CV screener")


def expect_the_annex_iii_obligation(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/check/result/\?f=[A-Za-z0-9_-]+$"))
    expect(page.locator("h1")).to_have_text("What the AI Act asks of us")
    row = page.locator("tr", has=page.get_by_role("link", name=ANNEX_III, exact=True))
    expect(row).to_have_count(1)
    expect(row.locator("td.who")).to_have_text("CV screener")
    expect(row.locator("td.why")).to_contain_text("Provider of “CV screener”, high-risk under")


def fits(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a 375px phone"


def test_a_visitor_checks_a_cv_screener_and_saves_it_to_a_new_workspace(page, site):
    # From the home page to the questionnaire
    page.goto(f"{site}/")
    page.get_by_role("link", name="What does the AI Act ask of us? Check in 5 minutes").click()
    expect(page).to_have_url(f"{site}/check/")
    expect(page.locator("h1")).to_have_text("What does the AI Act ask of us?")

    # Answer by label, then press Enter in the name field: the form submits to "See what applies"
    describe_a_cv_screener(page)
    page.get_by_role("group", name="System 1").get_by_label("Name", exact=True).press("Enter")
    expect_the_annex_iii_obligation(page)

    # Save it: sign up first, and come back to the import
    page.get_by_role("link", name="Save to my workspace").click()
    expect(page.locator("h1")).to_have_text("Create an account")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("h1")).to_have_text("Check your inbox")
    page.get_by_role("link", name="sign in", exact=True).click()
    page.get_by_label("Email or username").fill("ada@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator("h1")).to_have_text("Save the check to your workspace")
    expect(page.locator("table.data tbody td").first).to_have_text("CV screener")
    expect(page.get_by_label("Company name")).to_have_value("My company")
    page.get_by_label("Company name").fill("Acme AI")
    page.get_by_role("button", name="Create the organisation").click()

    # The organisation's timeline tracks the obligation, with its reason
    expect(page).to_have_url(f"{site}/w/acme-ai/")
    item = page.locator("li.item", has=page.get_by_role("link", name=ANNEX_III))
    expect(item).to_have_count(1)


def test_the_questionnaire_adds_and_removes_systems_without_javascript(site, new_page):
    page = new_page(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page.goto(f"{site}/check/")
    describe_a_cv_screener(page)

    page.get_by_role("button", name="Add another system").click()
    expect(page.locator("fieldset.system")).to_have_count(2)
    second = page.get_by_role("group", name="System 2", exact=True)
    second.get_by_label("Name", exact=True).fill("Chatbot")
    # The first system's answers survived the round trip
    first = page.get_by_role("group", name="System 1", exact=True)
    expect(first.get_by_label("Name", exact=True)).to_have_value("CV screener")
    expect(first.get_by_label("Provider", exact=True)).to_be_checked()

    page.get_by_role("button", name="Remove system 2").click()
    expect(page.locator("fieldset.system")).to_have_count(1)
    expect(page.get_by_role("button", name=re.compile("^Remove"))).to_have_count(0)

    # A mistake: the summary at the top links to the field, the message sits next to it
    first.get_by_label("Name", exact=True).fill("")
    page.get_by_role("button", name="See what applies").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("System 1, Name: Give the system a name")
    expect(summary.get_by_role("link").first).to_have_attribute("href", "#id_systems-0-name")
    expect(page.locator("#id_systems-0-name_error")).to_be_visible()

    first.get_by_label("Name", exact=True).fill("CV screener")
    page.get_by_role("button", name="See what applies").click()
    expect_the_annex_iii_obligation(page)

    # Change the answers: back to the questionnaire, pre-filled
    page.get_by_role("link", name="Change the answers").click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("CV screener")
    expect(page.get_by_label("Annex III point")).to_have_value("4a")


def test_the_questionnaire_and_the_result_fit_a_375px_phone(site, new_page):
    page = new_page(viewport=PHONE)
    page.goto(f"{site}/check/")
    fits(page)
    page.get_by_role("button", name="Add another system").click()
    fits(page)
    page.get_by_role("button", name="Remove system 2").click()

    describe_a_cv_screener(page)
    page.get_by_role("button", name="See what applies").click()
    expect_the_annex_iii_obligation(page)
    fits(page)
    # Each obligation is a card: its cells stack within the screen
    row = page.locator("tr", has=page.get_by_role("link", name=ANNEX_III, exact=True))
    box = row.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]

    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".check-actions")).to_be_hidden()
    expect(page.locator("table.obligations thead")).to_be_visible()
