"""In a real Chromium on a 375 px phone: from the public checker's result to a saved workspace
that tracks each duty of the CV screener, rolled up per milestone and system; one duty marked
done and given evidence (a file uploaded from its page) changes the roll-up on the timeline and
the dashboard; the printable report fits too.

The real catalogue and the obligations pack are written before Playwright starts (see
tests/test_browser_officer.py for why); everything after that goes through the pages.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.duty_support import obligations_load
from tests.test_checker import cutoffs_complete
from tracker.catalogue.pack_load import catalogue_load_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REAL_PACKS = sorted((Path(__file__).resolve().parent.parent / "fixtures").glob("*.yaml"))
PASSWORD = "a long enough passphrase"
PHONE = {"width": 375, "height": 740}
ROLLUP = "CV screener: {} of 21 duties done before 2 December 2027"


@pytest.fixture
def site(live_server, settings, tmp_path) -> str:
    """The live server with the real catalogue and its obligations."""
    settings.MEDIA_ROOT = tmp_path / "media"
    for path in REAL_PACKS:
        catalogue_load_file(path=path)
    cutoffs_complete()
    obligations_load()
    return live_server.url


def fits(page: Page) -> None:
    """No horizontal scroll on a 375 px phone."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a 375px phone"


def serious_violations(page: Page) -> list[str]:
    found = Axe().run(page).response["violations"]
    return [f"{v['id']}: {v['help']}" for v in found if v["impact"] in ("serious", "critical")]


def save_a_cv_screener_to_a_new_workspace(page: Page, site: str) -> None:
    """The checker, as a visitor: a provider of a CV screener; then sign up and save it."""
    page.goto(f"{site}/check/")
    system = page.get_by_role("group", name="System 1", exact=True)
    system.get_by_label("Provider", exact=True).check()
    system.get_by_label("High-risk, Annex III (Art. 6(2))", exact=True).check()
    system.get_by_label("Annex III point").select_option(label="4(a) Recruitment and selection")
    system.get_by_label("Name", exact=True).fill("CV screener")
    page.get_by_role("button", name="See what applies").click()
    expect(page).to_have_url(re.compile(r"/check/result/\?f=[A-Za-z0-9_-]+$"))
    fits(page)

    page.get_by_role("link", name="Save to my workspace").click()
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
    fits(page)
    page.get_by_label("Company name").fill("Acme AI")
    page.get_by_role("button", name="Create the organisation").click()
    expect(page).to_have_url(f"{site}/w/acme-ai/")


def test_from_the_checker_to_duties_rolled_up_and_one_marked_done_on_a_phone(
    site, new_page, tmp_path
):
    procedure = tmp_path / "Human oversight procedure.pdf"
    procedure.write_bytes(b"%PDF-1.4\n% oversight procedure\n%%EOF\n")
    page = new_page(viewport=PHONE)
    save_a_cv_screener_to_a_new_workspace(page, site)

    # The timeline: the roll-up, and each duty under its milestone and system
    rollups = page.locator("#duties")
    expect(rollups).to_contain_text(ROLLUP.format(0))
    expect(rollups).to_contain_text("Whole company: 0 of 1 duty done before 2 February 2025")
    group = page.locator("li.duty-group", has=page.get_by_role("heading", name=re.compile(
        "^CV screener · High-risk obligations apply to Annex III systems")))  # fmt: skip
    expect(group.locator("li.duty")).to_have_count(21)
    expect(group.locator("li.duty").first).to_contain_text("Art. 9")
    expect(group.locator(".rollup-line")).to_have_text(ROLLUP.format(0))
    fits(page)
    assert serious_violations(page) == []

    # One duty: the law quoted, what "done" looks like; mark it done
    group.get_by_role("link", name=re.compile(r"^Art\. 14 · ")).click()
    expect(page.locator(".duty-scope")).to_contain_text("Art. 14")
    expect(page.locator(".duty-scope")).to_contain_text("for “CV screener”")
    expect(page.locator("#h-done-when")).to_have_text("What “done” looks like")
    expect(page.locator("blockquote.law-text").get_by_role("link", name="Source")).to_have_count(1)
    fits(page)
    assert serious_violations(page) == []
    page.get_by_label("Status").select_option(label="Done")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{site}/w/acme-ai/")

    # Evidence for that duty: upload the oversight procedure from its page
    group.get_by_role("link", name=re.compile(r"^Art\. 14 · ")).click()
    page.get_by_role("link", name="Add evidence for this item").click()
    page.get_by_label("Upload a file").check()
    page.get_by_label("File", exact=True).set_input_files(str(procedure))
    page.get_by_label("Title").fill("Human oversight procedure")
    page.get_by_role("button", name="Add evidence").click()
    expect(page.locator("li.evidence", has_text="Human oversight procedure")).to_be_visible()
    fits(page)

    # The roll-up changed, on the timeline and on the dashboard
    page.goto(f"{site}/w/acme-ai/")
    expect(page.locator("#duties")).to_contain_text(ROLLUP.format(1))
    cv_rollup = page.locator("#duties li", has_text=ROLLUP.format(1))
    expect(cv_rollup.locator(".evidenced")).to_have_text("1 with evidence")
    done = page.locator("section", has=page.locator("#h-closed"))
    expect(done.locator("li.duty")).to_have_count(1)
    expect(done.locator("li.duty")).to_contain_text("Art. 14")
    fits(page)
    page.goto(f"{site}/w/acme-ai/dashboard/")
    expect(page.locator("#duty-rollups")).to_contain_text(ROLLUP.format(1))
    fits(page)
    assert serious_violations(page) == []

    # The report: a table per system, on screen and on paper
    page.get_by_role("link", name="Report to print or save as PDF").click()
    expect(page.locator("h1")).to_have_text("Acme AI: EU AI Act obligations")
    expect(page.locator(".report-section h2")).to_have_count(2)
    expect(page.locator(".report-section").nth(1).locator("h2")).to_contain_text(
        "CV screener (1 of 21 done)"
    )
    fits(page)
    assert serious_violations(page) == []
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".org-nav")).to_be_hidden()
    expect(page.locator(".report-actions")).to_be_hidden()
    breaks = page.locator(".report-section").evaluate_all(
        "els => els.map(e => getComputedStyle(e).breakBefore)"
    )
    assert breaks == ["auto", "page"]
