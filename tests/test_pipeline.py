"""The reminder pipeline end to end: real PostgreSQL, Redis, Celery worker and SMTP server.

Runs in the PostgreSQL pass of `make test` (a worker in another process must see the test
database, which an in-memory SQLite cannot share).
"""

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection
from django.utils import timezone

from tracker.catalogue.models import Milestone, Regulation
from tracker.reminders.models import Message, Reminder, Subscription

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass (JALON_TEST_DB=postgres)")


@pytest.fixture
def worker(postgres_only, redis_url, smtp_server, tmp_path):
    """A real Celery worker (2 processes) on Redis, sending to the test's SMTP server."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DATABASE_CONN_MAX_AGE": "0",
        "REDIS_URL": redis_url,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.port),
    }
    client = Celery(broker=redis_url)
    client.control.purge()
    hostname = f"pipeline-{os.getpid()}@jalon-test"
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "2",
         "--hostname", hostname, "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not client.control.ping(destination=[hostname], timeout=1.0):
        assert process.poll() is None, (tmp_path / "worker.log").read_text()
        assert time.monotonic() < deadline, "the worker did not start"
    try:
        yield client
    finally:
        process.terminate()
        process.wait(timeout=30)
        client.close()
        log.close()
        print((tmp_path / "worker.log").read_text())


def _due_reminders(count: int) -> None:
    regulation = Regulation.objects.create(
        key="eu-ai-act", short_name="EU AI Act", title="AI Act", source_url="https://example.org"
    )
    milestone = Milestone.objects.create(
        regulation=regulation, key="soon", title="Soon",
        date=timezone.localdate() + dt.timedelta(days=7),
        category="application", status="in_force", confidence="high", legal_basis="Art. 113",
        source_url="https://example.org", verified_on=dt.date(2026, 11, 27),
    )  # fmt: skip
    for n in range(count):
        subscription = Subscription.objects.create(
            email=f"s{n}@example.org", status="active", regulation=regulation
        )
        Reminder.objects.create(
            subscription=subscription, milestone=milestone, occurrence=milestone.date,
            lead_days=7, due_at=timezone.now() - dt.timedelta(minutes=1),
        )  # fmt: skip


def _wait_for(predicate, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.2)


def test_every_due_reminder_arrives_exactly_once_when_two_sweeps_race(worker, smtp_server):
    _due_reminders(20)

    for _ in range(2):
        worker.send_task("tracker.reminders.tasks.reminders_sweep_task")
    _wait_for(lambda: len(smtp_server.messages) >= 20, 60)
    time.sleep(2)  # anything doubled would arrive now

    recipients = sorted(m["To"] for m in smtp_server.messages)
    assert recipients == sorted(f"s{n}@example.org" for n in range(20))
    assert Message.objects.filter(status="sent").count() == 20
