"""Writes for the reminder engine: planning reminders, the sweep, and sending one message.

The database is the source of truth. A reminder is a row, unique per subscription, milestone
occurrence and lead time, so planning twice is harmless. The sweep groups what is due into
one message per subscriber, and a worker claims a message with a conditional UPDATE before it
talks to the SMTP server, so two sweeps, two beats or a redelivered task cannot send twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import socket
from dataclasses import dataclass, field
from itertools import groupby
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from tracker.catalogue.models import Milestone
from tracker.reminders.emails import subscriber_message
from tracker.reminders.models import Message, Reminder, Subscription
from tracker.reminders.selectors import subscription_milestones

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
LEASE = dt.timedelta(minutes=5)
SWEEP_BATCH = 100  # small batches: workers start sending while the next one is rendered
DISPATCH_LIMIT = 2000
REDISPATCH_AFTER = dt.timedelta(minutes=2)
OCCURRENCES_AHEAD = 3
SEND_CHUNK = 20  # messages per send task: one SMTP connection, few broker round trips
SEND_TASK = "tracker.reminders.tasks.messages_send_task"


def due_at_for(*, subscription: Subscription, day: dt.date) -> dt.datetime:
    """The instant `day` at the subscriber's local hour, always on that local day.

    An hour that happens twice (clocks back) means its first occurrence. An hour that does not
    exist (clocks forward) means the first instant after the gap; when the gap ends the day
    (America/Nuuk, 23:00 on the last Saturday of March), the last instant before it, so the
    reminder keeps its day.
    """
    zone = ZoneInfo(subscription.timezone)
    local = dt.datetime.combine(day, dt.time(subscription.send_hour), zone)
    instant = local.astimezone(dt.UTC)
    if instant.astimezone(zone).date() != day:
        end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), zone)
        instant = end_of_day.replace(fold=1).astimezone(dt.UTC) - dt.timedelta(seconds=1)
    return instant


def reminder_rows(
    *, subscription: Subscription, milestone: Milestone, today: dt.date
) -> list[Reminder]:
    """The unsaved reminders still ahead for one subscription and one milestone."""
    rows = []
    for occurrence in milestone.occurrences(start=today, count=OCCURRENCES_AHEAD):
        for lead in subscription.lead_days:
            day = occurrence - dt.timedelta(days=lead)
            if day < today:
                continue
            rows.append(
                Reminder(
                    subscription=subscription,
                    milestone=milestone,
                    occurrence=occurrence,
                    lead_days=lead,
                    due_at=due_at_for(subscription=subscription, day=day),
                )
            )
    return rows


def reminders_plan(
    *, subscription: Subscription, today: dt.date, only: list[int] | None = None
) -> int:
    """Create the reminders still ahead for an active subscription; returns how many are new.

    `only` limits planning to some milestones.
    """
    if subscription.status != Subscription.Status.ACTIVE:
        return 0
    milestones = subscription_milestones(subscription=subscription)
    if only is not None:
        milestones = milestones.filter(pk__in=only)
    rows = []
    for milestone in milestones:
        rows += reminder_rows(subscription=subscription, milestone=milestone, today=today)
    before = subscription.reminders.count()
    Reminder.objects.bulk_create(rows, ignore_conflicts=True)
    return subscription.reminders.count() - before


def subscription_flag(*, subscription: Subscription, problem: Exception | str, now) -> None:
    """Set a subscription aside with the reason, where the admin sees it; the sweep and the
    planning skip it until an admin corrects it (saving it in the admin clears the flag)."""
    text = problem if isinstance(problem, str) else f"{type(problem).__name__}: {problem}"
    log.warning("subscription %s set aside: %s", subscription.pk, text)
    Subscription.objects.filter(pk=subscription.pk).update(problem=text[:500], problem_at=now)


def reminders_plan_all(*, now: dt.datetime) -> int:
    """Plan every active subscription again (idempotent); returns how many reminders are new.

    This is the daily horizon walk, not the sweep: its cost follows the subscriptions, which
    is why it runs once a day and the minute-by-minute sweep never does it.
    """
    created = 0
    active = Subscription.objects.filter(
        status=Subscription.Status.ACTIVE, problem=""
    ).prefetch_related("roles", "scopes")
    for subscription in active.iterator(chunk_size=500):
        try:
            with transaction.atomic():
                today = now.astimezone(ZoneInfo(subscription.timezone)).date()
                created += reminders_plan(subscription=subscription, today=today)
        except Exception as exc:  # one bad subscription fails alone
            subscription_flag(subscription=subscription, problem=exc, now=now)
    return created


@dataclass
class SweepReport:
    """What one sweep did."""

    recovered: int = 0
    skipped: int = 0
    flagged: int = 0
    full: bool = False
    message_ids: list[int] = field(default_factory=list)


def _recover_stale(now: dt.datetime) -> int:
    """Messages left 'sending' by a worker that died go back to the queue, counted.

    A message that has used all its attempts ends failed instead, so one that kills its
    worker every time cannot loop (task_reject_on_worker_lost has no redelivery limit).
    """
    stale = Message.objects.filter(status=Message.Status.SENDING, lease_until__lt=now)
    stale.filter(attempts__gte=MAX_ATTEMPTS).update(
        status=Message.Status.FAILED,
        recoveries=F("recoveries") + 1,
        lease_until=None,
        last_error="The worker was lost while sending, on every attempt.",
    )
    return stale.update(
        status=Message.Status.QUEUED, recoveries=F("recoveries") + 1, lease_until=None
    )


@transaction.atomic
def reminders_sweep(*, now: dt.datetime, batch: int = SWEEP_BATCH) -> SweepReport:
    """Turn the reminders that are due into messages, one per subscriber.

    Reads only due rows (a partial index on pending reminders), so its cost follows what is
    due, not how many subscriptions exist. Locked rows are skipped: an overlapping sweep
    takes the others. Takes at most `batch` reminders; `report.full` says more may wait.
    """
    report = SweepReport(recovered=_recover_stale(now))
    due = list(
        Reminder.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=Reminder.Status.PENDING, due_at__lte=now, subscription__problem="")
        .select_related("subscription", "milestone")
        .order_by("subscription_id", "occurrence", "milestone_id")[:batch]
    )
    groups = [list(group) for _, group in groupby(due, key=lambda r: r.subscription_id)]
    report.full = len(due) == batch
    if report.full and len(groups) > 1:
        groups.pop()  # the last subscriber may have more due: keep their day in one email
    skipped, cancelled, queued, messages = [], [], [], []
    for reminders in groups:
        subscription = reminders[0].subscription
        try:
            today = now.astimezone(ZoneInfo(subscription.timezone)).date()
            live = [r for r in reminders if r.occurrence >= today]
            if live and subscription.status == Subscription.Status.ACTIVE:
                message = message_for_reminders(
                    subscription=subscription, reminders=live, today=today, now=now
                )
        except Exception as exc:  # one bad subscription fails alone, flagged for the admin
            subscription_flag(subscription=subscription, problem=exc, now=now)
            report.flagged += 1
            continue
        skipped += [r for r in reminders if r.occurrence < today]
        if not live:
            continue
        if subscription.status != Subscription.Status.ACTIVE:
            cancelled += live
            continue
        messages.append(message)
        queued.append(live)
    Message.objects.bulk_create(messages)
    for message, reminders in zip(messages, queued, strict=True):
        # One small UPDATE per message is cheaper than bulk_update's CASE over the batch.
        Reminder.objects.filter(pk__in=[r.pk for r in reminders]).update(
            status=Reminder.Status.QUEUED, message=message
        )
    Reminder.objects.filter(pk__in=[r.pk for r in skipped]).update(status=Reminder.Status.SKIPPED)
    Reminder.objects.filter(pk__in=[r.pk for r in cancelled]).update(
        status=Reminder.Status.CANCELLED
    )
    report.skipped = len(skipped)
    report.message_ids = [m.pk for m in messages]
    return report


def message_for_reminders(
    *, subscription: Subscription, reminders: list[Reminder], today: dt.date, now: dt.datetime
) -> Message:
    """One digest (unsaved) for every reminder of a subscriber due in this sweep."""
    # One line per milestone occurrence, even when several lead times fell due together
    # (after an outage, the 30-day and 7-day reminders of the same deadline).
    items = []
    ordered = sorted(reminders, key=lambda r: (r.occurrence, r.milestone.title, r.milestone_id))
    for (_, _, _), group in groupby(
        ordered, key=lambda r: (r.occurrence, r.milestone.title, r.milestone_id)
    ):
        group = list(group)
        first = group[0]
        days_left = (first.occurrence - today).days
        items.append(
            {
                "milestone": first.milestone,
                "occurrence": first.occurrence,
                "days_left": days_left,
                "late": days_left < min(r.lead_days for r in group),
                "url": settings.SITE_URL + first.milestone.get_absolute_url(),
            }
        )
    return subscriber_message(
        Message.Kind.REMINDERS,
        subscription=subscription,
        context={"subscription": subscription, "items": items},
        now=now,
    )


class TemporaryFailure(Exception):
    """Worth trying again later."""


class PermanentFailure(Exception):
    """Trying again will not help."""


def _classify(exc: Exception) -> Exception:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return (
            TemporaryFailure(str(exc))
            if all(400 <= c < 500 for c in codes)
            else PermanentFailure(str(exc))
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        kind = TemporaryFailure if 400 <= exc.smtp_code < 500 else PermanentFailure
        return kind(f"{exc.smtp_code} {exc.smtp_error!r}")
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.error)):
        return TemporaryFailure(f"{type(exc).__name__}: {exc}")
    return PermanentFailure(f"{type(exc).__name__}: {exc}")


def backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4, 8... minutes, capped at an hour."""
    return dt.timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


