"""Reminder delivery rate: the real pipeline against two bare smtplib loops, same messages.

Target (docs/targets.md): delivery through the real pipeline reaches at least half the rate
of a bare `smtplib` loop sending the same pre-rendered messages over one reused connection to
the same local SMTP server (the SMTP limit); aim for 0.8.

What runs, all on this machine:
- an aiosmtpd server on a free loopback port, in its own process, counting what it accepts;
- a scratch PostgreSQL database (created, migrated and dropped by this script) holding N
  active subscriptions with one due reminder each;
- two real Celery workers on a dedicated Redis database (flushed before and after), one of
  1 process and one of 2 (`--concurrency 2`, as in the Procfile); in each pipeline run only
  one of them consumes the queue (`add_consumer` / `cancel_consumer`).

The rounds are interleaved, so that a change in the machine's load hits every figure of a
round alike: each round runs, for the same N messages,
1. the pipeline with the 1-process worker and with the 2-process worker (which goes first
   alternates): from the start of the sweep (`reminders_sweep_task`, called here as the beat
   would have a worker run it: sweep, then dispatch to Redis) until the SMTP server has
   received N messages, then every message checked as marked sent;
2. the bare loop over one reused connection: the messages the pipeline rendered, turned into
   bytes beforehand with Django's `EmailMultiAlternatives`, sent by `sendmail` over one
   `smtplib.SMTP` connection (the SMTP limit);
3. the bare loop with one connection per message (connect, EHLO, MAIL, RCPT, DATA, QUIT).

Each ratio is taken within a round, then the median over the rounds is reported; the last
line is the target's: `ratio pipeline / reused-connection bare: X.XX` (the 2-process worker).

Usage, from the repository root:

    .venv/bin/python bench/delivery.py                 # N=500, 5 rounds
    .venv/bin/python bench/delivery.py --messages 2000 --runs 7
    .venv/bin/python bench/delivery.py --smoke         # N=50, 1 round (CI)
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
from contextlib import ExitStack, contextmanager
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
QUEUE = "celery"  # the default queue: the sweep task and the send tasks
SWEEP_TASK = "tracker.reminders.tasks.reminders_sweep_task"
DELIVERY_TIMEOUT = 300.0  # seconds to wait for the SMTP server to receive everything
FULL = {"messages": 500, "runs": 5}
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
            time.sleep(0.002)

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


# The Celery workers ------------------------------------------------------------------------


@dataclass
class Worker:
    """A real worker in a process group of its own; `processes` is its --concurrency."""

    processes: int
    log_path: Path
    hostname: str = ""
    process: subprocess.Popen | None = None
    log_from: int = 0  # where the timed runs' lines start in its log

    def consume(self, active: bool) -> None:
        """Start or stop taking send tasks from the queue (the other worker takes them)."""
        from config.celery_app import app

        call = app.control.add_consumer if active else app.control.cancel_consumer
        replies = call(QUEUE, destination=[self.hostname], reply=True, timeout=5.0)
        if not replies:
            raise RuntimeError(f"worker {self.hostname} did not answer {call.__name__}")

    def task_ms(self, task: str) -> list[float]:
        """Run times of a task, from its log (LOG_TASKS=true), timed runs only."""
        with self.log_path.open("rb") as log:
            log.seek(self.log_from)
            text = log.read().decode(errors="replace")
        found = re.findall(rf"{task}\[.*\] succeeded in ([0-9.]+)s", text)
        return [1000 * float(seconds) for seconds in found]


@contextmanager
def celery_worker(processes: int, log_path: Path) -> Iterator[Worker]:
    """A worker with this process's environment (database, Redis, SMTP)."""
    from config.celery_app import app

    worker = Worker(processes, log_path, hostname=f"bench-{os.getpid()}-{processes}@jalon-bench")
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency",
        str(processes), "--loglevel", "INFO", "--hostname", worker.hostname,
        "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    with log_path.open("w") as log:
        # Its own session: a Ctrl-C here reaches only this script, which stops the worker.
        worker.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "LOG_TASKS": "true"},  # the send tasks' times: task_ms
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not app.control.ping(destination=[worker.hostname], timeout=1.0):
                if worker.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the worker of {processes} process(es) did not start")
            yield worker
        except Exception:
            print(f"Worker log (end):\n{log_path.read_text()[-5000:]}", file=sys.stderr)
            raise
        finally:
            worker.process.terminate()
            try:
                worker.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.process.pid, signal.SIGKILL)
                worker.process.wait()


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


