"""Subscribing without an account: double opt-in, no enumeration, preferences, date moves."""

import datetime as dt
import re

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from tracker.catalogue.models import Milestone, Regulation
from tracker.catalogue.services import milestone_amend
from tracker.outbox.models import Message
from tracker.reminders.models import Reminder, Subscription
from tracker.reminders.subscriptions import subscriptions_expire
from tracker.reminders.tokens import CONFIRM, MANAGE, subscription_token

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()


def _api_subscribe(client, **data):
    body = {"email": "ada@example.org", "regulation": "test-act", "lead_days": [30, 7], **data}
    return client.post("/api/v1/subscriptions/", body, content_type="application/json")


def _confirm_url(message):
    return re.search(r"http://\S+/subscriptions/confirm/\S+/", message.body_text).group(0)


def test_subscribing_through_the_api_records_a_pending_subscription_and_sends_a_link(
    client, loaded_small_pack
):
    response = _api_subscribe(client, language="fr", timezone="Europe/Paris", send_hour=8)

    assert response.status_code == 202
    assert response.json() == {
        "detail": "If the address can receive email, a confirmation link is on its way."
    }
    subscription = Subscription.objects.get()
    assert (subscription.status, subscription.language, subscription.lead_days) == (
        "pending", "fr", [30, 7],
    )  # fmt: skip
    message = Message.objects.get()
    assert (message.kind, message.to_email) == ("confirmation", "ada@example.org")
    assert message.subject == "Confirmez vos rappels d’échéances Jalon"
    assert Reminder.objects.count() == 0


def test_the_answer_is_the_same_for_a_known_address(client, loaded_small_pack):
    first = _api_subscribe(client)
    Subscription.objects.update(status="active")

    second = _api_subscribe(client)

    assert (first.status_code, first.json()) == (second.status_code, second.json())


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"regulation": "nope"}, "regulation"),
        ({"lead_days": [30, -1]}, "lead_days"),
        ({"lead_days": []}, "lead_days"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"send_hour": 24}, "send_hour"),
        ({"categories": ["gossip"]}, "categories"),
        ({"regulation": None}, "non_field_errors"),
    ],
)
def test_a_bad_subscribe_request_gets_a_clear_400_and_writes_nothing(
    client, loaded_small_pack, data, field
):
    response = _api_subscribe(client, **data)

    assert response.status_code == 400
    assert field in response.json()
    assert (Subscription.objects.count(), Message.objects.count()) == (0, 0)


def test_the_subscribe_endpoint_is_rate_limited(client, loaded_small_pack, settings):
    statuses = [_api_subscribe(client, email=f"u{n}@example.org").status_code for n in range(11)]

    assert statuses == [202] * 10 + [429]
    assert Subscription.objects.count() == 10


def test_the_subscribe_page_works_without_javascript(client, loaded_small_pack):
    page = client.get(reverse("reminders:subscribe"))
    assert page.status_code == 200

    response = client.post(
        reverse("reminders:subscribe"),
        {"email": "ada@example.org", "regulation": "test-act", "lead_days": "90, 30, 7, 1",
         "language": "de", "timezone": "Europe/Berlin", "send_hour": "9"},
    )  # fmt: skip

    assert response.status_code == 302
    assert response.url == reverse("reminders:check_inbox")
    subscription = Subscription.objects.get()
    assert (subscription.language, subscription.lead_days) == ("de", [90, 30, 7, 1])


def test_the_subscribe_page_explains_bad_input(client, loaded_small_pack):
    response = client.post(
        reverse("reminders:subscribe"),
        {"email": "ada@example.org", "lead_days": "soon", "timezone": "Nowhere", "send_hour": "9",
         "language": "en"},
    )  # fmt: skip

    assert response.status_code == 400
    html = response.content.decode()
    assert "Lead times are whole numbers of days" in html
    assert "is not a time zone name" in html
    assert "Choose a regulation or at least one milestone to follow." in html
    assert Subscription.objects.count() == 0


def test_confirming_activates_the_subscription_and_plans_its_reminders(client, loaded_small_pack):
    _api_subscribe(client)
    url = _confirm_url(Message.objects.get())

    assert client.get(url).status_code == 200
    assert Subscription.objects.get().status == "pending"  # a GET (link scanner) changes nothing
    response = client.post(url)

    assert response.status_code == 200
    subscription = Subscription.objects.get()
    assert subscription.status == "active"
    assert subscription.reminders.count() == 8  # high-risk + 3 review occurrences, 2 leads each
    assert "Manage your preferences" in response.content.decode()


def test_a_confirmation_link_expires_with_the_request(client, loaded_small_pack):
    _api_subscribe(client)
    url = _confirm_url(Message.objects.get())

    with time_machine.travel(NOW + dt.timedelta(days=8), tick=False):
        response = client.post(url)

    assert response.status_code == 404
    assert Subscription.objects.get().status == "pending"