@transaction.atomic
def message_test(*, to_email: str, sent_by=None) -> Message:
    """A test email through the whole pipeline (outbox, worker, SMTP), from the admin."""
    who = getattr(sent_by, "username", "an admin")
    message = Message.objects.create(
        kind=Message.Kind.TEST,
        to_email=to_email,
        subject="Jalon test email",
        body_text=f"This is a test email sent by {who} from the Jalon admin at "
        f"{timezone.now():%Y-%m-%d %H:%M %Z}. If you can read it, delivery works.",
        next_attempt_at=timezone.now(),
    )
    messages_dispatch_on_commit([message.pk])
    return message


@transaction.atomic
def subscription_unsubscribe(*, subscription: Subscription) -> None:
    """Stop everything for this subscription at once; repeating it is harmless."""
    if subscription.status == Subscription.Status.UNSUBSCRIBED:
        return
    Subscription.objects.filter(pk=subscription.pk).update(
        status=Subscription.Status.UNSUBSCRIBED, unsubscribed_at=timezone.now()
    )
    subscription.reminders.filter(status=Reminder.Status.PENDING).update(
        status=Reminder.Status.CANCELLED
    )
    subscription.messages.filter(status=Message.Status.QUEUED).update(
        status=Message.Status.CANCELLED
    )


