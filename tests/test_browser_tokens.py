"""API tokens in a real Chromium on a 375 px phone: make a token on the page, see it once, use
it with a real HTTP client against the live server, revoke it, and see the API refuse it.

The data, and the member's session, are made before Playwright starts (see tests/conftest.py,
"Real browser"); everything after that goes through the pages and plain HTTP.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
import requests
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from playwright.sync_api import expect

from tests.factories import UserFactory
from tracker.api.authentication import INVALID
from tracker.catalogue.models import Milestone
from tracker.workspace.models import Membership, TrackedItem
from tracker.workspace.services import organisation_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(live_server, loaded_small_pack) -> dict:
    """The live server; Ada owns "Acme AI" (an item per milestone), Bob edits it and is signed
    in."""
    cache.clear()  # the token failure throttle counts in the cache
    ada, bob = UserFactory(username="ada"), UserFactory(username="bob")
    org = organisation_create(name="Acme AI", owner=ada)
    Membership.objects.create(organisation=org, user=bob, role=Membership.Role.EDITOR)
    for m in Milestone.objects.order_by("key"):
        TrackedItem.objects.create(
            organisation=org, milestone=m,
            reasons=[{"rule": "t", "article": "Art. 1", "text": "Test", "system": ""}],
        )  # fmt: skip
    client = Client()
    client.force_login(bob)
    return {
        "url": live_server.url,
        "tokens": f"{live_server.url}/w/{org.slug}/tokens/",
        "items": f"{live_server.url}/api/v1/organisations/{org.slug}/items/",
        "count": org.items.count(),
        "session": client.cookies[settings.SESSION_COOKIE_NAME].value,
    }


def _serious_axe_findings(page) -> list[str]:
    found = Axe().run(page).response["violations"]
    return [f"{v['id']}: {v['help']}" for v in found if v["impact"] in ("serious", "critical")]


def _no_sideways_scroll(page) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    wide = page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
            .map(e => e.tagName + '.' + e.className)"""
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways ({widths[0]} > {widths[1]}): {wide}"


def test_make_a_token_on_a_phone_use_it_revoke_it(site, new_page):
    page = new_page(viewport={"width": 375, "height": 740}, is_mobile=True)
    page.context.add_cookies([{
        "name": settings.SESSION_COOKIE_NAME, "value": site["session"],
        "domain": urlsplit(site["url"]).hostname, "path": "/",
    }])  # fmt: skip
    page.goto(f"{site['url']}/w/acme-ai/")
    page.get_by_role("link", name="API tokens").click()
    expect(page.locator("h1")).to_have_text("API tokens")
    _no_sideways_scroll(page)

    # Make a read-and-write token valid for 30 days, by keyboard where a phone allows
    page.get_by_label("Name").fill("Deadline script")
    until = dt.date.today() + dt.timedelta(days=30)
    page.get_by_label("Valid until").fill(until.isoformat())
    page.get_by_label("Read and write").check()
    page.get_by_role("button", name="Make token").click()

    secret_box = page.locator("#token-secret")
    expect(secret_box).to_be_visible()
    expect(page.get_by_text("it is shown only once")).to_be_visible()
    secret = secret_box.inner_text().strip()
    assert secret.startswith("jalon_")
    box = secret_box.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375 + 0.5
    _no_sideways_scroll(page)
    assert _serious_axe_findings(page) == []

    # Seen once: a fresh load lists the token by its prefix only
    page.goto(site["tokens"])
    row = page.locator("#tokens > li")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Deadline script")
    expect(row).to_contain_text("Read and write")
    expect(row).to_contain_text("Never")
    assert secret not in page.content()

    # Use it with a real HTTP client against the live server
    headers = {"Authorization": f"Bearer {secret}"}
    listed = requests.get(site["items"], headers=headers, timeout=10)
    assert listed.status_code == 200
    assert listed.json()["count"] == site["count"]
    item = listed.json()["results"][0]["id"]
    patched = requests.patch(f"{site['items']}{item}/", json={"status": "in_progress"},
                             headers=headers, timeout=10)  # fmt: skip
    assert patched.status_code == 200
    page.reload()
    expect(row).not_to_contain_text("Never")  # last used, now

    # Revoke it, after a confirmation page
    page.get_by_role("link", name="Revoke Deadline script").click()
    expect(page.locator("h1")).to_have_text("Revoke “Deadline script”")
    _no_sideways_scroll(page)
    assert _serious_axe_findings(page) == []
    page.get_by_role("button", name="Revoke it").click()
    expect(page.locator("#tokens > li")).to_contain_text("Revoked")

    refused = requests.get(site["items"], headers=headers, timeout=10)
    assert refused.status_code == 401
    assert refused.json() == {"detail": INVALID}