def test_unconfirmed_subscriptions_expire_after_a_week(loaded_small_pack, client):
    _api_subscribe(client)

    assert subscriptions_expire(now=NOW + dt.timedelta(days=6)) == 0
    assert subscriptions_expire(now=NOW + dt.timedelta(days=8)) == 1
    assert Subscription.objects.count() == 0


@pytest.fixture
def active(loaded_small_pack):
    subscription = Subscription.objects.create(
        email="ada@example.org", status="active", lead_days=[30, 7],
        regulation=Regulation.objects.get(key="test-act"),
    )  # fmt: skip
    from tracker.reminders.services import reminders_plan

    reminders_plan(subscription=subscription, today=NOW.date())
    return subscription


def test_the_manage_link_changes_preferences_and_plans_again(client, active):
    token = subscription_token(subscription=active, purpose=MANAGE)
    url = reverse("reminders:manage", kwargs={"token": token})

    response = client.post(
        url, {"regulation": "test-act", "categories": ["review"], "lead_days": "1",
              "language": "en", "timezone": "Europe/Brussels", "send_hour": "7"},
    )  # fmt: skip

    assert response.status_code == 200
    active.refresh_from_db()
    assert (active.send_hour, active.lead_days, active.categories) == (7, [1], ["review"])
    assert (
        sorted(active.reminders.values_list("milestone__key", "lead_days"))
        == [("test-review", 1)] * 3
    )


def test_a_confirm_token_does_not_open_the_manage_page(client, active):
    token = subscription_token(subscription=active, purpose=CONFIRM)

    assert client.get(reverse("reminders:manage", kwargs={"token": token})).status_code == 404


def test_an_amendment_notifies_each_follower_once_and_moves_their_reminders(
    active, editor, after_commit
):
    milestone = Milestone.objects.get(key="test-high-risk")

    with after_commit():
        milestone_amend(
            milestone=milestone, new_date=dt.date(2028, 3, 1),
            amending_act="Regulation (EU) 2099/1", source_url="https://example.org/a",
            confidence="high", recorded_by=editor,
        )  # fmt: skip

    notice = Message.objects.get(kind="date_moved")
    assert notice.to_email == "ada@example.org"
    assert notice.subject == "Date moved: High-risk obligations apply is now on 1 March 2028"
    assert "Was: 2 December 2027" in notice.body_text
    assert "Changed by: Regulation (EU) 2099/1" in notice.body_text
    assert notice.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sorted(
        active.reminders.filter(milestone=milestone).values_list("occurrence", "lead_days")
    ) == [(dt.date(2028, 3, 1), 7), (dt.date(2028, 3, 1), 30)]


def test_an_admin_date_edit_notifies_followers(client, active, editor, after_commit):
    from tests.test_admin import _change_data

    milestone = Milestone.objects.get(key="test-review")
    client.force_login(editor)

    with after_commit():
        client.post(
            reverse("admin:catalogue_milestone_change", args=[milestone.pk]),
            _change_data(milestone, date="2028-09-15"),
        )

    assert Message.objects.filter(kind="date_moved").count() == 1
    assert active.reminders.filter(milestone=milestone, occurrence="2028-09-15").count() == 2


def test_a_withdrawn_milestone_cancels_its_reminders_without_a_notice(
    client, active, editor, after_commit
):
    from tests.test_admin import _change_data

    milestone = Milestone.objects.get(key="test-high-risk")
    client.force_login(editor)

    with after_commit():
        client.post(
            reverse("admin:catalogue_milestone_change", args=[milestone.pk]),
            _change_data(milestone, status="withdrawn"),
        )

    assert active.reminders.filter(milestone=milestone).count() == 0
    assert Message.objects.filter(kind="date_moved").count() == 0


def test_a_pack_reload_that_moves_a_date_notifies_followers(
    tmp_path, active, small_pack, after_commit
):
    from tracker.catalogue.pack_load import catalogue_load_file

    edited = tmp_path / "small.yaml"
    edited.write_text(small_pack.read_text().replace("date: 2028-08-02", "date: 2028-09-01"))

    with after_commit():
        catalogue_load_file(path=edited)

    notice = Message.objects.get(kind="date_moved")
    assert "The Commission reviews the Act" in notice.subject


def test_a_milestone_page_links_to_a_subscription_for_that_milestone(client, loaded_small_pack):
    page = client.get(reverse("web:milestone", kwargs={"key": "test-high-risk"}))
    assert "/subscriptions/?milestone=test-high-risk" in page.content.decode()

    form = client.get("/subscriptions/?milestone=test-high-risk").context["form"]

    assert form.initial == {"regulation": None, "milestones": ["test-high-risk"]}
