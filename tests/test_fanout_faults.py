"""A catalogue change's fan-out under a fault: the worker SIGKILLed in the middle of it.

When a followed date moves, the reminder engine's consumer (tracker/reminders/changes.py)
re-plans every follower's reminders and writes each a DATE_MOVED notice, chunk by chunk, each
chunk its own transaction. A worker killed half-way leaves some followers done and the rest
not; the change's receipt stays RUNNING. Beat's `changes_publish_pending` offers the change
again once the receipt's lease has passed, and the second run must finish the job without
doubling anything.

Same setup as test_pipeline_faults.py: real PostgreSQL (the PostgreSQL pass only), a private
redis-server, a real Celery worker subprocess. The notices are counted as rows; what happens to
them at the SMTP server is not what this tests (the worker's SMTP port is closed). Time does
not pass in a test: where production waits (REPUBLISH_AFTER, the receipt's LEASE), the test
moves the rows' timestamps back by as much, then runs what beat runs.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.db.models import Count, F
from django.utils import timezone

from tests.pipeline_support import ROOT, Worker, postgres_only, wait_for, web_celery_on
from tests.smtp import free_port
from tracker.catalogue.events import LEASE, REPUBLISH_AFTER, changes_publish_pending
from tracker.catalogue.models import ChangeReceipt, Milestone, MilestoneChange, Regulation
from tracker.catalogue.services import milestone_amend
from tracker.outbox.models import Message
from tracker.reminders.models import Reminder, Subscription
from tracker.reminders.services import reminder_rows

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

FOLLOWERS = 3000
LEAD_DAYS = [90, 30, 7, 1]
# Followers per chunk in the worker: small, so that the kill falls between chunks and inside
# one, with many chunks done and many still to do.
FANOUT_CHUNK = 200
KILL_AFTER = 600  # notices written before the worker is killed

# The worker, with the fan-out's chunk size set before it forks its pool (an environment
# variable would have to be read by the settings; this test changes no production code).
WORKER_BOOTSTRAP = """\
import sys
import django
django.setup()
import tracker.reminders.changes
tracker.reminders.changes.FANOUT_CHUNK = int(sys.argv[1])
from config.celery_app import app
app.worker_main(sys.argv[2:])
"""


@pytest.fixture(autouse=True)
def _postgres_only():
    postgres_only()


class FanoutWorker(Worker):
    """The Worker of test_pipeline_faults.py, started through WORKER_BOOTSTRAP."""

    def start(self) -> None:
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", WORKER_BOOTSTRAP, str(FANOUT_CHUNK),
                 "worker", "--concurrency", str(self.concurrency), "--hostname", self.hostname,
                 "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        wait_for(self.answers_ping, 30, f"worker {self.hostname} to start", self.log_tail)


@pytest.fixture
def start_worker(tmp_path):
    started: list[FanoutWorker] = []

    def start(*, broker_url: str) -> FanoutWorker:
        # One process: the fan-out runs alone, the send tasks it queues wait behind it.
        worker = FanoutWorker(
            broker_url=broker_url,
            smtp_port=free_port(),  # nothing listens there: sending is not what is tested
            concurrency=1,
            log_path=tmp_path / f"worker{len(started) + 1}.log",
        )
        started.append(worker)
        worker.start()
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


# Data and helpers ----------------------------------------------------------------------


def followed_milestone(*, followers: int) -> Milestone:
    """A fixed milestone 120 days ahead, followed through its regulation by `followers`
    active subscribers, each with its 4 reminders planned."""
    regulation = Regulation.objects.create(
        key="eu-ai-act", short_name="EU AI Act", title="AI Act", source_url="https://example.org"
    )
    milestone = Milestone.objects.create(
        regulation=regulation, key="high-risk", title="High-risk obligations apply",
        date=timezone.localdate() + dt.timedelta(days=120), category="application",
        status="in_force", confidence="high", legal_basis="Art. 113",
        source_url="https://example.org", verified_on=dt.date(2026, 11, 27),
    )  # fmt: skip
    now = timezone.now()
    subscriptions = Subscription.objects.bulk_create(
        [
            Subscription(
                email=f"s{n}@example.org",
                status=Subscription.Status.ACTIVE,
                regulation=regulation,
                lead_days=LEAD_DAYS,
                confirmed_at=now,
            )
            for n in range(followers)
        ],
        batch_size=1000,
    )
    today = timezone.localdate()
    rows = []
    for subscription in subscriptions:
        rows += reminder_rows(subscription=subscription, milestone=milestone, today=today)
    Reminder.objects.bulk_create(rows, batch_size=2000)
    return milestone


def _notices() -> int:
    return Message.objects.filter(kind="date_moved").count()


def _receipt(consumer: str) -> ChangeReceipt | None:
    return ChangeReceipt.objects.filter(consumer=consumer).first()


def _other_database_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return cursor.fetchone()[0]


# A worker killed in the middle of a fan-out ----------------------------------------------


def test_a_worker_killed_mid_fanout_then_restarted_leaves_each_follower_one_notice(
    redis_server, start_worker
):
    # Given 3,000 subscribers following a milestone, and a worker
    milestone = followed_milestone(followers=FOLLOWERS)
    old_date = milestone.date
    new_date = old_date + dt.timedelta(days=120)
    follower_ids = set(Subscription.objects.values_list("pk", flat=True))
    first = start_worker(broker_url=redis_server.url)

    with web_celery_on(redis_server.url):
        # When an editor records an amendment (committed: its consumers' tasks are queued)
        started = time.monotonic()
        milestone_amend(
            milestone=milestone, new_date=new_date, amending_act="Regulation (EU) 2026/1744",
            source_url="https://eur-lex.europa.eu/eli/reg/2026/1744", confidence="high",
        )  # fmt: skip
        change = MilestoneChange.objects.get(milestone=milestone, kind="moved")

        # And the worker's whole process group is SIGKILLed when some notices are written
        wait_for(
            lambda: _notices() >= KILL_AFTER,
            30,
            f"{KILL_AFTER} notices to be written",
            lambda: f"{_notices()} notices\n{first.log_tail()}",
        )
        first.kill()
        killed_after = time.monotonic() - started
        # (its database sessions end with it: a chunk it was writing is rolled back by then)
        wait_for(lambda: _other_database_sessions() == 0, 10, "the dead worker's sessions to end")

        # Then some followers, not all, have their notice, and the change is not done
        at_kill = _notices()
        replanned_at_kill = Reminder.objects.filter(occurrence=new_date).count()
        assert 0 < at_kill < FOLLOWERS
        assert at_kill % FANOUT_CHUNK == 0  # whole chunks: the one in flight left nothing
        assert replanned_at_kill == at_kill * len(LEAD_DAYS)
        receipt = _receipt("reminders")
        assert (receipt.status, receipt.attempts) == (ChangeReceipt.Status.RUNNING, 1)

        # When a fresh worker starts (and takes what the dead one left on the queue: the
        # workspace's and the webhooks' tasks), the change is older than REPUBLISH_AFTER and the
        # receipt's lease has passed (the rows' times moved back by as much), and beat offers
        # the change again
        second = start_worker(broker_url=redis_server.url)
        for consumer in ("workspace", "webhooks"):
            wait_for(
                lambda consumer=consumer: getattr(_receipt(consumer), "status", None)
                == ChangeReceipt.Status.DONE,
                20,
                f"the {consumer} consumer to finish",
                second.log_tail,
            )
        MilestoneChange.objects.filter(pk=change.pk).update(
            recorded_at=F("recorded_at") - REPUBLISH_AFTER - dt.timedelta(seconds=1)
        )
        ChangeReceipt.objects.filter(pk=receipt.pk).update(
            started_at=F("started_at") - LEASE - dt.timedelta(seconds=1)
        )
        restarted = time.monotonic()
        assert changes_publish_pending(now=timezone.now()) == 1  # the reminders consumer only

    wait_for(
        lambda: _receipt("reminders").status == ChangeReceipt.Status.DONE,
        40,
        "the reminders consumer to finish the fan-out",
        lambda: f"{_notices()} notices\n{second.log_tail()}",
    )
    finished_after = time.monotonic() - restarted
    print(
        f"\n[worker killed mid-fan-out] killed {killed_after:.2f} s after the amendment with "
        f"{at_kill} of {FOLLOWERS} notices written (chunks of {FANOUT_CHUNK}); the second "
        f"run finished {finished_after:.2f} s after the change was offered again"
    )

    # Then every follower has exactly one notice of the move, for this change
    per_stream = dict(
        Message.objects.filter(kind="date_moved").values_list("stream").annotate(n=Count("pk"))
    )
    per_subscription = {int(stream.split(":")[1]): n for stream, n in per_stream.items()}
    assert set(per_subscription) == follower_ids
    assert set(per_subscription.values()) == {1}
    assert _notices() == FOLLOWERS
    assert set(Message.objects.filter(kind="date_moved").values_list("dedupe_key", flat=True)) == {
        f"moved:{change.pk}:s{pk}" for pk in follower_ids
    }
    # And its reminders at the new date, each lead time once, none left at the old date
    reminders = Reminder.objects.filter(milestone=milestone)
    assert not reminders.filter(occurrence=old_date).exists()
    per_lead = (
        reminders.filter(occurrence=new_date, status=Reminder.Status.PENDING)
        .values("subscription_id", "lead_days")
        .annotate(n=Count("pk"))
    )
    assert {(row["lead_days"], row["n"]) for row in per_lead} == {(lead, 1) for lead in LEAD_DAYS}
    assert {row["subscription_id"] for row in per_lead} == follower_ids
    assert reminders.count() == FOLLOWERS * len(LEAD_DAYS)
    # And the receipt says done, on the second attempt, with every follower counted
    receipt = _receipt("reminders")
    assert (receipt.status, receipt.attempts, receipt.errors) == ("done", 2, [])
    assert receipt.outcome["followers"] == FOLLOWERS
