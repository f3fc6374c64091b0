"""Poisoned data and repeated requests in the real pipeline: one bad row fails alone, and
nothing untrue, doubled or unwanted reaches an inbox.

- a subscription written wrong straight into the database is set aside with its reason while
  beat's first tick serves everyone else, and an amendment of what it follows still goes through;
- an incident whose date the clock cannot count fails alone in the daily job;
- a reminder deferred by a 451 and then made untrue by a date move is withdrawn, and only the
  new date goes out;
- one address is one subscription, and one click stops everything for it;
- thirty requests for one address send at most one email, and forged X-Forwarded-For headers do
  not get past the subscribe throttle.

Same setup as test_pipeline_faults.py: real PostgreSQL (the PostgreSQL pass only), a private
redis-server per test, a real Celery worker subprocess (and a real beat where it says so) and an
aiosmtpd server on loopback. Emails are counted at the SMTP server. Time does not pass in a
test: where production waits (a retry delay), the test moves the rows' timestamps back by as
much, then runs the sweep the way beat does.
"""

from __future__ import annotations

import datetime as dt
import email
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.pipeline_support import (
    ROOT,
    FaultySMTPHandler,
    due_reminders,
    postgres_only,
    wait_for,
    web_celery_on,
    worker_env,
)
from tracker.catalogue.models import ChangeReceipt, Milestone, MilestoneChange, Regulation
from tracker.catalogue.services import milestone_amend
from tracker.outbox.models import Message
from tracker.reminders.models import Reminder, Subscription
from tracker.reminders.services import reminders_plan
from tracker.reminders.subscriptions import (
    Preferences,
    subscription_confirm,
    subscription_request,
)
from tracker.reminders.throttles import SubscribeThrottle
from tracker.workspace.models import AISystem, Incident, Membership
from tracker.workspace.services import incident_record, organisation_create

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

INCIDENT_TASK = "tracker.workspace.tasks.incident_reminders_task"
SETTLE = 1.0  # seconds to wait after the last expected email: a duplicate would come now


# Services ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _postgres_only():
    postgres_only()


class Beat:
    """A real Celery beat subprocess, sweeping every REMINDER_SWEEP_SECONDS (1 s here)."""

    def __init__(self, *, broker_url: str, smtp_port: int, workdir: Path):
        self.env = worker_env(redis_url=broker_url, smtp_port=smtp_port, REMINDER_SWEEP_SECONDS="1")
        self.log_path = workdir / "beat.log"
        self.schedule = workdir / "beat-schedule"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                 "--schedule", str(self.schedule)],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def sweeps(self) -> int:
        """Sweeps sent so far (beat's ticks of the reminders-sweep entry)."""
        assert self.process.poll() is None, f"beat exited\n{self.log_tail()}"
        return self.log_path.read_text().count("Sending due task reminders-sweep")

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                with suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=20)
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text() if self.log_path.exists() else ""
        return "beat log (tail):\n" + "\n".join(text.splitlines()[-lines:])


@pytest.fixture
def start_beat(tmp_path):
    started: list[Beat] = []

    def start(*, broker_url: str, smtp_port: int) -> Beat:
        beat = Beat(broker_url=broker_url, smtp_port=smtp_port, workdir=tmp_path)
        started.append(beat)
        beat.start()
        return beat

    try:
        yield start
    finally:
        for beat in started:
            beat.stop()


@pytest.fixture
def fresh_throttle():
    """The throttle counts in the database cache, which outlives a test's flush."""
    cache.clear()
    yield
    cache.clear()


# Data and helpers ----------------------------------------------------------------------


def followed_milestone(date: dt.date) -> Milestone:
    """A fixed milestone on `date`, in force, in the EU AI Act (which subscribers follow)."""
    regulation, _ = Regulation.objects.get_or_create(
        key="eu-ai-act",
        defaults={
            "short_name": "EU AI Act",
            "title": "AI Act",
            "source_url": "https://example.org",
        },
    )
    return Milestone.objects.create(
        regulation=regulation, key="deadline", title="High-risk obligations apply", date=date,
        category="application", status="in_force", confidence="high", legal_basis="Art. 113",
        source_url="https://example.org", verified_on=dt.date(2026, 11, 27),
    )  # fmt: skip


def amend(milestone: Milestone, new_date: dt.date) -> MilestoneChange:
    """An editor's amendment, committed; its consumers' tasks go to the broker."""
    amendment = milestone_amend(
        milestone=milestone, new_date=new_date, amending_act="Regulation (EU) 2026/1744",
        source_url="https://eur-lex.europa.eu/eli/reg/2026/1744", confidence="high",
    )  # fmt: skip
    assert (amendment.new_date, amendment.milestone_id) == (new_date, milestone.pk)
    return MilestoneChange.objects.filter(milestone=milestone, kind="moved").latest("pk")


