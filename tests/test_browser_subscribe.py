"""Subscribing in a real Chromium: the form, the confirmation email, one-click unsubscribe.

The whole chain runs for real except the broker: Celery tasks run inline (eager), so the
confirmation email goes from the live server through Django's SMTP backend to an aiosmtpd
server on loopback, and the test reads the link from the message that server received.
"""

import re

import pytest
from playwright.sync_api import expect

from tracker.catalogue.pack_load import catalogue_load_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(live_server, small_pack, smtp_server, eager_celery, settings) -> str:
    catalogue_load_file(path=small_pack)
    settings.SITE_URL = live_server.url
    return live_server.url + "/"


def _text_part(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text part")


def test_subscribe_confirm_from_the_email_and_unsubscribe(page, site, smtp_server):
    # Given the subscribe page, reached from the site's navigation
    page.goto(site)
    page.get_by_role("link", name="Reminders").click()
    expect(page.locator("h1")).to_have_text("Get deadline reminders by email")

    # When a visitor subscribes with their own lead times
    page.get_by_label("Email address").fill("ada@example.org")
    page.get_by_label("Regulation").select_option(label="Test Act")
    page.get_by_label("Remind me this many days before").fill("30, 7")
    page.get_by_role("button", name="Subscribe").click()

    # Then they are told to check their inbox, and the SMTP server received the link
    expect(page.locator("h1")).to_have_text("Check your inbox")
    assert len(smtp_server.messages) == 1
    email = smtp_server.messages[0]
    assert email["To"] == "ada@example.org"
    assert email["Subject"] == "Confirm your Jalon deadline reminders"
    confirm_url = re.search(r"http://\S+/subscriptions/confirm/\S+/", _text_part(email)).group(0)

    # When they open the link and confirm
    page.goto(confirm_url)
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("h1")).to_have_text("You are subscribed")
    expect(page.locator("main")).to_contain_text("30, 7 days before each deadline")

    # And later unsubscribe with one click
    page.get_by_role("link", name="Unsubscribe").click()
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("h1")).to_have_text("You are unsubscribed")

    # An old confirmation link no longer resubscribes them
    page.goto(confirm_url)
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("h1")).to_have_text("This link is not valid")


def test_the_subscribe_form_shows_errors_in_place(page, site, smtp_server):
    page.goto(site + "subscriptions/")
    page.get_by_label("Email address").fill("not an address")
    page.get_by_label("Remind me this many days before").fill("soon")
    page.get_by_label("Regulation").select_option(label="None: only the milestones chosen below")
    page.get_by_role("button", name="Subscribe").click()

    expect(page.locator(".field.has-error")).to_have_count(2)
    expect(page.get_by_role("alert")).to_contain_text("Choose a regulation or at least one")
    assert smtp_server.messages == []
