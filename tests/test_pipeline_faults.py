"""The reminder pipeline under faults: a worker killed mid-batch, Redis down, SMTP refusing.

Same setup as test_pipeline.py (real PostgreSQL, Celery worker subprocess, aiosmtpd), and it
runs in the PostgreSQL pass only. Each test starts its own redis-server on a free port, so
that stopping it, or the tasks a killed worker leaves behind, touch nobody else's queue.
Messages are counted at the SMTP server. Time does not pass in a test: where production
waits (a lease, REDISPATCH_AFTER, a retry delay), the test moves the rows' timestamps back
by as much, then runs the sweep the way beat does.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

import pytest
from django.db import connection
from django.db.models import F, Sum
from django.utils import timezone

from tests.pipeline_support import (
    due_reminders,
    postgres_only,
    wait_for,
    web_celery_on,
)
from tracker.outbox.models import Message
from tracker.outbox.services import LEASE, REDISPATCH_AFTER, backoff, messages_ready
from tracker.outbox.services import messages_dispatch as dispatch
from tracker.reminders.models import Reminder
from tracker.reminders.services import reminders_sweep

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


# Services ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _postgres_only():
    postgres_only()


# Data and helpers ----------------------------------------------------------------------


def _sweep_in_process(now: dt.datetime) -> list[int]:
    """The body of reminders_sweep_task, at a chosen instant, in the test (web) process."""
    reminders_sweep(now=now)
    ready = messages_ready(now=now)
    dispatch(ready)
    return ready


def _statuses() -> dict[str, int]:
    return dict(Counter(Message.objects.values_list("status", flat=True)))


def _dispatch_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tracker.outbox.services"]


def _other_database_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return cursor.fetchone()[0]


OUTAGE = 3.0  # seconds Redis stays down
SETTLE = 1.0  # seconds to wait after the last expected message: a duplicate would come now


# A worker killed in the middle of a batch ------------------------------------------------


def test_a_worker_killed_mid_batch_loses_nothing_and_resends_only_what_it_was_sending(
    redis_server, smtp_server_with, start_worker
):
    # Given 30 subscribers with a due reminder, an SMTP server that takes 0.3 s to confirm
    # each message, and a worker of 4 processes
    smtp, smtp_port = smtp_server_with(reply_delay=0.3)
    first = start_worker(broker_url=redis_server.url, smtp_port=smtp_port, concurrency=4)
    addresses = due_reminders(30)

    # When the sweep has queued them all and the worker's whole process group is SIGKILLed
    # after some, not all, messages arrived
    started = time.monotonic()
    first.send_sweep()
    wait_for(lambda: len(smtp.messages) >= 8, 30, "8 messages to arrive", first.log_tail)
    first.kill()
    killed_after = time.monotonic() - started
    # (its database sessions end with it; a statement it sent before dying has landed by then)
    wait_for(lambda: _other_database_sessions() == 0, 10, "the dead worker's sessions to end")
    received_at_kill = len(smtp.messages)
    at_kill = _statuses()
    stuck = list(Message.objects.filter(status="sending").values_list("pk", flat=True))
    assert 0 < received_at_kill < 30, at_kill
    assert stuck, f"the kill caught no message being sent, nothing to recover: {at_kill}"

    # And a fresh worker starts, the dead worker's leases expire (moved into the past, as
    # LEASE would do), the sweep's earlier dispatches grow older than REDISPATCH_AFTER, and
    # beat runs the sweep
    second = start_worker(broker_url=redis_server.url, smtp_port=smtp_port, concurrency=4)
    now = timezone.now()
    Message.objects.filter(pk__in=stuck, status="sending").update(
        lease_until=now - dt.timedelta(seconds=1)
    )
    Message.objects.filter(status__in=["queued", "sending"]).update(
        dispatched_at=now - REDISPATCH_AFTER - dt.timedelta(seconds=1)
    )
    second.send_sweep()
    wait_for(
        lambda: Message.objects.filter(status="sent").count() == 30,
        30,
        "all 30 messages to be sent",
        lambda: f"{_statuses()}\n{second.log_tail()}",
    )
    recovered_after = time.monotonic() - started
    time.sleep(SETTLE)

    # Then every subscriber received the reminder, the ones resent are at most the ones that
    # were being sent at the kill, and each of those was recovered exactly once
    received = smtp.recipients()
    duplicates = len(received) - 30
    recoveries = Message.objects.aggregate(total=Sum("recoveries"))["total"]
    ids_by_recipient: dict[str, set[str]] = {}
    for message in smtp.messages:
        ids_by_recipient.setdefault(message["To"], set()).add(message["Message-ID"])
    resent = [to for to, count in Counter(received).items() if count > 1]
    same_id = sum(len(ids_by_recipient[to]) == 1 for to in resent)
    print(
        f"\n[worker killed mid-batch] at the kill ({killed_after:.2f} s): "
        f"{received_at_kill} received, statuses {at_kill}; sending at the kill: {len(stuck)}; "
        f"duplicates: {duplicates} ({same_id} with the Message-ID of the first copy); "
        f"recoveries: {recoveries}; "
        f"all 30 sent {recovered_after:.2f} s after the first sweep"
    )
    assert sorted(set(received)) == addresses
    assert 0 <= duplicates <= len(stuck)
    assert recoveries == len(stuck)
    assert sorted(Message.objects.filter(recoveries=1).values_list("pk", flat=True)) == sorted(
        stuck
    )
    assert same_id == duplicates  # a resend keeps its Message-ID: mail systems drop the copy
    assert Message.objects.filter(status="sent").count() == 30
    assert Reminder.objects.filter(status="queued", message__status="sent").count() == 30


# Redis down for a while ----------------------------------------------------------------


def test_a_redis_outage_delays_reminders_without_losing_or_doubling_them(
    redis_server, smtp_server_with, start_worker, client, caplog
):
    # Given a worker on our Redis, and the web process's Celery app on the same Redis,
    # connected already: it dispatched a first reminder, which arrived
    smtp, smtp_port = smtp_server_with()
    worker = start_worker(broker_url=redis_server.url, smtp_port=smtp_port)
    with web_celery_on(redis_server.url):
        earlier = due_reminders(1, first=100)
        _sweep_in_process(timezone.now())
        wait_for(lambda: len(smtp.messages) == 1, 20, "the first reminder", worker.log_tail)
        # And 5 more subscribers whose reminder is due
        addresses = due_reminders(5)

        # When Redis dies and the sweep runs in the web process meanwhile
        redis_server.stop()
        started = time.monotonic()
        swept_at = timezone.now()
        offered = _sweep_in_process(swept_at)  # must not raise
        dispatch_seconds = time.monotonic() - started

        # (down for a while: long enough for the worker to be retrying its connection)
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - started)))

        # Then the rows are all there, waiting: one queued message per subscriber, never tried
        messages = Message.objects.exclude(to_email__in=earlier).order_by("to_email")
        assert sorted(offered) == sorted(m.pk for m in messages)
        assert [m.to_email for m in messages] == addresses
        assert {(m.status, m.attempts, m.dispatched_at) for m in messages} == {
            ("queued", 0, swept_at)
        }
        assert Reminder.objects.filter(message__in=messages, status="queued").count() == 5
        # (dispatch logged the outage once and stopped trying for this sweep)
        assert _dispatch_warnings(caplog) == [
            f"broker unavailable; {len(offered)} message(s) wait for a later sweep"
        ]
        # And the web app keeps answering
        assert client.get("/").status_code == 200
        assert client.get("/api/v1/milestones/").status_code == 200
        assert len(smtp.messages) == 1

        # When Redis comes back on the same port, the worker reconnects, and the next sweep
        # runs once the failed dispatch is older than REDISPATCH_AFTER
        redis_server.start()
        down_for = time.monotonic() - started
        wait_for(worker.answers_ping, 45, "the worker to reconnect to Redis", worker.log_tail)
        reconnected_after = time.monotonic() - started
        later = swept_at + REDISPATCH_AFTER + dt.timedelta(seconds=1)
        offered_again = _sweep_in_process(later)

    # Then every due reminder arrives, exactly once
    assert sorted(offered_again) == sorted(offered)
    wait_for(
        lambda: Message.objects.filter(status="sent").count() == 6,
        20,
        "the 5 delayed messages to be sent",
        lambda: f"{_statuses()}\n{worker.log_tail()}",
    )
    time.sleep(SETTLE)
    print(
        f"\n[redis outage] dispatch with Redis down returned in {dispatch_seconds:.2f} s; "
        f"Redis down {down_for:.2f} s; worker answering again {reconnected_after:.2f} s "
        f"after the outage began; received {len(smtp.messages)} (1 before the outage)"
    )
    assert smtp.recipients() == sorted(earlier + addresses)
    assert len(_dispatch_warnings(caplog)) == 1  # the reconnected broker took every task
    assert list(Message.objects.values_list("attempts", flat=True).distinct()) == [1]


# SMTP refusing -------------------------------------------------------------------------


def test_a_temporary_smtp_refusal_is_retried_by_a_later_sweep_and_each_reminder_arrives_once(
    redis_server, smtp_server_with, start_worker
):
    # Given an SMTP server that answers 451 to the first attempt of each message
    smtp, smtp_port = smtp_server_with(first_reply="451 4.3.0 Try again later")
    worker = start_worker(broker_url=redis_server.url, smtp_port=smtp_port)
    addresses = due_reminders(5)

    # When the sweep runs
    worker.send_sweep()
    wait_for(
        lambda: Message.objects.filter(status="queued", attempts=1).count() == 5,
        20,
        "5 messages tried once and queued again",
        lambda: f"{_statuses()}\n{worker.log_tail()}",
    )

    # Then nothing arrived and each message waits for its retry with the 451 recorded
    assert smtp.messages == []
    assert sum(smtp.data_commands.values()) == 5
    now = timezone.now()
    assert all(m.last_error.startswith("451") for m in Message.objects.all())
    assert all(m.next_attempt_at > now for m in Message.objects.all())
    assert messages_ready(now=now) == []  # not before its retry delay

    # When the retry delay and REDISPATCH_AFTER have passed (the rows' times moved back by as
    # much) and beat runs the sweep again
    elapsed = backoff(1) + REDISPATCH_AFTER + dt.timedelta(seconds=1)
    Message.objects.update(
        next_attempt_at=F("next_attempt_at") - elapsed, dispatched_at=F("dispatched_at") - elapsed
    )
    worker.send_sweep()
    wait_for(
        lambda: Message.objects.filter(status="sent").count() == 5,
        20,
        "the 5 messages to be sent on their second attempt",
        lambda: f"{_statuses()}\n{worker.log_tail()}",
    )
    time.sleep(SETTLE)

    # Then each reminder arrived exactly once, on its second attempt
    assert smtp.recipients() == addresses
    assert sum(smtp.data_commands.values()) == 10
    assert sorted(Message.objects.values_list("attempts", "last_error")) == [(2, "")] * 5


def test_a_permanent_smtp_refusal_fails_the_message_and_nothing_is_received(
    redis_server, smtp_server_with, start_worker
):
    # Given an SMTP server that answers 550 to everything
    smtp, smtp_port = smtp_server_with(every_reply="550 5.1.1 No such user")
    worker = start_worker(broker_url=redis_server.url, smtp_port=smtp_port)
    due_reminders(3)

    # When the sweep runs
    worker.send_sweep()
    wait_for(
        lambda: Message.objects.filter(status="failed").count() == 3,
        20,
        "3 messages to fail",
        lambda: f"{_statuses()}\n{worker.log_tail()}",
    )

    # Then each was tried once, failed with the 550 recorded, and nothing was received
    assert [(m.attempts, m.last_error[:3]) for m in Message.objects.all()] == [(1, "550")] * 3
    assert sum(smtp.data_commands.values()) == 3
    assert smtp.messages == []
    # And no later sweep offers them again
    assert messages_ready(now=timezone.now() + LEASE + REDISPATCH_AFTER + backoff(6)) == []