def message_id_header(message: Message) -> str:
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<jalon.{message.pk}.{message.created_at:%Y%m%d%H%M%S}@{domain}>"


def _claim(message_ids: list[int], now: dt.datetime) -> list[int]:
    """Mark the given queued, due messages 'sending' in one statement; the ids this caller won.

    A conditional UPDATE ... RETURNING (PostgreSQL, SQLite 3.35+): each row goes to exactly
    one caller however many workers, sweeps or redelivered tasks ask at once.
    """
    ops = connection.ops
    table = connection.ops.quote_name(Message._meta.db_table)
    marks = ", ".join(["%s"] * len(message_ids))
    # Only the quoted table name and placeholders are interpolated.
    sql = (
        f"UPDATE {table} SET status = %s, lease_until = %s, attempts = attempts + 1 "  # noqa: S608
        f"WHERE id IN ({marks}) AND status = %s AND next_attempt_at <= %s AND attempts < %s "
        "RETURNING id"
    )
    params = [
        Message.Status.SENDING,
        ops.adapt_datetimefield_value(now + LEASE),
        *message_ids,
        Message.Status.QUEUED,
        ops.adapt_datetimefield_value(now),
        MAX_ATTEMPTS,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(row[0] for row in cursor.fetchall())


def _email(message: Message) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        to=[message.to_email],
        # A resend after a crash keeps its Message-ID, so mail systems can drop the copy.
        headers={"Message-ID": message_id_header(message), **message.headers},
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    return email


def _record_failure(message: Message, exc: Exception, now: dt.datetime) -> str:
    failure = _classify(exc)
    done = isinstance(failure, PermanentFailure) or message.attempts >= MAX_ATTEMPTS
    Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
        status=Message.Status.FAILED if done else Message.Status.QUEUED,
        last_error=str(failure)[:2000],
        next_attempt_at=now + backoff(message.attempts),
        lease_until=None,
    )
    log.warning("message %s: %s (%s)", message.pk, failure, "failed" if done else "will retry")
    return Message.Status.FAILED if done else Message.Status.QUEUED


