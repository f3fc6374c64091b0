"""The reminder pipeline end to end: real PostgreSQL, Redis, Celery worker and SMTP server.

Runs in the PostgreSQL pass of `make test` (a worker in another process must see the test
database, which an in-memory SQLite cannot share).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery

from tests.pipeline_support import due_reminders, postgres_only, worker_env
from tracker.outbox.models import Message

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(redis_url, smtp_server, tmp_path):
    """A real Celery worker (2 processes) on Redis, sending to the test's SMTP server."""
    postgres_only()
    env = worker_env(redis_url=redis_url, smtp_port=smtp_server.port)
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


def _wait_for(predicate, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.2)


def test_every_due_reminder_arrives_exactly_once_when_two_sweeps_race(worker, smtp_server):
    due_reminders(20)

    for _ in range(2):
        worker.send_task("tracker.reminders.tasks.reminders_sweep_task")
    _wait_for(lambda: len(smtp_server.messages) >= 20, 60)
    time.sleep(2)  # anything doubled would arrive now

    recipients = sorted(m["To"] for m in smtp_server.messages)
    assert recipients == sorted(f"s{n}@example.org" for n in range(20))
    assert Message.objects.filter(status="sent").count() == 20
