"""Reminder delivery rate: the real pipeline against a bare smtplib loop, same messages.

Target (docs/targets.md): delivery through the real pipeline reaches at least half the
rate of a bare `smtplib` loop sending the same messages to the same local SMTP server.

What runs, all on this machine:
- an aiosmtpd server on a free loopback port, in its own process, counting what it accepts;
- a scratch PostgreSQL database (created, migrated and dropped by this script) holding N
  active subscriptions with one due reminder each;
- a real Celery worker (`celery -A config worker --concurrency 2`) on a dedicated Redis
  database (flushed before and after).

Three figures, each for the same N messages and each the median of `--runs` runs (3):
1. pipeline, Celery: from the start of the sweep (`reminders_sweep_task`: sweep, then
   dispatch to Redis) until the SMTP server has received N messages sent by the worker;
2. pipeline, in process: `reminders_sweep` then `message_send` for each id, no Celery;
3. bare loop: the messages rendered by run 2, turned into bytes beforehand, sent by a plain
   loop that opens one `smtplib.SMTP` connection per message, as Django's backend does.

Usage, from the repository root:

    .venv/bin/python bench/delivery.py                 # N=500
    .venv/bin/python bench/delivery.py --messages 2000 --runs 5
    .venv/bin/python bench/delivery.py --smoke         # N=50, 1 run (CI)
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import re
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from support import (
    ROOT,
    django_setup,
    milestone_create,
    redis_flush,
    scratch_database,
    stop_on_sigterm,
)

TARGET_RATIO = 0.5
SMTP_HOST = "127.0.0.1"
DELIVERY_TIMEOUT = 300.0  # seconds to wait for the SMTP server to receive everything
FULL = {"messages": 500, "runs": 3}
SMOKE = {"messages": 50, "runs": 1}


# The SMTP server -------------------------------------------------------------------------


class CountingHandler:
    """Accepts every message and counts it; keeps nothing."""

    def __init__(self, counter):
        self.counter = counter

    async def handle_DATA(self, server, session, envelope):
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 OK"


def _smtp_serve(port: int, counter, ready, stop) -> None:
    controller = Controller(CountingHandler(counter), hostname=SMTP_HOST, port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((SMTP_HOST, 0))
        return s.getsockname()[1]


class SMTPSink:
    """aiosmtpd in a separate process, so it does not share a GIL with whoever is sending."""

    def __init__(self):
        context = multiprocessing.get_context("spawn")
        self.port = free_port()
        self._counter = context.Value("i", 0)
        self._ready = context.Event()
        self._stop = context.Event()
        self._process = context.Process(
            target=_smtp_serve,
            args=(self.port, self._counter, self._ready, self._stop),
            daemon=True,
        )

    @property
    def count(self) -> int:
        return self._counter.value

    def wait_for(self, total: int, timeout: float = DELIVERY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while self.count < total:
            if time.monotonic() > deadline:
                raise RuntimeError(f"SMTP server received {self.count} of {total} messages")
            time.sleep(0.005)

    def __enter__(self) -> SMTPSink:
        self._process.start()
        if not self._ready.wait(timeout=15):
            self._process.terminate()
            raise RuntimeError("the SMTP server did not start")
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()


# Redis and the Celery worker ---------------------------------------------------------------


@contextmanager
def celery_worker(log_path: Path) -> Iterator[None]:
    """A real worker, 2 processes, with this process's environment (database, Redis, SMTP)."""
    from config.celery_app import app

    hostname = f"bench-{os.getpid()}@jalon-bench"
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "2",
        "--loglevel", "INFO", "--hostname", hostname, "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    with log_path.open("w") as log:
        # Its own session: a Ctrl-C here reaches only this script, which stops the worker.
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "LOG_TASKS": "true"},  # the send tasks' times: worker_task_ms
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not app.control.ping(destination=[hostname], timeout=1.0):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the worker did not start")
            yield
        except Exception:
            print(f"Worker log (end):\n{log_path.read_text()[-5000:]}", file=sys.stderr)
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# Data --------------------------------------------------------------------------------------


