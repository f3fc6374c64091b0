"""The subscription picker in a real Chromium: deadlines still to come only, filtered as one
types, usable on a 375 px phone and by keyboard alone."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from tests.factories import MilestoneFactory
from tracker.catalogue.models import Milestone, Regulation
from tracker.catalogue.pack_load import catalogue_load_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TODAY = dt.date.today()


@pytest.fixture
def site(live_server, small_pack, smtp_server, eager_celery, settings) -> str:
    catalogue_load_file(path=small_pack)
    regulation = Regulation.objects.get(key="test-act")
    MilestoneFactory(
        regulation=regulation, key="test-old-filing", title="An old filing deadline",
        date=TODAY - dt.timedelta(days=40),
    )  # fmt: skip
    MilestoneFactory(
        regulation=regulation, key="test-yearly-report", title="Yearly transparency report",
        kind=Milestone.Kind.RECURRING, date=TODAY - dt.timedelta(days=400), every_months=12,
        category=Milestone.Category.REPORTING,
    )  # fmt: skip
    settings.SITE_URL = live_server.url
    return live_server.url + "/subscriptions/"


def _listed(page) -> list[tuple[str, str]]:
    return page.locator("[data-picker-item]:visible").evaluate_all(
        """items => items.map(li => [li.querySelector('.picker-title').textContent,
                                    li.querySelector('time').getAttribute('datetime')])"""
    )


def test_the_picker_filters_by_a_word_and_lists_no_past_item(page, site):
    page.goto(site)

    listed = _listed(page)
    titles = [title for title, _ in listed]
    assert sorted(titles) == [
        "High-risk obligations apply", "The Commission reviews the Act",
        "Yearly transparency report",
    ]  # fmt: skip
    assert all(dt.date.fromisoformat(day) >= TODAY for _, day in listed)
    expect(page.locator("main")).not_to_contain_text("An old filing deadline")
    expect(page.locator("main")).not_to_contain_text("The Test Act enters into force")

    page.get_by_label("Filter deadlines").fill("transparency")
    assert [title for title, _ in _listed(page)] == ["Yearly transparency report"]
    expect(page.locator("#picker-count")).to_have_text("1 of 3 deadlines match.")
    expect(page.locator(".picker-group:visible legend")).to_have_text(["Reporting"])

    page.get_by_label("Filter deadlines").fill("nothing like this")
    expect(page.get_by_text("No deadline matches that filter.")).to_be_visible()

    page.get_by_label("Filter deadlines").fill("")
    assert len(_listed(page)) == 3


def _tab_to(page, test: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const e = document.activeElement; return {test}; }}"):
            return
    raise AssertionError(f"Tab never reached {test}")


def _text(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text part")


def test_a_phone_user_subscribes_with_the_keyboard_alone(new_page, site, smtp_server):
    page = new_page(viewport={"width": 375, "height": 800})
    page.goto(site)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375

    _tab_to(page, "e.id === 'id_email'")
    page.keyboard.type("ada@example.org")
    _tab_to(page, "e.id === 'id_regulation'")
    page.keyboard.press("Home")  # "None: only the milestones chosen below"
    _tab_to(page, "e.id === 'picker-filter'")
    page.keyboard.type("high-risk")
    assert [title for title, _ in _listed(page)] == ["High-risk obligations apply"]
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    _tab_to(page, "e.name === 'milestones'")
    assert page.evaluate("() => document.activeElement.value") == "test-high-risk"
    page.keyboard.press("Space")
    expect(page.locator("#milestone-test-high-risk")).to_be_checked()
    _tab_to(page, "e.type === 'submit'")
    page.keyboard.press("Enter")

    expect(page.locator("h1")).to_have_text("Check your inbox")
    [email] = smtp_server.messages
    text = _text(email)
    assert re.search(
        r"Once confirmed, you follow 1 deadline; the next reminder is on \d+ \w+ \d{4} about "
        r"High-risk obligations apply\.",
        text,
    ), text
