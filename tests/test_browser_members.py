"""Teams in a real Chromium: an owner changes a member's role from the members page.

The data, and the owner's session, are made before Playwright starts (the sync Playwright API
keeps an asyncio loop running in this thread, and Django refuses ORM calls from such a thread;
see tests/test_browser.py). Everything after that goes through the pages.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from tests.factories import UserFactory
from tracker.workspace.models import Membership
from tracker.workspace.services import organisation_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(live_server) -> dict:
    """The live server; Ada owns "Acme AI", Bob edits it, and Ada's browser is signed in."""
    ada = UserFactory(username="ada")  # verified, so she may invite
    org = organisation_create(name="Acme AI", owner=ada)
    bob = UserFactory(username="bob")
    Membership.objects.create(organisation=org, user=bob, role=Membership.Role.EDITOR)
    client = Client()
    client.force_login(ada)
    return {
        "url": live_server.url,
        "members": f"{live_server.url}/w/{org.slug}/members/",
        "session": client.cookies[settings.SESSION_COOKIE_NAME].value,
    }


def test_an_owner_changes_a_members_role_from_the_members_page(site, new_page):
    page = new_page(viewport={"width": 1280, "height": 900})
    page.context.add_cookies([{
        "name": settings.SESSION_COOKIE_NAME, "value": site["session"],
        "domain": urlsplit(site["url"]).hostname, "path": "/",
    }])  # fmt: skip
    page.goto(site["members"])
    expect(page.locator("h1")).to_have_text("Members")
    role = page.get_by_label("Role of bob")
    expect(role.locator("option:checked")).to_have_text("Editor")

    role.select_option(label="Viewer")
    page.get_by_role("button", name="Change role of bob").click()

    expect(page).to_have_url(site["members"])
    expect(page.get_by_role("status")).to_have_text("bob is now viewer.")
    expect(page.get_by_label("Role of bob").locator("option:checked")).to_have_text("Viewer")
    # It holds: a fresh load of the page says the same, and the notice has gone
    page.reload()
    expect(page.get_by_label("Role of bob").locator("option:checked")).to_have_text("Viewer")
    expect(page.get_by_role("status")).to_have_count(0)