def consumed(change: MilestoneChange) -> bool:
    """Both consumers (reminders and workspace) have finished the change."""
    done = ChangeReceipt.objects.filter(change=change, status=ChangeReceipt.Status.DONE)
    return done.count() == len(settings.CATALOGUE_CHANGE_CONSUMERS)


def long_date(day: dt.date) -> str:
    """A date as the emails write it ("j F Y")."""
    return f"{day.day} {day:%B %Y}"


def text_of(received: email.message.Message) -> str:
    for part in received.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return ""


def kind_of(received: email.message.Message) -> str:
    """The outbox kind of a received email, found from its Message-ID (<jalon.PK.…>)."""
    pk = re.match(r"<jalon\.(\d+)\.", received["Message-ID"]).group(1)
    return Message.objects.get(pk=pk).kind


def inbox(smtp: FaultySMTPHandler, address: str) -> list[email.message.Message]:
    return [m for m in smtp.messages if m["To"].lower() == address.lower()]


def sent_as(smtp: FaultySMTPHandler, kind: str) -> list[str]:
    """Recipients of the received emails of one kind, sorted."""
    return sorted(m["To"] for m in smtp.messages if kind_of(m) == kind)


def _statuses() -> dict[str, int]:
    return dict(Counter(f"{k}/{s}" for k, s in Message.objects.values_list("kind", "status")))


# A poisoned subscription -----------------------------------------------------------------


def test_a_poisoned_subscription_fails_alone_with_worker_and_beat(
    redis_server, smtp_server_with, start_worker, start_beat
):
    # Given 20 healthy subscribers with a reminder due, and two more written wrong straight
    # into the database (as a bad import would), each with a reminder due as well
    smtp, smtp_port = smtp_server_with()
    healthy = due_reminders(20)
    bad_zone, bad_leads = due_reminders(2, first=20)
    Subscription.objects.filter(email=bad_zone).update(timezone="Europe/Brusels")
    Subscription.objects.filter(email=bad_leads).update(lead_days=["7"])
    # (a language with no templates cannot even be written: the database refuses it)
    with (
        pytest.raises(IntegrityError, match="subscription_language_is_known"),
        transaction.atomic(),
    ):
        Subscription.objects.filter(email=healthy[0]).update(language="xx")

    # When a worker runs and beat sweeps every second
    worker = start_worker(broker_url=redis_server.url, smtp_port=smtp_port)
    beat = start_beat(broker_url=redis_server.url, smtp_port=smtp_port)
    wait_for(
        lambda: len(smtp.messages) >= 21,
        30,
        "the reminders of the 21 subscribers the sweep can serve",
        lambda: f"{_statuses()}\n{worker.log_tail()}\n{beat.log_tail()}",
    )
    ticks = beat.sweeps()
    wait_for(lambda: beat.sweeps() >= ticks + 2, 10, "two more sweeps", beat.log_tail)

    # Then each healthy subscriber got exactly one email, all made by one sweep (the first
    # tick that found them)
    reminders = Message.objects.filter(kind="reminders")
    assert sorted(m["To"] for m in smtp.messages) == sorted([*healthy, bad_leads])
    assert len({m.next_attempt_at for m in reminders}) == 1
    assert set(reminders.values_list("status", "attempts")) == {("sent", 1)}
    # And the subscription with an unknown time zone is set aside with the reason, its
    # reminder waiting for the correction, and nothing sent to it
    zone = Subscription.objects.get(email=bad_zone)
    assert zone.problem.startswith("ZoneInfoNotFoundError"), zone.problem
    assert "Europe/Brusels" in zone.problem
    assert zone.problem_at is not None
    assert list(zone.reminders.values_list("status", flat=True)) == ["pending"]
    assert not Message.objects.filter(to_email=bad_zone).exists()
    # (the one with malformed lead times got the reminder planned before it was corrupted:
    # the sweep never reads lead_days; planning does, below)
    assert Subscription.objects.get(email=bad_leads).problem == ""

    # When an editor amends the date of the milestone both poisoned subscriptions follow
    milestone = Milestone.objects.get(key="soon")
    new_date = timezone.localdate() + dt.timedelta(days=200)  # nothing new falls due today
    with web_celery_on(redis_server.url):
        change = amend(milestone, new_date)

    # Then the amendment is recorded, and the worker re-plans the followers, sets aside the
    # one whose lead times it cannot read and tells every healthy follower of the move
    assert Milestone.objects.get(pk=milestone.pk).date == new_date
    wait_for(lambda: consumed(change), 20, "the change to be consumed", worker.log_tail)
    wait_for(
        lambda: len(smtp.messages) >= 41,
        20,
        "the 20 notices of the move",
        lambda: f"{_statuses()}\n{worker.log_tail()}",
    )
    time.sleep(SETTLE)
    receipt = ChangeReceipt.objects.get(change=change, consumer="reminders")
    zone, leads = (
        Subscription.objects.get(email=bad_zone),
        Subscription.objects.get(email=bad_leads),
    )
    assert sorted(e["subscription"] for e in receipt.errors) == sorted([zone.pk, leads.pk])
    assert receipt.outcome["followers"] == 22
    assert leads.problem.startswith("TypeError") and ": str" in leads.problem, leads.problem
    assert zone.problem.startswith("ZoneInfoNotFoundError"), zone.problem
    assert sent_as(smtp, "date_moved") == healthy
    assert len(smtp.messages) == 41
    replanned = Reminder.objects.filter(subscription__email__in=healthy, status="pending")
    assert set(replanned.values_list("occurrence", flat=True)) == {new_date}
    assert replanned.count() == 20 * 4  # 90, 30, 7 and 1 days ahead of the new date
    assert not Message.objects.filter(to_email__in=[bad_zone, bad_leads], kind="date_moved")