def check_sent(count: int, timeout: float = 30.0) -> None:
    """Every message marked sent (a worker records it just after the SMTP server's reply)."""
    from tracker.outbox.models import Message

    deadline = time.monotonic() + timeout
    while (sent := Message.objects.filter(status=Message.Status.SENT).count()) != count:
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


# The runs ----------------------------------------------------------------------------------


def time_pipeline(count: int, sink: SMTPSink) -> float:
    """What beat does every minute: put `reminders_sweep_task` on the broker; a worker
    sweeps (and asks for a helper sweep when more than a batch is due), dispatches, sends.

    Seconds from the task's publication until the SMTP server has received every message;
    then every message must be marked sent.
    """
    from config.celery_app import app

    reminders_reset()
    expected = sink.count + count
    started = time.perf_counter()
    app.send_task(SWEEP_TASK)
    sink.wait_for(expected)
    seconds = time.perf_counter() - started
    check_sent(count)
    return seconds


def time_bare_reused(payloads: list[tuple[str, list[str], bytes]], sink: SMTPSink) -> float:
    """One connection for every message: the SMTP limit."""
    expected = sink.count + len(payloads)
    started = time.perf_counter()
    with smtplib.SMTP(SMTP_HOST, sink.port) as smtp:
        for sender, recipients, data in payloads:
            smtp.sendmail(sender, recipients, data)
    sink.wait_for(expected)
    return time.perf_counter() - started


def time_bare_per_message(payloads: list[tuple[str, list[str], bytes]], sink: SMTPSink) -> float:
    """One connection per message: connect, EHLO, MAIL, RCPT, DATA, QUIT."""
    expected = sink.count + len(payloads)
    started = time.perf_counter()
    for sender, recipients, data in payloads:
        with smtplib.SMTP(SMTP_HOST, sink.port) as smtp:
            smtp.sendmail(sender, recipients, data)
    sink.wait_for(expected)
    return time.perf_counter() - started


# Report ------------------------------------------------------------------------------------

PIPELINE_1 = "pipeline, worker x1 process"
PIPELINE_2 = "pipeline, worker x2 processes"
REUSED = "bare loop, reused connection"
PER_MESSAGE = "bare loop, connection per message"


@dataclass
class Rounds:
    messages: int
    seconds: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.seconds.setdefault(name, []).append(seconds)

    def rate(self, name: str, index: int) -> float:
        return self.messages / self.seconds[name][index]

    def ratios(self, name: str, base: str) -> list[float]:
        return [self.rate(name, i) / self.rate(base, i) for i in range(len(self.seconds[base]))]


