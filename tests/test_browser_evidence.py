"""In a real Chromium: upload a file as evidence for an item, see it listed, download it; a
file that is not what its name says is refused on the page; and on a 375 px phone the evidence
pages do not scroll sideways and axe-core finds nothing serious.

The real catalogue, Ada's organisation and a few pieces are written before Playwright starts
(see tests/conftest.py, "Real browser"); everything after that goes through the pages.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import Page, expect

from tests.factories import UserFactory, acme_organisation
from tracker.catalogue.pack_load import catalogue_load_file
from tracker.workspace.evidence import evidence_create, item_label
from tracker.workspace.models import Evidence

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REAL_PACKS = sorted((Path(__file__).resolve().parent.parent / "fixtures").glob("*.yaml"))
PASSWORD = "a long enough passphrase"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
LONG_NAME = "Conformity-assessment-report-for-the-CV-screener-signed-by-the-notified-body.pdf"


@pytest.fixture
def site(live_server, settings, tmp_path) -> dict:
    """The live server with the real catalogue; Ada owns "Acme AI" and a piece with a long
    name, a long link and several items covered is already there (for the phone)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    for path in REAL_PACKS:
        catalogue_load_file(path=path)
    ada = UserFactory(username="ada", password=PASSWORD)
    org = acme_organisation(ada)
    items = list(org.items.filter(applies=True).order_by("pk"))
    evidence_create(
        organisation=org, by=ada, title="Notified body certificate for the CV screener (Annex VII)",
        covers=items[:4], upload=SimpleUploadedFile(LONG_NAME, PDF), owner=ada,
        expires_on=dt.date.today() + dt.timedelta(days=12),
    )  # fmt: skip
    evidence_create(
        organisation=org, by=ada, title="Data governance wiki", covers=items[:1],
        link="https://wiki.example.org/compliance/ai-act/data-governance/training-data-sheets/"
        "cv-screener-2027-edition?version=final-reviewed-by-legal",
        expires_on=dt.date.today() - dt.timedelta(days=3),
    )  # fmt: skip
    item = items[-1]
    return {"url": live_server.url, "slug": org.slug, "item": item.pk,
            "item_label": item_label(item), "item_scope": item_label(item, scope=True),
            "piece": Evidence.objects.get(link="").pk}  # fmt: skip


def sign_in(page: Page, site: dict) -> None:
    page.goto(f"{site['url']}/accounts/login/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("What applies to Acme AI")  # where ada works


def test_upload_a_file_for_an_item_see_it_listed_and_download_it(page, site, tmp_path):
    report = tmp_path / "Human oversight procedure.pdf"
    report.write_bytes(PDF + b"% oversight\n")
    sign_in(page, site)

    # From the item (its page links here with the item ticked), upload a PDF
    page.goto(f"{site['url']}/w/{site['slug']}/evidence/add/?item={site['item']}")
    expect(page.get_by_label(site["item_label"])).to_be_checked()
    page.get_by_label("Upload a file").check()
    page.get_by_label("File", exact=True).set_input_files(str(report))
    page.get_by_label("Title").fill("Human oversight procedure")
    page.get_by_label("Expires on").fill("2030-06-30")
    page.get_by_role("button", name="Add evidence").click()

    # It is listed, with what it covers
    expect(page).to_have_url(re.compile(rf"{site['url']}/w/{site['slug']}/evidence/#evidence-\d+$"))
    piece = page.locator("li.evidence", has_text="Human oversight procedure")
    expect(piece).to_be_visible()
    expect(piece).to_contain_text("Covers 1 item:")
    expect(piece.get_by_role("link", name=site["item_scope"])).to_be_visible()
    expect(piece).to_contain_text("Expires on 30 June 2030")

    # And downloads as the file that was uploaded, under its own name
    with page.expect_download() as info:
        piece.get_by_role("link", name="Download Human oversight procedure.pdf").click()
    download = info.value
    assert download.suggested_filename == "Human oversight procedure.pdf"
    assert Path(download.path()).read_bytes() == PDF + b"% oversight\n"


def test_a_file_that_is_not_what_its_name_says_is_refused_on_the_page(page, site, tmp_path):
    fake = tmp_path / "invoice.pdf"
    fake.write_bytes(b"MZ\x90\x00" + bytes(200))  # an executable, renamed
    sign_in(page, site)
    page.goto(f"{site['url']}/w/{site['slug']}/evidence/add/?item={site['item']}")

    page.get_by_label("File", exact=True).set_input_files(str(fake))
    page.get_by_label("Title").fill("Invoice")
    page.get_by_role("button", name="Add evidence").click()

    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved.")
    expect(page.locator(".field-file .error")).to_have_text(
        "“invoice.pdf” is not a PDF file, whatever its name says: its content is of another "
        "kind. Accepted files are PDF, PNG, JPEG, Word (DOCX), Excel (XLSX), CSV, text (TXT), "
        "OpenDocument text (ODT) or OpenDocument spreadsheet (ODS). Nothing was stored."
    )
    # Nothing was stored: the list does not know it
    page.goto(f"{site['url']}/w/{site['slug']}/evidence/")
    expect(page.locator("li.evidence")).to_have_count(2)
    expect(page.get_by_text("Invoice")).to_have_count(0)


def test_on_a_375_px_phone_nothing_overflows_and_axe_finds_nothing_serious(new_page, site):
    page = new_page(viewport={"width": 375, "height": 740}, is_mobile=True)
    sign_in(page, site)
    base = f"{site['url']}/w/{site['slug']}/evidence"
    problems = []
    for path in ("/", "/add/", f"/{site['piece']}/", f"/{site['piece']}/delete/"):
        page.goto(base + path)
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        if widths[0] > widths[1]:
            problems.append(f"{path}: the page scrolls sideways ({widths[0]} > {widths[1]})")
        wide = page.evaluate(
            """() => [...document.querySelectorAll('main *')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
                .map(e => e.tagName + '.' + e.className)"""
        )
        if wide:
            problems.append(f"{path}: wider than the screen: {wide[:5]}")
        found = Axe().run(page).response["violations"]
        problems += [f"{path}: {v['id']}: {v['help']}" for v in found
                     if v["impact"] in ("serious", "critical")]  # fmt: skip

    assert problems == []
    page.goto(base + "/")
    expect(page.locator("li.evidence.is-expired")).to_contain_text("expired")
    expect(page.locator("li.evidence", has_text="Notified body")).to_contain_text(
        "expires in 12 days"
    )