# A poisoned incident -----------------------------------------------------------------------


def test_a_poisoned_incident_fails_alone_in_the_daily_job(
    redis_server, smtp_server_with, start_worker, officer, teammate, ai_act_catalogue
):
    # Given an organisation with two open incidents, each with an owner, one of them with an
    # awareness date the clock cannot count from, written straight into the database
    smtp, smtp_port = smtp_server_with()
    organisation = organisation_create(name="Acme AI", owner=officer)
    Membership.objects.create(organisation=organisation, user=teammate, role="editor")
    system = AISystem.objects.create(
        organisation=organisation, name="CV screener", risk_class="high_risk_annex_iii"
    )
    aware = timezone.now() - dt.timedelta(days=1)
    healthy, poisoned = (
        incident_record(organisation=organisation, system=system, kinds=["general"],
                        member_state="FI", region="", aware_at=aware, description="", owner=owner)
        for owner in (officer, teammate)
    )  # fmt: skip
    Incident.objects.filter(pk=poisoned.pk).update(
        aware_at=dt.datetime(9999, 12, 31, 12, tzinfo=dt.UTC)
    )
    worker = start_worker(broker_url=redis_server.url, smtp_port=smtp_port)

    # When the daily job runs in the worker, and the sweep after it
    worker.client.send_task(INCIDENT_TASK)
    wait_for(
        lambda: Message.objects.filter(kind="incident_clock").count() == 2,
        20,
        "the daily job to write both incidents' messages",
        lambda: f"{_statuses()}\n{worker.log_tail()}",
    )
    worker.send_sweep()
    # (3 notices went out when the incidents were recorded: the officer, an owner of the
    # organisation, for both; the teammate for theirs.)
    wait_for(
        lambda: len(smtp.messages) >= 4, 20, "the healthy incident's reminder", worker.log_tail
    )
    time.sleep(SETTLE)

    # Then the healthy incident's owner was reminded, and only they
    reminders = [m for m in smtp.messages if m["Subject"].startswith("Report the incident")]
    assert [m["To"] for m in reminders] == [officer.email]
    assert len(smtp.messages) == 4
    assert Message.objects.get(kind="incident_clock", topic=f"incident:{healthy.pk}").status == (
        "sent"
    )
    # And the poisoned incident is recorded as a failed message with its error
    failed = Message.objects.get(kind="incident_clock", topic=f"incident:{poisoned.pk}")
    assert (failed.kind, failed.status, failed.to_email) == (
        "incident_clock", "failed", teammate.email,
    )  # fmt: skip
    assert failed.last_error.strip()
    assert failed.attempts == 0  # never offered to SMTP


# A deferred reminder, then a date move ------------------------------------------------------