def report(rounds: Rounds, workers: dict[str, Worker], started_load: float) -> str:
    n = rounds.messages
    runs = len(rounds.seconds[REUSED])
    lines = [
        f"Reminder delivery: {n} messages to aiosmtpd on {SMTP_HOST}, {runs} interleaved "
        f"round(s), {os.cpu_count()} cores (load average {started_load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end)",
        "",
        f"  {'':<34} {'median s':>8} {'messages/s':>11}   each round (s)",
    ]
    for name in (PIPELINE_1, PIPELINE_2, REUSED, PER_MESSAGE):
        seconds = rounds.seconds[name]
        median = statistics.median(seconds)
        each = " ".join(f"{s:.3f}" for s in seconds)
        lines.append(f"  {name:<34} {median:>8.3f} {n / median:>11.1f}   {each}")
    lines.append("")
    for name, worker in workers.items():
        sweeps, sends = worker.task_ms("reminders_sweep_task"), worker.task_ms("messages_send_task")
        lines.append(
            f"  {name}: {len(sweeps) / runs:.1f} sweep task(s) a run, median "
            f"{statistics.median(sweeps or [0]):.0f} ms; {len(sends) / runs:.1f} send tasks a "
            f"run, median {statistics.median(sends or [0]):.1f} ms"
        )
    lines.append("")

    def ratio_line(label: str, name: str, base: str) -> str:
        ratios = rounds.ratios(name, base)
        each = " ".join(f"{r:.2f}" for r in ratios)
        return f"  ratio {label}: {statistics.median(ratios):.2f}   (rounds: {each})"

    two_vs_one = rounds.ratios(PIPELINE_2, PIPELINE_1)
    lines += [
        ratio_line("pipeline x1 / reused-connection bare", PIPELINE_1, REUSED),
        ratio_line("pipeline x2 / connection-per-message bare", PIPELINE_2, PER_MESSAGE),
        ratio_line("connection-per-message / reused-connection bare", PER_MESSAGE, REUSED),
        f"  2 worker processes / 1: {statistics.median(two_vs_one):.2f}   "
        f"(rounds: {' '.join(f'{r:.2f}' for r in two_vs_one)})",
    ]
    target = statistics.median(rounds.ratios(PIPELINE_2, REUSED))
    lines.append(
        f"  target >= {TARGET_RATIO}: {'met' if target >= TARGET_RATIO else 'NOT MET'}"
        f"   (rounds: {' '.join(f'{r:.2f}' for r in rounds.ratios(PIPELINE_2, REUSED))})"
    )
    lines.append(f"ratio pipeline / reused-connection bare: {target:.2f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, help="N (default 500)")
    parser.add_argument("--runs", type=int, help="interleaved rounds (default 5)")
    parser.add_argument("--smoke", action="store_true", help="N=50, 1 round (for CI)")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        help="a Redis database for this benchmark alone: it is flushed before and after",
    )
    args = parser.parse_args()
    defaults = SMOKE if args.smoke else FULL
    runs = args.runs or defaults["runs"]
    count = args.messages or defaults["messages"]
    stop_on_sigterm()
    load = os.getloadavg()[0]
    rounds = Rounds(count)

    with ExitStack() as stack:
        sink = stack.enter_context(SMTPSink())
        database_url = stack.enter_context(scratch_database("delivery"))
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        django_setup(
            database_url, REDIS_URL=args.redis_url, EMAIL_HOST=SMTP_HOST, EMAIL_PORT=str(sink.port)
        )
        redis_flush(args.redis_url)
        stack.callback(redis_flush, args.redis_url)
        reminders_create(count)
        workers = {
            PIPELINE_1: stack.enter_context(celery_worker(1, tmp / "worker-1.log")),
            PIPELINE_2: stack.enter_context(celery_worker(2, tmp / "worker-2.log")),
        }

        def pipeline_run(name: str, *, timed: bool = True) -> None:
            for other, worker in workers.items():
                worker.consume(other == name)
            seconds = time_pipeline(count, sink)
            if timed:
                rounds.add(name, seconds)

        # Warm-up, not timed: each worker's first tasks (imports, connections), and the
        # messages the bare loops send (the ones the pipeline rendered).
        for name in workers:
            pipeline_run(name, timed=False)
        payloads = rendered_payloads()
        for worker in workers.values():
            worker.log_from = worker.log_path.stat().st_size  # the timed runs' tasks only
        for index in range(runs):
            order = [PIPELINE_1, PIPELINE_2] if index % 2 == 0 else [PIPELINE_2, PIPELINE_1]
            for name in order:
                pipeline_run(name)
            rounds.add(REUSED, time_bare_reused(payloads, sink))
            rounds.add(PER_MESSAGE, time_bare_per_message(payloads, sink))
        text = report(rounds, workers, load)  # reads the workers' logs, gone on the way out
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
