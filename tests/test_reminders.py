"""The reminder engine on one database: planning, the sweep, claiming and sending."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from tracker.catalogue.models import Milestone, Regulation
from tracker.outbox.models import Message
from tracker.outbox.services import message_send, messages_send
from tracker.reminders.models import Reminder, Subscription
from tracker.reminders.services import reminders_plan, reminders_sweep, subscription_unsubscribe
from tracker.reminders.tokens import UNSUBSCRIBE, subscription_from_token, subscription_token

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def subscriber(loaded_small_pack):
    subscription = Subscription.objects.create(
        email="ada@example.org",
        status=Subscription.Status.ACTIVE,
        regulation=Regulation.objects.get(key="test-act"),
        lead_days=[30, 7],
        send_hour=9,
        timezone="Europe/Brussels",
    )
    return subscription


def _planned(subscription):
    return sorted(
        (r.milestone.key, str(r.occurrence), r.lead_days, r.due_at.isoformat())
        for r in subscription.reminders.select_related("milestone")
    )


def test_planning_creates_one_reminder_per_occurrence_and_lead_at_the_local_hour(subscriber):
    created = reminders_plan(subscription=subscriber, today=dt.date(2026, 11, 27))

    assert created == 2 + 3 * 2
    planned = _planned(subscriber)
    # Winter in Brussels (UTC+1): 09:00 local is 08:00 UTC.
    assert ("test-high-risk", "2027-12-02", 30, "2027-11-02T08:00:00+00:00") in planned
    assert ("test-high-risk", "2027-12-02", 7, "2027-11-25T08:00:00+00:00") in planned
    # Summer (UTC+2): 09:00 local is 07:00 UTC.
    assert ("test-review", "2028-08-02", 30, "2028-07-03T07:00:00+00:00") in planned
    # Relative deadlines are not subscriber reminders; the past entry into force is not planned.
    assert {key for key, *_ in planned} == {"test-high-risk", "test-review"}


def test_the_local_hour_holds_across_the_dst_change(subscriber):
    # Brussels leaves summer time on 2027-10-31: 7 days before 2027-11-04 is before the change.
    milestone = Milestone.objects.get(key="test-high-risk")
    milestone.date = dt.date(2027, 11, 4)
    milestone.save()
    subscriber.lead_days = [7, 1]
    subscriber.save()

    reminders_plan(subscription=subscriber, today=dt.date(2026, 11, 27))

    planned = {
        (k, lead): due for k, occ, lead, due in _planned(subscriber) if k == "test-high-risk"
    }
    assert planned == {
        ("test-high-risk", 7): "2027-10-28T07:00:00+00:00",
        ("test-high-risk", 1): "2027-11-03T08:00:00+00:00",
    }


def test_planning_twice_creates_nothing_new(subscriber):
    reminders_plan(subscription=subscriber, today=dt.date(2026, 11, 27))

    assert reminders_plan(subscription=subscriber, today=dt.date(2026, 11, 27)) == 0
    assert subscriber.reminders.count() == 8


def test_a_pending_subscription_gets_no_reminders(subscriber):
    subscriber.status = Subscription.Status.PENDING

    assert reminders_plan(subscription=subscriber, today=dt.date(2026, 11, 27)) == 0


def _due_same_day(subscriber):
    """Two milestones due on the same day for the same subscriber."""
    reminders_plan(subscription=subscriber, today=dt.date(2026, 11, 27))
    review = Milestone.objects.get(key="test-review")
    Reminder.objects.create(
        subscription=subscriber, milestone=review, occurrence=dt.date(2027, 12, 2),
        lead_days=30, due_at=at(2027, 11, 2, 8),
    )  # fmt: skip


def test_reminders_due_the_same_day_arrive_as_one_email(subscriber):
    _due_same_day(subscriber)

    report = reminders_sweep(now=at(2027, 11, 2, 8, 0, 30))

    assert len(report.message_ids) == 1
    message = Message.objects.get()
    assert message.reminders.count() == 2
    assert message.subject == "2 EU deadlines coming up, the first in 30 days"
    assert "High-risk obligations apply" in message.body_text
    assert "The Commission reviews the Act" in message.body_text
    assert "Art. 113, second paragraph" in message.body_text
    assert "2 December 2027 (30 days left)" in message.body_text


def test_a_second_sweep_finds_nothing_to_do(subscriber):
    _due_same_day(subscriber)
    reminders_sweep(now=at(2027, 11, 2, 8, 1))

    again = reminders_sweep(now=at(2027, 11, 2, 8, 1))

    assert again.message_ids == []
    assert Message.objects.count() == 1


def test_nothing_is_sent_before_it_is_due(subscriber):
    reminders_plan(subscription=subscriber, today=dt.date(2026, 11, 27))

    report = reminders_sweep(now=at(2027, 11, 2, 7, 59))

    assert report.message_ids == []


def test_a_reminder_missed_while_workers_were_down_goes_out_late_and_says_so(subscriber):
    reminders_plan(subscription=subscriber, today=dt.date(2026, 11, 27))

    # Down from before the 30-day reminder until after the 7-day one was due.
    reminders_sweep(now=at(2027, 11, 26, 10))

    message = Message.objects.get()
    assert message.reminders.count() == 2
    assert message.subject == "High-risk obligations apply: 6 days left"
    assert message.body_text.count("High-risk obligations apply") == 1
    assert message.body_text.count("This reminder is late") == 1


def test_a_reminder_whose_milestone_has_passed_is_skipped(subscriber):
    reminders_plan(subscription=subscriber, today=dt.date(2026, 11, 27))

    report = reminders_sweep(now=at(2027, 12, 3, 10))

    assert report.skipped == 2
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    ("language", "subject", "line"),
    [
        ("fr", "High-risk obligations apply : J-30", "Échéance : 2 décembre 2027 (30 jours restants)"),  # noqa: E501
        ("de", "High-risk obligations apply: noch 30 Tage", "Frist: 2. Dezember 2027 (30 Tage verbleibend)"),  # noqa: E501
    ],
)  # fmt: skip
def test_emails_are_in_the_subscribers_language_with_localised_dates(
    subscriber, language, subject, line
):
    subscriber.language = language
    subscriber.save()
    reminders_plan(subscription=subscriber, today=dt.date(2026, 11, 27))

    reminders_sweep(now=at(2027, 11, 2, 9))

    message = Message.objects.get()
    assert message.subject == subject
    assert line in message.body_text


AFTER_SWEEP = at(2027, 11, 2, 9, 1)


def _one_message(subscriber):
    reminders_plan(subscription=subscriber, today=dt.date(2026, 11, 27))
    reminders_sweep(now=at(2027, 11, 2, 9))
    return Message.objects.get()


def test_a_message_is_sent_once_over_smtp_with_unsubscribe_headers(subscriber, smtp_server):
    message = _one_message(subscriber)

    first = message_send(message_id=message.pk, now=AFTER_SWEEP)
    second = message_send(message_id=message.pk, now=AFTER_SWEEP)

    assert (first, second) == ("sent", "not-claimed")
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received["To"] == "ada@example.org"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = received["List-Unsubscribe"].strip("<>").rstrip("/").rsplit("/", 1)[1]
    assert subscription_from_token(token=token, purpose=UNSUBSCRIBE) == subscriber
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 1)


def test_a_temporary_smtp_failure_is_retried_with_backoff(subscriber, smtp_server):
    message = _one_message(subscriber)
    smtp_server.handler.replies = ["451 4.3.0 Try again later"]
    now = AFTER_SWEEP

    assert message_send(message_id=message.pk, now=now) == "queued"
    message.refresh_from_db()
    assert message.next_attempt_at == now + dt.timedelta(minutes=1)
    assert "451" in message.last_error
    assert message_send(message_id=message.pk, now=now) == "not-claimed"

    assert message_send(message_id=message.pk, now=now + dt.timedelta(minutes=1)) == "sent"
    assert len(smtp_server.messages) == 1


def test_a_permanent_smtp_failure_ends_failed_and_visible(subscriber, smtp_server):
    message = _one_message(subscriber)
    smtp_server.handler.replies = ["550 5.1.1 No such user"]

    assert message_send(message_id=message.pk, now=AFTER_SWEEP) == "failed"

    message.refresh_from_db()
    assert message.status == "failed"
    assert message.last_error.startswith("550")
    assert smtp_server.messages == []


def test_an_unreachable_smtp_server_is_a_temporary_failure(subscriber, settings):
    from tests.smtp import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    message = _one_message(subscriber)

    assert message_send(message_id=message.pk, now=AFTER_SWEEP) == "queued"


def test_a_message_left_sending_by_a_dead_worker_is_recovered_and_counted(subscriber):
    message = _one_message(subscriber)
    Message.objects.filter(pk=message.pk).update(
        status="sending", lease_until=at(2027, 11, 2, 9, 5)
    )

    early = reminders_sweep(now=at(2027, 11, 2, 9, 4))
    late = reminders_sweep(now=at(2027, 11, 2, 9, 6))

    assert (early.recovered, late.recovered) == (0, 1)
    message.refresh_from_db()
    assert (message.status, message.recoveries) == ("queued", 1)


def test_unsubscribing_cancels_what_is_pending(subscriber):
    message = _one_message(subscriber)

    subscription_unsubscribe(subscription=subscriber)

    subscriber.refresh_from_db()
    assert subscriber.status == "unsubscribed"
    # what was planned is gone (subscribing again plans it afresh); what was queued is cancelled
    assert set(subscriber.reminders.values_list("status", flat=True)) == {"queued"}
    message.refresh_from_db()
    assert message.status == "cancelled"


def test_the_one_click_unsubscribe_link(client, subscriber):
    token = subscription_token(subscription=subscriber, purpose=UNSUBSCRIBE)
    url = f"/subscriptions/unsubscribe/{token}/"

    page = client.get(url)
    subscriber.refresh_from_db()
    assert (page.status_code, subscriber.status) == (200, "active")  # a GET changes nothing

    done = client.post(url, {"List-Unsubscribe": "One-Click"})
    subscriber.refresh_from_db()
    assert (done.status_code, subscriber.status) == (200, "unsubscribed")


@pytest.mark.parametrize("tamper", ["flip", "other-purpose", "garbage"])
def test_a_tampered_unsubscribe_link_changes_nothing(client, subscriber, tamper):
    token = subscription_token(subscription=subscriber, purpose=UNSUBSCRIBE)
    token = {
        "flip": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "other-purpose": subscription_token(subscription=subscriber, purpose="confirm"),
        "garbage": "not-a-token",
    }[tamper]

    response = client.post(f"/subscriptions/unsubscribe/{token}/")

    assert response.status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.status == "active"


def test_confirm_links_expire_after_a_week(subscriber):
    with time_machine.travel(at(2026, 11, 27, 12), tick=False):
        token = subscription_token(subscription=subscriber, purpose="confirm")
    with time_machine.travel(at(2026, 12, 3, 12), tick=False):
        assert subscription_from_token(token=token, purpose="confirm") == subscriber
    with time_machine.travel(at(2026, 12, 4, 13), tick=False):
        assert subscription_from_token(token=token, purpose="confirm") is None


def test_an_admin_retries_a_failed_message_and_cancels_a_queued_one(client, admin_user, subscriber):
    failed = _one_message(subscriber)
    Message.objects.filter(pk=failed.pk).update(status="failed", attempts=6, last_error="550")
    queued = Message.objects.create(
        kind="reminders", to_email="b@example.org", subject="s", body_text="t",
        next_attempt_at=timezone.now(),
    )  # fmt: skip
    client.force_login(admin_user)
    url = "/admin/outbox/message/"

    client.post(url, {"action": "retry", "_selected_action": [failed.pk, queued.pk]})
    client.post(url, {"action": "cancel", "_selected_action": [queued.pk]})

    failed.refresh_from_db()
    queued.refresh_from_db()
    assert (failed.status, failed.attempts) == ("queued", 0)
    assert queued.status == "cancelled"
    assert client.get(url + "?status__exact=failed").status_code == 200


def test_the_operations_view_counts_messages_per_day(client, admin_user, subscriber):
    _one_message(subscriber)
    Message.objects.create(
        kind="test", to_email="x@example.org", subject="s", body_text="t", status="failed",
        next_attempt_at=timezone.now(),
    )  # fmt: skip
    Message.objects.create(
        kind="test", to_email="y@example.org", subject="s", body_text="t",
        next_attempt_at=timezone.now() - dt.timedelta(hours=1),
    )  # fmt: skip
    client.force_login(admin_user)

    response = client.get("/admin/outbox/message/operations/")

    assert response.status_code == 200
    (today,) = response.context["days"]
    assert {k: today[k] for k in ("sent", "failed", "queued", "overdue")} == {
        "sent": 0, "failed": 1, "queued": 2, "overdue": 1,
    }  # fmt: skip


def test_an_admin_sends_a_test_email_through_the_outbox(
    client, admin_user, smtp_server, eager_celery, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/outbox/message/test-email/", {"to_email": "ops@example.org"})

    message = Message.objects.get(kind="test")
    assert response.status_code == 302
    assert (message.to_email, message.status) == ("ops@example.org", "sent")
    assert [m["To"] for m in smtp_server.messages] == ["ops@example.org"]
    bad = client.post("/admin/outbox/message/test-email/", {"to_email": "nope"})
    assert bad.status_code == 200
    assert Message.objects.filter(kind="test").count() == 1


def test_the_daily_walk_plans_new_occurrences_and_is_idempotent(subscriber):
    from tracker.reminders.services import reminders_plan_all

    first = reminders_plan_all(now=at(2026, 11, 27, 12))
    again = reminders_plan_all(now=at(2026, 11, 27, 12))

    assert (first, again) == (8, 0)


def test_a_message_that_kills_its_worker_every_time_ends_failed(subscriber):
    message = _one_message(subscriber)
    Message.objects.filter(pk=message.pk).update(
        status="sending", attempts=6, lease_until=at(2027, 11, 2, 9, 5)
    )

    report = reminders_sweep(now=at(2027, 11, 2, 9, 6))

    message.refresh_from_db()
    assert (report.recovered, message.status, message.recoveries) == (0, "failed", 1)
    assert message.last_error == "The worker was lost while sending, on every attempt."


def test_a_resent_message_keeps_its_message_id(subscriber, smtp_server):
    message = _one_message(subscriber)
    message_send(message_id=message.pk, now=AFTER_SWEEP)
    Message.objects.filter(pk=message.pk).update(status="queued")  # as after a crash

    message_send(message_id=message.pk, now=AFTER_SWEEP)

    first, second = smtp_server.messages
    assert first["Message-ID"] == second["Message-ID"]
    assert first["Message-ID"].startswith(f"<jalon.{message.pk}.")


def test_a_full_batch_keeps_each_subscribers_day_in_one_email(subscriber):
    review = Milestone.objects.get(key="test-review")
    high_risk = Milestone.objects.get(key="test-high-risk")
    for n in range(3):
        other = Subscription.objects.create(email=f"s{n}@example.org", status="active")
        for milestone in (review, high_risk):
            Reminder.objects.create(
                subscription=other, milestone=milestone, occurrence=dt.date(2027, 12, 2),
                lead_days=30, due_at=at(2027, 11, 2, 8),
            )  # fmt: skip

    first = reminders_sweep(now=at(2027, 11, 2, 9), batch=2)  # two subscribers, all of each
    second = reminders_sweep(now=at(2027, 11, 2, 9), batch=2)

    assert (first.full, len(first.message_ids), second.full, len(second.message_ids)) == (
        True, 2, False, 1,
    )  # fmt: skip
    assert [m.reminders.count() for m in Message.objects.order_by("pk")] == [2, 2, 2]


def test_a_batch_of_messages_goes_over_one_connection_and_each_is_claimed_once(
    subscriber, smtp_server
):
    for n in range(3):
        Message.objects.create(
            kind="test", to_email=f"t{n}@example.org", subject="s", body_text="t",
            next_attempt_at=AFTER_SWEEP,
        )  # fmt: skip
    ids = list(Message.objects.values_list("pk", flat=True))

    first = messages_send(message_ids=ids, now=AFTER_SWEEP)
    again = messages_send(message_ids=ids, now=AFTER_SWEEP)

    assert set(first.values()) == {"sent"}
    assert set(again.values()) == {"not-claimed"}
    assert sorted(m["To"] for m in smtp_server.messages) == [
        "t0@example.org", "t1@example.org", "t2@example.org",
    ]  # fmt: skip
    assert smtp_server.connections == 1


def test_a_poisoned_subscription_is_set_aside_and_the_others_are_served(loaded_small_pack):
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from tracker.catalogue.models import Milestone
    from tracker.outbox.models import Message
    from tracker.reminders.models import Reminder, Subscription
    from tracker.reminders.services import reminders_sweep

    milestone = Milestone.objects.get(key="test-high-risk")
    now = timezone.now()
    healthy = Subscription.objects.bulk_create(
        Subscription(email=f"s{n}@example.org", status="active") for n in range(20)
    )
    poisoned = Subscription.objects.create(email="bad@example.org", status="active")
    with connection.cursor() as cursor:  # written straight into the database, as a bad import
        cursor.execute(
            "UPDATE reminders_subscription SET timezone = %s WHERE id = %s",
            ["Europe/Brusels", poisoned.pk],
        )
    Reminder.objects.bulk_create(
        Reminder(subscription=s, milestone=milestone, occurrence=milestone.date, lead_days=7,
                 due_at=now - dt.timedelta(minutes=1))
        for s in [*healthy, poisoned]
    )  # fmt: skip

    report = reminders_sweep(now=now)

    assert (len(report.message_ids), report.flagged) == (20, 1)
    poisoned.refresh_from_db()
    assert poisoned.problem.startswith("ZoneInfoNotFoundError")
    assert poisoned.reminders.get().status == "pending"  # waits for the correction
    assert reminders_sweep(now=now).message_ids == []  # set aside: not retried every tick
    assert Message.objects.count() == 20


def test_the_admin_refuses_what_the_public_form_refuses_and_clears_a_problem(
    client, admin_user, loaded_small_pack
):
    from django.urls import reverse

    from tracker.reminders.models import Subscription

    subscription = Subscription.objects.create(
        email="fix@example.org", status="active", problem="ZoneInfoNotFoundError: x"
    )
    client.force_login(admin_user)
    url = reverse("admin:reminders_subscription_change", args=[subscription.pk])
    data = {"email": "fix@example.org", "status": "active", "language": "en", "send_hour": 9,
            "categories": "[]", "move_notices": "on"}  # fmt: skip

    bad = client.post(url, {**data, "timezone": "Europe/Brusels", "lead_days": '["7"]'})
    good = client.post(url, {**data, "timezone": "Europe/Brussels", "lead_days": "[30, 7]"})
    operations = client.get(reverse("admin:outbox_message_operations"))

    assert bad.status_code == 200
    assert "is not a time zone name" in bad.content.decode()
    assert good.status_code == 302
    subscription.refresh_from_db()
    assert (subscription.timezone, subscription.lead_days, subscription.problem) == (
        "Europe/Brussels", [30, 7], "",
    )  # fmt: skip
    assert "set aside" not in operations.content.decode()