def test_a_deferred_reminder_then_a_date_move_sends_only_the_new_date(
    redis_server, smtp_server_with, start_worker
):
    # Given a subscriber (UTC, 00:00, 7 and 1 days ahead) following a milestone in 7 days, and
    # an SMTP server that answers 451 to everything
    smtp, smtp_port = smtp_server_with(every_reply="451 4.3.0 Try again later")
    worker = start_worker(broker_url=redis_server.url, smtp_port=smtp_port)
    today = timezone.now().astimezone(dt.UTC).date()
    old_date, new_date = today + dt.timedelta(days=7), today + dt.timedelta(days=1)
    milestone = followed_milestone(old_date)
    subscription = Subscription.objects.create(
        email="ada@example.org", status="active", regulation=milestone.regulation,
        timezone="UTC", send_hour=0, lead_days=[7, 1], confirmed_at=timezone.now(),
    )  # fmt: skip
    assert reminders_plan(subscription=subscription, today=today) == 2

    # When the sweep runs: the 7-day reminder (due today at 00:00) is refused with a 451
    worker.send_sweep()
    wait_for(
        lambda: Message.objects.filter(kind="reminders", status="queued", attempts=1).exists(),
        20,
        "the reminder to be tried once and queued again",
        lambda: f"{_statuses()}\n{worker.log_tail()}",
    )
    deferred = Message.objects.get(kind="reminders")
    assert deferred.last_error.startswith("451")
    assert deferred.next_attempt_at > timezone.now()
    assert long_date(old_date) in deferred.body_text

    # And the date moves to tomorrow, and the worker consumes the change (its notice of the
    # move is refused with a 451 too)
    with web_celery_on(redis_server.url):
        change = amend(milestone, new_date)
    wait_for(lambda: consumed(change), 20, "the change to be consumed", worker.log_tail)
    wait_for(
        lambda: Message.objects.filter(kind="date_moved", status="queued", attempts=1).exists(),
        20,
        "the notice of the move to be tried once",
        lambda: f"{_statuses()}\n{worker.log_tail()}",
    )
    assert smtp.messages == []

    # When the SMTP server accepts again, the retry delays have passed (the rows' times moved
    # back) and beat runs the sweep
    smtp.every_reply = ""
    Message.objects.filter(status="queued").update(
        next_attempt_at=timezone.now(), dispatched_at=None
    )
    worker.send_sweep()
    wait_for(
        lambda: len(smtp.messages) >= 2,
        20,
        "the notice and the new reminder",
        lambda: f"{_statuses()}\n{worker.log_tail()}",
    )
    time.sleep(SETTLE)

    # Then the notice arrived once, and the one reminder that arrived gives the new date only
    assert sorted(kind_of(m) for m in smtp.messages) == ["date_moved", "reminders"]
    notice = next(m for m in smtp.messages if kind_of(m) == "date_moved")
    reminder = next(m for m in smtp.messages if kind_of(m) == "reminders")
    assert f"Was: {long_date(old_date)}" in text_of(notice)
    assert f"Now: {long_date(new_date)}" in text_of(notice)
    assert f"Due: {long_date(new_date)} (1 days left)" in text_of(reminder)
    assert long_date(old_date) not in text_of(reminder)
    assert long_date(old_date) not in reminder["Subject"]
    # And the deferred email is cancelled, saying why, and was never delivered
    deferred.refresh_from_db()
    assert (deferred.status, deferred.attempts) == ("cancelled", 1)
    assert "moved" in deferred.last_error
    assert f"change {change.pk}" in deferred.last_error
    assert not Reminder.objects.filter(occurrence=old_date).exists()
    assert list(Reminder.objects.values_list("occurrence", "lead_days", "status")) == [
        (new_date, 1, "queued")
    ]


# One address, two requests, one click ---------------------------------------------------------


