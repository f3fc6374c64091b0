"""Webhooks in a real Chromium, on a phone and on a desktop: an owner opens the organisation's
navigation, reaches Webhooks, adds a generic endpoint pointing at a real HTTP receiver on
127.0.0.1, sees the signing secret, sends a test event and sees the 2xx attempt in the delivery
log; the receiver verifies the signature with the standardwebhooks reference library. A URL
that cannot be called shows the form's error and creates nothing.

The data, and the owner's session, are made before Playwright starts (see tests/conftest.py,
"Real browser"); the delivery runs inline in the live server's thread (eager Celery), as a
worker would run it right after the owner's request commits. The database is read again only
from another thread, where Django allows it while Playwright holds the test thread's loop.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.db import connections
from django.test import Client
from playwright.sync_api import expect
from standardwebhooks import Webhook

from tests import test_webhooks_support as support
from tracker.webhooks.models import Delivery, DeliveryAttempt, Endpoint
from tracker.workspace.services import organisation_create

# The support module's fixtures, used here.
owner = support.owner
receiver = support.receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def site(live_server, owner, receiver, settings, eager_celery) -> dict:
    """The live server; Olive owns "Acme AI" and is signed in; endpoints may call loopback."""
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on 127.0.0.1 (tests only)
    settings.WEBHOOK_TIMEOUT = 2.0
    org = organisation_create(name="Acme AI", owner=owner)
    client = Client()
    client.force_login(owner)
    return {
        "url": live_server.url,
        "home": f"{live_server.url}/w/{org.slug}/",
        "session": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "receiver": receiver,
    }


def _signed_in_page(new_page, site, options):
    page = new_page(**options)
    page.context.add_cookies([{
        "name": settings.SESSION_COOKIE_NAME, "value": site["session"],
        "domain": urlsplit(site["url"]).hostname, "path": "/",
    }])  # fmt: skip
    return page


def _in_another_thread(query):
    """Run an ORM read outside the test thread (Playwright's loop runs in this one)."""
    box: dict = {}

    def run():
        try:
            box["value"] = query()
        except BaseException as exc:  # re-raised in the test thread
            box["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=10)
    if "error" in box:
        raise box["error"]
    return box["value"]


def _serious_axe_findings(page) -> list[str]:
    found = Axe().run(page).response["violations"]
    return [f"{v['id']}: {v['help']}" for v in found if v["impact"] in ("serious", "critical")]


def _no_sideways_scroll(page, where: str) -> None:
    scroll_width, inner_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    wide = page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
            .map(e => e.tagName + '.' + e.className)"""
    )
    assert scroll_width <= inner_width, (
        f"{where} scrolls sideways ({scroll_width} > {inner_width}): {wide}"
    )


def _check_page(page, where: str, findings: list[str]) -> None:
    """No sideways scrolling (at once); serious axe findings are collected, so one page's
    finding does not hide whether the rest of the journey works."""
    _no_sideways_scroll(page, where)
    findings.extend(f"{where}: {finding}" for finding in _serious_axe_findings(page))


@pytest.mark.parametrize("options", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_an_owner_adds_an_endpoint_sends_a_test_event_and_sees_it_delivered(
    site, new_page, options
):
    receiver = site["receiver"]
    page = _signed_in_page(new_page, site, options)
    findings: list[str] = []

    # The organisation's navigation leads to Webhooks
    page.goto(site["home"])
    page.locator("nav.org-nav").get_by_role("link", name="Webhooks").click()
    expect(page.locator("h1")).to_have_text("Webhooks")
    expect(page.locator("nav.org-nav a[aria-current=page]")).to_have_text("Webhooks")
    expect(page.get_by_text("Acme AI has no webhook endpoint yet.")).to_be_visible()
    _check_page(page, "the empty list", findings)

    # A URL that cannot be called: the form says so and nothing is made
    page.get_by_role("link", name="Add an endpoint").click()
    expect(page.locator("h1")).to_have_text("Add a webhook endpoint")
    _check_page(page, "the form", findings)
    page.get_by_label("Name").fill("Our receiver")
    page.get_by_label("URL", exact=True).fill("ftp://x")
    page.get_by_label("Generic JSON, signed (Standard Webhooks)").check()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved.")
    url_field = page.locator(".field.has-error")
    expect(url_field).to_have_count(1)
    expect(url_field.locator("p.error")).to_have_text("Enter a valid URL.")
    expect(page.get_by_label("Name")).to_have_value("Our receiver")  # what was typed stays
    _check_page(page, "the form with an error", findings)
    page.get_by_label("URL", exact=True).fill("ftp://example.com/hook")  # a URL, not http(s)
    page.get_by_role("button", name="Add endpoint").click()
    expect(url_field.locator("p.error")).to_have_text("Use an http:// or https:// URL.")
    assert _in_another_thread(lambda: Endpoint.objects.count()) == 0

    # A good URL: the endpoint is added and its signing secret shown
    page.get_by_label("URL", exact=True).fill(receiver.url)
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("h1")).to_have_text("Our receiver")
    expect(page.locator("#notice")).to_contain_text("The endpoint was added.")
    secret_box = page.locator("#secret")
    expect(secret_box).to_be_visible()
    secret = secret_box.inner_text().strip()
    assert secret.startswith("whsec_")
    box = secret_box.bounding_box()
    width = options["viewport"]["width"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5
    expect(page.locator("#attempts")).to_have_count(0)
    expect(page.get_by_text("No delivery yet.")).to_be_visible()
    _check_page(page, "the endpoint's page", findings)

    # A test event: delivered, signed, and in the log
    page.get_by_role("button", name="Send a test event").click()
    expect(page.locator("#notice")).to_contain_text("A test event is queued")
    attempts = page.locator("#attempts > li")
    expect(attempts).to_have_count(1)
    expect(attempts).to_contain_text("sent")
    expect(attempts).to_contain_text("HTTP 200")
    expect(attempts).to_contain_text("webhook.test")

    (request,) = receiver.requests
    event = Webhook(secret).verify(request.body, request.headers)  # raises if not signed so
    assert event["type"] == "webhook.test"
    assert event["data"]["organisation"] == "acme-ai"
    assert event["data"]["endpoint"] == "Our receiver"
    expect(attempts).to_contain_text(request.headers["webhook-id"])
    _check_page(page, "the endpoint's page with its log", findings)

    # The list shows the endpoint and its last delivery
    page.get_by_role("link", name="All webhooks").click()
    listed = page.locator("#endpoints > li")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Our receiver")
    expect(listed).to_contain_text(": sent (200)")
    _check_page(page, "the list", findings)

    stored = _in_another_thread(lambda: (
        list(Endpoint.objects.values_list("name", "url", "secret", "enabled")),
        list(Delivery.objects.values_list("event_type", "status", "attempts", "webhook_id")),
        list(DeliveryAttempt.objects.values_list("outcome", "status_code")),
    ))  # fmt: skip
    assert stored == (
        [("Our receiver", receiver.url, secret, True)],
        [("webhook.test", "sent", 1, request.headers["webhook-id"])],
        [("sent", 200)],
    )
    assert findings == []  # serious or critical accessibility findings, page by page