def reminders_create(count: int) -> None:
    """`count` active subscriptions, each with one reminder due a minute ago."""
    from django.utils import timezone

    from tracker.reminders.models import Reminder, Subscription

    milestone = milestone_create(date=timezone.localdate() + dt.timedelta(days=7))
    now = timezone.now()
    subscriptions = Subscription.objects.bulk_create(
        [
            Subscription(
                email=f"subscriber{n}@example.org",
                status=Subscription.Status.ACTIVE,
                regulation=milestone.regulation,
                confirmed_at=now,
            )
            for n in range(count)
        ],
        batch_size=1000,
    )
    Reminder.objects.bulk_create(
        [
            Reminder(
                subscription=subscription,
                milestone=milestone,
                occurrence=milestone.date,
                lead_days=7,
                due_at=now - dt.timedelta(minutes=1),
            )
            for subscription in subscriptions
        ],
        batch_size=1000,
    )


def reminders_reset() -> None:
    """Every reminder due again, no message: ready for the next run."""
    from tracker.outbox.models import Message
    from tracker.reminders.models import Reminder

    Reminder.objects.update(status=Reminder.Status.PENDING, message=None)
    Message.objects.all().delete()


def sent_count() -> int:
    from tracker.outbox.models import Message

    return Message.objects.filter(status=Message.Status.SENT).count()


# The three runs ----------------------------------------------------------------------------


@dataclass
class Result:
    """One of the three figures: the median of its runs."""

    name: str
    messages: int
    runs: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(self.runs)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def time_pipeline_celery(count: int, sink: SMTPSink) -> tuple[float, float, int]:
    """Sweep and dispatch here (the beat's task, called directly), the worker sends.

    One sweep takes at most SWEEP_BATCH reminders; the beat runs one a minute, this runs
    them back to back until nothing is left. Returns the seconds until the SMTP server had
    every message, the seconds spent sweeping and dispatching, and how many sweeps it took.
    """
    from tracker.reminders.tasks import reminders_sweep_task

    reminders_reset()
    expected = sink.count + count
    sweeps = 0
    started = time.perf_counter()
    while reminders_sweep_task()["dispatched"]:
        sweeps += 1
    swept = time.perf_counter() - started
    sink.wait_for(expected)
    seconds = time.perf_counter() - started
    check_sent(count)
    return seconds, swept, sweeps


def time_pipeline_in_process(count: int, sink: SMTPSink) -> float:
    """The same services, called one after the other in this process."""
    from django.utils import timezone

    from tracker.outbox.services import SEND_CHUNK, messages_send
    from tracker.reminders.services import reminders_sweep

    reminders_reset()
    expected = sink.count + count
    started = time.perf_counter()
    while message_ids := reminders_sweep(now=timezone.now()).message_ids:
        for start in range(0, len(message_ids), SEND_CHUNK):
            messages_send(message_ids=message_ids[start : start + SEND_CHUNK])
    sink.wait_for(expected)
    seconds = time.perf_counter() - started
    check_sent(count)
    return seconds


def check_sent(count: int, timeout: float = 30.0) -> None:
    """Every message marked sent (a worker records it just after the SMTP server's reply)."""
    deadline = time.monotonic() + timeout
    while (sent := sent_count()) != count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{sent} messages marked sent, expected {count}")
        time.sleep(0.05)


def rendered_payloads() -> list[tuple[str, list[str], bytes]]:
    """The queued messages as Django would put them on the wire: sender, recipients, bytes."""
    from django.core.mail import EmailMultiAlternatives

    from tracker.outbox.models import Message

    payloads = []
    for message in Message.objects.order_by("pk"):
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body_text,
            to=[message.to_email],
            headers=message.headers,
        )
        email.attach_alternative(message.body_html, "text/html")
        data = email.message().as_bytes(linesep="\r\n")
        payloads.append((email.from_email, email.recipients(), data))
    return payloads