def test_one_address_subscribed_twice_gets_one_email_and_one_click_stops_everything(
    redis_server, smtp_server_with, start_worker, client
):
    smtp, smtp_port = smtp_server_with()
    worker = start_worker(broker_url=redis_server.url, smtp_port=smtp_port)
    milestone = followed_milestone(timezone.localdate() + dt.timedelta(days=7))
    preferences = Preferences(regulation=milestone.regulation)
    with web_celery_on(redis_server.url):
        # Given one address subscribed twice, written differently
        first = subscription_request(email="A@Example.org", preferences=preferences)
        second = subscription_request(email="a@example.org", preferences=preferences)

        # Then it is one subscription, asked to confirm once
        assert Subscription.objects.count() == 1
        assert first.pk == second.pk
        wait_for(lambda: len(smtp.messages) >= 1, 20, "the confirmation", worker.log_tail)

        # When it is confirmed and a reminder falls due, and beat runs the sweep
        subscription = Subscription.objects.get()
        assert subscription_confirm(subscription=subscription)
        assert subscription.reminders.filter(lead_days=7).update(
            due_at=timezone.now() - dt.timedelta(minutes=1)
        )
        worker.send_sweep()
        wait_for(lambda: len(smtp.messages) >= 2, 20, "the reminder", worker.log_tail)
        time.sleep(SETTLE)

        # Then exactly one reminder email arrived
        assert [kind_of(m) for m in smtp.messages] == ["confirmation", "reminders"]
        reminder = smtp.messages[1]

        # When the one-click unsubscribe link of that email is POSTed, as a mail client does
        unsubscribe_url = "".join(reminder["List-Unsubscribe"].split()).strip("<>")  # unfolded
        assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        response = client.post(
            urlsplit(unsubscribe_url).path,
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200
        subscription.refresh_from_db()
        assert subscription.status == "unsubscribed"

        # And afterwards the followed date moves (a notice would go to every follower), other
        # reminders fall due (one planned in a race with the click, too) and beat sweeps
        new_date = milestone.date + dt.timedelta(days=30)
        change = amend(milestone, new_date)
        wait_for(lambda: consumed(change), 20, "the change to be consumed", worker.log_tail)
        subscription.reminders.update(due_at=timezone.now() - dt.timedelta(minutes=1))
        raced = Reminder.objects.create(
            subscription=subscription, milestone=milestone, occurrence=new_date, lead_days=30,
            due_at=timezone.now() - dt.timedelta(minutes=1),
        )  # fmt: skip
        worker.send_sweep()
        wait_for(
            lambda: Reminder.objects.get(pk=raced.pk).status == "cancelled",
            20,
            "the sweep to cancel the raced reminder",
            worker.log_tail,
        )
        time.sleep(SETTLE)

    # Then nothing more reached the address
    assert len(inbox(smtp, "a@example.org")) == 2
    assert len(smtp.messages) == 2
    assert not Message.objects.filter(kind="date_moved").exists()
    assert ChangeReceipt.objects.get(change=change, consumer="reminders").outcome["followers"] == 0
    assert Message.objects.filter(status="queued").count() == 0


# Thirty requests for one address --------------------------------------------------------------


def test_thirty_requests_for_one_address_send_at_most_one_email(
    redis_server, smtp_server_with, start_worker, client, fresh_throttle
):
    smtp, smtp_port = smtp_server_with()
    worker = start_worker(broker_url=redis_server.url, smtp_port=smtp_port)
    milestone = followed_milestone(timezone.localdate() + dt.timedelta(days=60))
    preferences = Preferences(regulation=milestone.regulation)
    Subscription.objects.create(
        email="active@example.org", status="active", regulation=milestone.regulation,
        confirmed_at=timezone.now(),
    )  # fmt: skip

    with web_celery_on(redis_server.url):
        # When 30 requests come for an active address and 30 for a new one
        for _ in range(30):
            subscription_request(email="active@example.org", preferences=preferences)
        for _ in range(30):
            subscription_request(email="new@example.org", preferences=preferences)
        wait_for(lambda: len(smtp.messages) >= 2, 20, "two emails", worker.log_tail)
        time.sleep(SETTLE)

        # Then the active address got one link to its settings, the new one one confirmation
        assert sorted((m["To"], kind_of(m)) for m in smtp.messages) == [
            ("active@example.org", "manage"), ("new@example.org", "confirmation"),
        ]  # fmt: skip
        assert Subscription.objects.count() == 2

        # When one client POSTs 40 subscribe requests, each with another forged
        # X-Forwarded-For, from the same address
        throttle = SubscribeThrottle()
        allowed, _ = throttle.parse_rate(throttle.get_rate())
        assert allowed < 40, f"the subscribe rate ({throttle.get_rate()}) allows the test"
        statuses = [
            client.post(
                "/api/v1/subscriptions/",
                {"email": f"u{n}@example.org", "regulation": "eu-ai-act", "lead_days": [7]},
                content_type="application/json", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
                REMOTE_ADDR="198.51.100.7",
            ).status_code
            for n in range(40)
        ]  # fmt: skip
        wait_for(
            lambda: len(smtp.messages) >= 2 + allowed,
            20,
            f"the {allowed} confirmations let through",
            worker.log_tail,
        )
        time.sleep(SETTLE)

    # Then once the rate is used up every request gets 429, whatever the header says, and
    # only the requests let through were written and sent
    assert statuses == [202] * allowed + [429] * (40 - allowed)
    assert Subscription.objects.filter(email__startswith="u").count() == allowed
    assert sent_as(smtp, "confirmation") == sorted(
        ["new@example.org", *(f"u{n}@example.org" for n in range(allowed))]
    )
    assert len(smtp.messages) == 2 + allowed