def messages_send(*, message_ids: list[int], now: dt.datetime | None = None) -> dict[int, str]:
    """Claim queued messages, send them over one SMTP connection, record each outcome.

    Each message is marked sent as soon as the server accepted it, so a worker killed
    mid-batch can cause a duplicate only for the one message it was sending.
    """
    now = now or timezone.now()
    outcome = dict.fromkeys(message_ids, "not-claimed")
    won = _claim(message_ids, now) if message_ids else []
    if not won:
        return outcome
    messages = Message.objects.in_bulk(won)
    smtp = get_connection()
    try:
        for message_id in won:
            message = messages[message_id]
            try:
                smtp.open()  # a no-op while the connection is up
                smtp.send_messages([_email(message)])
            except Exception as exc:  # classified and recorded; nothing escapes unrecorded
                outcome[message_id] = _record_failure(message, exc, now)
                smtp.close()  # the next message starts on a fresh connection
                continue
            Message.objects.filter(pk=message_id).update(
                status=Message.Status.SENT, sent_at=timezone.now(), lease_until=None, last_error=""
            )
            outcome[message_id] = Message.Status.SENT
    finally:
        smtp.close()
    return outcome


def message_send(*, message_id: int, now: dt.datetime | None = None) -> str:
    """Send one message if this caller wins its claim; returns its status or 'not-claimed'."""
    return messages_send(message_ids=[message_id], now=now)[message_id]


def messages_ready(*, now: dt.datetime, limit: int = DISPATCH_LIMIT) -> list[int]:
    """Queued messages whose time has come and that no live task is already carrying.

    Marks them dispatched; one whose task was lost (broker down, worker killed) is offered
    again after REDISPATCH_AFTER.
    """
    ids = list(
        Message.objects.filter(status=Message.Status.QUEUED, next_attempt_at__lte=now)
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - REDISPATCH_AFTER))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    Message.objects.filter(pk__in=ids).update(dispatched_at=now)
    return ids


def messages_dispatch(message_ids: list[int]) -> None:
    """Put send tasks on the broker, SEND_CHUNK messages each.

    If the broker is down nothing is lost: the rows stay queued and a later sweep offers
    them again.
    """
    send_task = import_string(SEND_TASK)  # by name: tasks.py imports this module
    for start in range(0, len(message_ids), SEND_CHUNK):
        chunk = message_ids[start : start + SEND_CHUNK]
        try:
            send_task.apply_async((chunk,), retry=False)
        except Exception:  # broker unreachable
            log.warning(
                "broker unavailable; %d message(s) wait for a later sweep",
                len(message_ids) - start,
                exc_info=True,
            )
            return


def messages_dispatch_on_commit(message_ids: list[int]) -> None:
    """Hand messages to the workers once the transaction that made them has committed."""
    if message_ids:
        transaction.on_commit(lambda: messages_dispatch(message_ids))
