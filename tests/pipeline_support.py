"""Helpers for the tests that run the real pipeline: workers and beats in other processes.

Those processes must see the test database, so these tests run in the PostgreSQL pass. Their
fixtures (`redis_server`, `smtp_server_with`, `start_worker`) are in conftest.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import os
import runpy
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from celery import Celery
from celery._state import get_current_app
from django.db import connection
from django.utils import timezone
from kombu.exceptions import OperationalError

from tests.smtp import free_port
from tracker.catalogue.models import Milestone, Regulation
from tracker.reminders.models import Reminder, Subscription

ROOT = Path(__file__).resolve().parent.parent
SWEEP_TASK = "tracker.reminders.tasks.reminders_sweep_task"


def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass (JALON_TEST_DB=postgres)")


def worker_env(*, redis_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    """The environment of a Celery process pointed at the test database, Redis and SMTP."""
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DATABASE_CONN_MAX_AGE": "0",
        "REDIS_URL": redis_url,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        **extra,
    }


def due_reminders(count: int, first: int = 0) -> list[str]:
    """`count` active subscribers, each with one reminder due a minute ago; their addresses."""
    regulation, _ = Regulation.objects.get_or_create(
        key="eu-ai-act",
        defaults={
            "short_name": "EU AI Act",
            "title": "AI Act",
            "source_url": "https://example.org",
        },
    )
    milestone, _ = Milestone.objects.get_or_create(
        regulation=regulation, key="soon", defaults=dict(
            title="Soon", date=timezone.localdate() + dt.timedelta(days=7),
            category="application", status="in_force", confidence="high",
            legal_basis="Art. 113", source_url="https://example.org",
            verified_on=dt.date(2026, 11, 27),
        ),
    )  # fmt: skip
    addresses = []
    for n in range(first, first + count):
        subscription = Subscription.objects.create(
            email=f"s{n}@example.org", status="active", regulation=regulation
        )
        Reminder.objects.create(
            subscription=subscription, milestone=milestone, occurrence=milestone.date,
            lead_days=7, due_at=timezone.now() - dt.timedelta(minutes=1),
        )  # fmt: skip
        addresses.append(subscription.email)
    return sorted(addresses)


# Processes and servers a test starts and stops ------------------------------------------


def wait_for(predicate, seconds: float, what: str, detail=lambda: "") -> None:
    """Poll `predicate` until it holds; fail naming what did not happen, and why if known."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds:g} s waiting for {what}\n{detail()}")
        time.sleep(0.05)


class RedisServer:
    """A private redis-server (no persistence) that a test may stop and start again."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._answers, 10, f"redis-server on port {self.port} to answer")

    def _answers(self) -> bool:
        assert self.process.poll() is None, f"redis-server exited ({self.process.returncode})"
        try:
            with redis.Redis.from_url(self.url, socket_connect_timeout=0.5) as client:
                return client.ping()
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        """Kill it, as a crash would: without persistence, whatever it held is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class FaultySMTPHandler:
    """Records each message as its DATA arrives, then answers, slowly or with a refusal."""

    reply_delay: float = 0.0  # seconds between receiving DATA and answering it
    first_reply: str = ""  # answer to the first DATA for each recipient, e.g. a 451
    every_reply: str = ""  # answer to every DATA, e.g. a 550
    messages: list = field(default_factory=list)
    data_commands: Counter = field(default_factory=Counter)

    async def handle_DATA(self, server, session, envelope):
        recipients = ",".join(envelope.rcpt_tos)
        self.data_commands[recipients] += 1
        if self.every_reply:
            return self.every_reply
        if self.first_reply and self.data_commands[recipients] == 1:
            return self.first_reply
        # Counted as received before the client hears 250: a sender killed during the delay
        # has delivered the message without knowing it, which is the at-least-once window.
        self.messages.append(email.message_from_bytes(envelope.original_content))
        await asyncio.sleep(self.reply_delay)
        return "250 OK"

    def recipients(self) -> list[str]:
        return sorted(m["To"] for m in self.messages)


class Worker:
    """A real Celery worker subprocess, in its own process group so it can be killed whole."""

    def __init__(self, *, broker_url: str, smtp_port: int, concurrency: int, log_path: Path):
        self.env = worker_env(redis_url=broker_url, smtp_port=smtp_port, EMAIL_TIMEOUT="5")
        self.concurrency = concurrency
        self.log_path = log_path
        self.hostname = f"faults-{os.getpid()}-{log_path.stem}@jalon-test"
        self.broker_url = broker_url
        self.client = Celery(broker=broker_url, set_as_current=False)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker",
                 "--concurrency", str(self.concurrency), "--hostname", self.hostname,
                 "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        wait_for(self.answers_ping, 30, f"worker {self.hostname} to start", self.log_tail)

    def answers_ping(self) -> bool:
        assert self.process.poll() is None, f"the worker exited\n{self.log_tail()}"
        try:
            return bool(self.client.control.ping(destination=[self.hostname], timeout=0.5))
        except (OperationalError, redis.ConnectionError, OSError):
            # Our own client's connection broke with Redis: start it afresh next time.
            self.client.close()
            self.client = Celery(broker=self.broker_url, set_as_current=False)
            return False

    def send_sweep(self) -> None:
        """What beat does every minute."""
        self.client.send_task(SWEEP_TASK)

    def kill(self) -> None:
        """SIGKILL the main process and its pool at once: nothing acks, rejects or cleans up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                with suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=20)
            # whatever is left of the group: a stuck main process, orphaned pool processes
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.client.close()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text() if self.log_path.exists() else ""
        return "worker log (tail):\n" + "\n".join(text.splitlines()[-lines:])


@contextmanager
def web_celery_on(broker_url: str):
    """The web process's Celery app (config.celery_app) configured as with REDIS_URL set.

    The test settings use the filesystem broker; this reads the broker settings that
    config/settings.py gives for REDIS_URL, so the fail-fast options are the real ones.
    """
    from config.celery_app import app

    saved = {key: app.conf[key] for key in ("broker_url", "broker_transport_options")}
    before = os.environ.get("REDIS_URL")
    os.environ["REDIS_URL"] = broker_url
    try:
        production = runpy.run_path(str(ROOT / "config" / "settings.py"))
    finally:
        if before is None:
            del os.environ["REDIS_URL"]
        else:
            os.environ["REDIS_URL"] = before

    def drop_connections():  # the pools hold connections made with the previous broker_url
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None

    previous_app = get_current_app()
    app.conf.update(
        broker_url=production["CELERY_BROKER_URL"],
        broker_transport_options=production["CELERY_BROKER_TRANSPORT_OPTIONS"],
    )
    drop_connections()
    app.set_current()  # shared tasks publish through the current app
    try:
        yield app
    finally:
        drop_connections()
        app.conf.update(saved)
        previous_app.set_current()