def time_bare_loop(payloads: list[tuple[str, list[str], bytes]], sink: SMTPSink) -> float:
    """One connection per message: connect, EHLO, MAIL, RCPT, DATA, QUIT."""
    expected = sink.count + len(payloads)
    started = time.perf_counter()
    for sender, recipients, data in payloads:
        with smtplib.SMTP(SMTP_HOST, sink.port) as smtp:
            smtp.sendmail(sender, recipients, data)
    sink.wait_for(expected)
    return time.perf_counter() - started


def worker_task_ms(log_path: Path) -> float:
    """Median run time of a send task (SEND_CHUNK messages), from the worker's log lines."""
    found = re.findall(r"messages_send_task\[.*\] succeeded in ([0-9.]+)s", log_path.read_text())
    return 1000 * statistics.median(float(seconds) for seconds in found)


# Report ------------------------------------------------------------------------------------


def report(
    bare: Result, celery: Result, in_process: Result, swept: float, sweeps: int, task_ms: float
) -> str:
    ratio = celery.rate / bare.rate
    lines = [
        f"Reminder delivery: {bare.messages} messages to aiosmtpd on {SMTP_HOST}, "
        f"median of {len(bare.runs)} runs, {os.cpu_count()} cores "
        f"(load average {os.getloadavg()[0]:.1f})",
        "",
        f"  {'':<28} {'messages':>8} {'seconds':>8} {'messages/s':>11}   runs (s)",
    ]
    for r in (bare, celery, in_process):
        runs = " ".join(f"{seconds:.2f}" for seconds in r.runs)
        lines.append(f"  {r.name:<28} {r.messages:>8} {r.seconds:>8.2f} {r.rate:>11.1f}   {runs}")
    lines += [
        "",
        f"  Celery run: {sweeps} sweep(s) + dispatch {swept:.2f} s "
        f"({100 * swept / celery.seconds:.0f}% of it); median send task {task_ms:.1f} ms",
        f"  ratio pipeline (Celery) / bare: {ratio:.2f}   target >= {TARGET_RATIO}   "
        + ("met" if ratio >= TARGET_RATIO else "NOT MET"),
        f"  ratio pipeline (in process) / bare: {in_process.rate / bare.rate:.2f}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, help="N (default 500)")
    parser.add_argument("--runs", type=int, help="runs of each figure (default 3)")
    parser.add_argument("--smoke", action="store_true", help="N=50, 1 run (for CI)")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        help="a Redis database for this benchmark alone: it is flushed before and after",
    )
    args = parser.parse_args()
    defaults = SMOKE if args.smoke else FULL
    args.runs = args.runs or defaults["runs"]
    stop_on_sigterm()
    count = args.messages or defaults["messages"]
    bare = Result("bare smtplib loop", count)
    celery = Result("pipeline, Celery worker x2", count)
    in_process = Result("pipeline, in process", count)
    swept_seconds = []

    with (
        SMTPSink() as sink,
        scratch_database("delivery") as database_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        django_setup(
            database_url, REDIS_URL=args.redis_url, EMAIL_HOST=SMTP_HOST, EMAIL_PORT=str(sink.port)
        )
        redis_flush(args.redis_url)
        try:
            reminders_create(count)
            worker_log = Path(tmp) / "worker.log"
            with celery_worker(worker_log):
                for _ in range(args.runs):
                    seconds, swept, sweeps = time_pipeline_celery(count, sink)
                    celery.runs.append(seconds)
                    swept_seconds.append(swept)
            task_ms = worker_task_ms(worker_log)
            for _ in range(args.runs):
                in_process.runs.append(time_pipeline_in_process(count, sink))
            payloads = rendered_payloads()  # what the last run rendered
            for _ in range(args.runs):
                bare.runs.append(time_bare_loop(payloads, sink))
        finally:
            redis_flush(args.redis_url)
    print(report(bare, celery, in_process, statistics.median(swept_seconds), sweeps, task_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
