"""One subscription per address, and no way to flood an address: a repeat request changes
nothing and sends at most one email a day; lists are capped; every kind of mail has a cap per
recipient; duplicates from before are merged by a migration into the union of what they
followed."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from tracker.catalogue.models import Milestone, Regulation
from tracker.outbox import services as outbox
from tracker.outbox.models import Message
from tracker.reminders.emails import subscription_stream
from tracker.reminders.models import Reminder, Subscription
from tracker.reminders.services import subscription_unsubscribe
from tracker.reminders.subscriptions import Preferences, subscription_request
from tracker.reminders.tokens import UNSUBSCRIBE, subscription_from_token, subscription_token
from tracker.reminders.validation import MAX_CHOSEN

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()


@pytest.fixture
def act(loaded_small_pack):
    return Regulation.objects.get(key="test-act")


def _request(email="ada@example.org", **preferences):
    return subscription_request(email=email, preferences=Preferences(**preferences))


def test_the_same_address_asking_twice_has_one_subscription(act):
    first = _request("Ada@Example.org", regulation=act)
    second = _request("ada@example.ORG", regulation=act, lead_days=[7])

    assert Subscription.objects.count() == 1
    assert first.pk == second.pk
    second.refresh_from_db()
    assert second.lead_days == [7]  # still pending: the latest request is what gets confirmed
    assert Message.objects.filter(kind="confirmation").count() == 1  # one a day


def test_thirty_requests_for_an_active_address_send_one_manage_email_and_change_nothing(act):
    subscription = Subscription.objects.create(
        email="ada@example.org", status="active", regulation=act, lead_days=[30]
    )

    for _ in range(30):
        _request("ada@example.org", milestones=list(Milestone.objects.all()), lead_days=[1])

    subscription.refresh_from_db()
    assert subscription.lead_days == [30]  # a stranger cannot change it
    assert subscription.milestones.count() == 0
    (message,) = Message.objects.all()
    assert message.kind == "manage"
    assert "already subscribed" in message.body_text
    assert message.headers["List-Unsubscribe"].startswith("<http")
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        _request("ada@example.org", regulation=act)
    assert Message.objects.filter(kind="manage").count() == 2  # the next day, one more


def test_an_unsubscribed_address_can_subscribe_again_with_a_new_confirmation(act):
    subscription = Subscription.objects.create(
        email="ada@example.org", status="active", regulation=act
    )
    subscription_unsubscribe(subscription=subscription)

    again = _request("ada@example.org", regulation=act)

    assert again.pk == subscription.pk
    assert (again.status, Message.objects.get().kind) == ("pending", "confirmation")


def test_unsubscribing_cancels_what_is_queued_for_the_address(act):
    subscription = Subscription.objects.create(
        email="ada@example.org", status="active", regulation=act
    )
    queued = outbox.send(
        to="ada@example.org", kind="reminders", subject="s", text="t",
        stream=subscription_stream(subscription),
    )  # fmt: skip
    other = outbox.send(to="bob@example.org", kind="reminders", subject="s", text="t")

    subscription_unsubscribe(subscription=subscription)

    queued.refresh_from_db()
    other.refresh_from_db()
    assert (queued.status, queued.last_error) == ("cancelled", "The recipient unsubscribed.")
    assert other.status == "queued"


def test_the_database_keeps_one_public_subscription_per_address(act):
    from django.db import IntegrityError, transaction

    Subscription.objects.create(email="ada@example.org", regulation=act)
    with pytest.raises(IntegrityError), transaction.atomic():
        Subscription.objects.create(email="ADA@example.org", regulation=act)
    # Personal reminders (another app's, named by a key) are not the public list.
    Subscription.objects.create(email="ada@example.org", owner_key="workspace:1:1")


def test_the_admin_refuses_a_second_subscription_for_an_address(client, admin_user, act):
    Subscription.objects.create(email="ada@example.org", regulation=act)
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:reminders_subscription_add"),
        {"email": "Ada@example.org", "status": "active", "language": "en", "send_hour": 9,
         "timezone": "Europe/Brussels", "lead_days": "[7]", "categories": "[]"},
    )  # fmt: skip

    assert response.status_code == 200
    assert "This address already has a subscription." in response.content.decode()
    assert Subscription.objects.count() == 1


def test_a_long_list_is_refused_before_any_lookup(client, act):
    from django.test.utils import CaptureQueriesContext

    keys = [f"m{n}" for n in range(MAX_CHOSEN + 1)]

    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/api/v1/subscriptions/",
            {"email": "ada@example.org", "milestones": keys, "lead_days": [7]},
            content_type="application/json",
        )
    page = client.post(
        reverse("reminders:subscribe"),
        {"email": "ada@example.org", "milestones": keys, "lead_days": "7", "language": "en",
         "timezone": "Europe/Brussels", "send_hour": "9"},
    )  # fmt: skip

    assert not [q for q in queries.captured_queries if "catalogue_milestone" in q["sql"]]
    assert response.status_code == 400
    assert response.json()["milestones"] == [f"At most {MAX_CHOSEN} items."]
    assert page.status_code == 400
    assert f"At most {MAX_CHOSEN} items." in page.content.decode()
    assert (Subscription.objects.count(), Message.objects.count()) == (0, 0)


def test_every_kind_of_mail_is_capped_per_recipient(settings):
    settings.OUTBOX_DAILY_CAPS = {"default": 3, "confirmation": 1}

    stored = [
        outbox.send(to="ada@example.org", kind="reminders", subject=f"n{n}", text="t")
        for n in range(5)
    ]
    confirmations = [
        outbox.send(to="ada@example.org", kind="confirmation", subject="c", text="t")
        for _ in range(2)
    ]
    other = outbox.send(to="bob@example.org", kind="reminders", subject="s", text="t")

    assert [m.status for m in stored] == ["queued"] * 3 + ["cancelled"] * 2
    assert "already had 3 “reminders” email(s) in 24 hours" in stored[3].last_error
    assert [m.status for m in confirmations] == ["queued", "cancelled"]
    assert other.status == "queued"
    with time_machine.travel(NOW + dt.timedelta(hours=25), tick=False):
        later = outbox.send(to="ada@example.org", kind="reminders", subject="s", text="t")
    assert later.status == "queued"


def test_an_old_link_of_a_merged_subscription_reaches_the_addresses_one(act):
    keep = Subscription.objects.create(email="ada@example.org", status="active", regulation=act)
    merged = Subscription.objects.create(email="ada@example.org", status="merged", merged_into=keep)
    token = subscription_token(subscription=merged, purpose=UNSUBSCRIBE)

    assert subscription_from_token(token=token, purpose=UNSUBSCRIBE) == keep


# The migration that merges the duplicates of before.
BEFORE = [("reminders", "0005_personal_and_merged"), ("workspace", "0004_owner_mail_settings")]
AFTER = [("reminders", "0007_one_subscription_per_address_constraint")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_duplicates_are_merged_into_the_union_of_what_they_followed(small_pack):
    from tracker.catalogue.pack_load import catalogue_load_file

    catalogue_load_file(path=small_pack)
    old = _migrate(BEFORE)
    Sub = old.get_model("reminders", "Subscription")
    OldReminder = old.get_model("reminders", "Reminder")
    OldMessage = old.get_model("outbox", "Message")
    high_risk = Milestone.objects.get(key="test-high-risk")
    review = Milestone.objects.get(key="test-review")
    act = Regulation.objects.get(key="test-act")
    a = Sub.objects.create(email="ada@example.org", status="active", lead_days=[30],
                           regulation_id=act.pk, categories=["review"])  # fmt: skip
    b = Sub.objects.create(email="Ada@example.org", status="active", lead_days=[7, 1])
    b.milestones.add(high_risk.pk)
    c = Sub.objects.create(email="ada@example.org", status="unsubscribed", lead_days=[90])
    owner = Sub.objects.create(email="ada@example.org", status="active", owner_key="workspace:1:1")
    OldReminder.objects.create(subscription_id=b.pk, milestone_id=high_risk.pk,
                               occurrence=high_risk.date, lead_days=7, due_at=NOW)  # fmt: skip
    OldMessage.objects.create(kind="reminders", to_email="ada@example.org", subject="s",
                              body_text="t", stream=f"subscription:{b.pk}",
                              next_attempt_at=NOW)  # fmt: skip

    try:
        new = _migrate(AFTER)
        Sub = new.get_model("reminders", "Subscription")
        kept = Sub.objects.get(pk=a.pk)
        assert kept.status == "active"
        assert sorted(kept.lead_days, reverse=True) == [90, 30, 7, 1]
        assert list(kept.milestones.values_list("pk", flat=True)) == [high_risk.pk]
        assert (kept.regulation_id, kept.categories) == (act.pk, ["review"])
        for gone in (b, c):
            merged = Sub.objects.get(pk=gone.pk)
            assert (merged.status, merged.merged_into_id) == ("merged", a.pk)
        assert Sub.objects.get(pk=owner.pk).status == "active"  # personal: left alone
        moved = new.get_model("reminders", "Reminder").objects.get()
        assert moved.subscription_id == a.pk
        message = new.get_model("outbox", "Message").objects.get()
        assert message.stream == f"subscription:{a.pk}"
    finally:
        _migrate(_latest())
    assert review.pk  # the review milestone stays followed through the kept filter


def test_a_subscriber_adds_and_removes_milestones_on_the_manage_page(client, act):
    subscription = Subscription.objects.create(
        email="ada@example.org", status="active", regulation=None, lead_days=[7]
    )
    subscription.milestones.add(Milestone.objects.get(key="test-high-risk"))
    url = reverse(
        "reminders:manage",
        kwargs={"token": subscription_token(subscription=subscription, purpose="manage")},
    )
    form = {"lead_days": "7", "language": "en", "timezone": "Europe/Brussels", "send_hour": "9"}

    added = client.post(url, {**form, "milestones": ["test-high-risk", "test-review"]})
    removed = client.post(url, {**form, "milestones": ["test-review"]})

    assert (added.status_code, removed.status_code) == (200, 200)
    assert list(subscription.milestones.values_list("key", flat=True)) == ["test-review"]
    assert set(
        Reminder.objects.filter(subscription=subscription, status="pending").values_list(
            "milestone__key", flat=True
        )
    ) == {"test-review"}
