"""Two Celery beat processes at once, each sweeping every second: still one email each.

Real PostgreSQL, Redis, two beats, one worker (2 processes) and an SMTP server on loopback;
runs in the PostgreSQL pass of `make test`.
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
SUBSCRIBERS = 30
pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def env(redis_url, smtp_server, tmp_path):
    postgres_only()
    Celery(broker=redis_url).control.purge()
    return worker_env(redis_url=redis_url, smtp_port=smtp_server.port, REMINDER_SWEEP_SECONDS="1")


def _start(args, env, log_path):
    log = log_path.open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", *args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def test_two_beat_processes_at_once_send_each_reminder_once(env, smtp_server, tmp_path):
    # Given due reminders for 30 subscribers
    due_reminders(SUBSCRIBERS)
    processes = [
        _start(["worker", "--concurrency", "2", "--hostname", f"beat-test-{os.getpid()}@x",
                "--without-mingle", "--without-gossip"], env, tmp_path / "worker.log"),
    ]  # fmt: skip
    try:
        # When two beats sweep every second for a few seconds
        for n in range(2):
            schedule = tmp_path / f"beat-{n}-schedule"
            processes.append(
                _start(
                    ["beat", "--loglevel", "INFO", "--schedule", str(schedule)],
                    env,
                    tmp_path / f"beat-{n}.log",
                )
            )
        deadline = time.monotonic() + 60
        while len(smtp_server.messages) < SUBSCRIBERS and time.monotonic() < deadline:
            for process in processes:
                assert process.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
        time.sleep(4)  # four more sweeps from each beat: anything doubled would arrive now
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)

    # Then each subscriber got exactly one email
    recipients = sorted(m["To"] for m in smtp_server.messages)
    assert recipients == sorted(f"s{n}@example.org" for n in range(SUBSCRIBERS))
    assert Message.objects.filter(status="sent").count() == SUBSCRIBERS
    beat_log = (tmp_path / "beat-0.log").read_text() + (tmp_path / "beat-1.log").read_text()
    assert beat_log.count("Sending due task reminders-sweep") >= 4
