"""The outbox's writes: queue an email with one call, claim it, send it, record the outcome.

The database is the source of truth. Every client (the reminder engine, the workspace) asks
for mail through `send` (or `send_many` for a batch it built with `message`), giving a kind of
its own, the text, an optional dedupe key and headers. A worker claims a message with a
conditional UPDATE before it talks to the SMTP server, so two sweeps, two beats or a
redelivered task cannot send it twice.

No recipient is flooded: each kind has a cap per address over 24 hours (OUTBOX_DAILY_CAPS); a
message over it is kept, cancelled with the reason, where the admin sees it.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import socket
import time
from collections import Counter
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from tracker.outbox import wire
from tracker.outbox.models import Message

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
# A worker renews the lease of the messages it still holds before each one it sends, so a
# chunk whose worker died goes back to the queue within LEASE (plus one sweep tick), not after
# the whole chunk's worst case. See docs/outbox.md, "When a worker dies".
LEASE = dt.timedelta(minutes=2)
RENEW_BELOW = dt.timedelta(seconds=90)
DISPATCH_LIMIT = 2000
REDISPATCH_AFTER = dt.timedelta(minutes=2)
SEND_CHUNK = 50  # messages per send task: one SMTP connection, few broker round trips
# A send task marks what the server accepted at the end of its batch, or after this long:
# with a slow server, a worker killed mid-batch resends at most this much of its work.
MARK_EVERY = 1.0  # seconds
SEND_TASK = "tracker.outbox.tasks.messages_send_task"
CAP_WINDOW = dt.timedelta(hours=24)
DEFAULT_CAP = 20
SUBJECT_MAX = 300  # Message.subject


def subject_line(text: str) -> str:
    """One line, cut with an ellipsis to fit the outbox column."""
    line = " ".join(text.split())
    return line if len(line) <= SUBJECT_MAX else line[: SUBJECT_MAX - 1].rstrip() + "…"


def message(
    *, to: str, kind: str, subject: str, text: str, html: str = "", dedupe_key: str | None = None,
    headers: dict | None = None, stream: str = "", topic: str = "", at: dt.datetime | None = None,
) -> Message:  # fmt: skip
    """An unsaved message, for a client that queues a batch with `send_many`."""
    return Message(
        kind=kind, to_email=to, subject=subject_line(subject), body_text=text, body_html=html,
        dedupe_key=dedupe_key, headers=headers or {}, stream=stream, topic=topic,
        next_attempt_at=at or timezone.now(),
    )  # fmt: skip


def daily_cap(kind: str) -> int:
    caps = getattr(settings, "OUTBOX_DAILY_CAPS", {})
    return caps.get(kind, caps.get("default", DEFAULT_CAP))


def _apply_caps(messages: list[Message], now: dt.datetime) -> None:
    """Cancel, with the reason, each message that would pass its kind's cap for its recipient.

    One grouped COUNT for the whole batch; messages of the batch count against each other.
    """
    sent = Counter(
        {
            (row["to_email"], row["kind"]): row["n"]
            for row in Message.objects.filter(
                to_email__in={m.to_email for m in messages}, created_at__gte=now - CAP_WINDOW
            )
            .exclude(status=Message.Status.CANCELLED)
            .values("to_email", "kind")
            .annotate(n=Count("pk"))
        }
    )
    for m in messages:
        key = (m.to_email, m.kind)
        if sent[key] >= daily_cap(m.kind):
            m.status = Message.Status.CANCELLED
            m.last_error = (
                f"Not sent: {m.to_email} already had {sent[key]} “{m.kind}” email(s) in 24 hours "
                f"(the cap is {daily_cap(m.kind)})."
            )
            log.warning("outbox: %s over its daily cap for %s", m.kind, m.to_email)
        else:
            sent[key] += 1


def send_many(messages: list[Message], *, dispatch: bool = True) -> list[Message]:
    """Store the messages whose dedupe key is new, capped per recipient; the stored ones.

    With `dispatch`, queued ones are handed to workers once the caller's transaction commits
    (otherwise the next sweep offers them).
    """
    if not messages:
        return []
    now = timezone.now()
    keys = [m.dedupe_key for m in messages if m.dedupe_key]
    known = set(Message.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    fresh, seen = [], set()
    for m in messages:
        if m.dedupe_key and (m.dedupe_key in known or m.dedupe_key in seen):
            continue
        seen.add(m.dedupe_key)
        fresh.append(m)
    if not fresh:
        return []
    _apply_caps(fresh, now)
    keyed = [m for m in fresh if m.dedupe_key]
    plain = [m for m in fresh if not m.dedupe_key]
    Message.objects.bulk_create(plain, batch_size=500)
    if keyed:
        # A racing caller may store the same key first: the database keeps one.
        Message.objects.bulk_create(keyed, ignore_conflicts=True, batch_size=500)
        by_key = dict(
            Message.objects.filter(dedupe_key__in=[m.dedupe_key for m in keyed]).values_list(
                "dedupe_key", "pk"
            )
        )
        for m in keyed:
            m.pk = by_key.get(m.dedupe_key)
    stored = [m for m in fresh if m.pk]
    if dispatch:
        messages_dispatch_on_commit(
            [m.pk for m in stored if m.status == Message.Status.QUEUED and m.next_attempt_at <= now]
        )
    return stored


def send(**fields) -> Message | None:
    """Queue one email (the arguments of `message`); None when its dedupe key was used before."""
    stored = send_many([message(**fields)])
    return stored[0] if stored else None


def failure_record(*, to: str, kind: str, what: str, error: Exception | str, dedupe_key=None,
                   stream: str = "", topic: str = "") -> None:  # fmt: skip
    """Record an email that could not even be written, as a failed message the admin sees."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    log.warning("outbox: %s for %s could not be written: %s", kind, to, text)
    Message.objects.bulk_create(
        [Message(kind=kind, to_email=to, subject=subject_line(f"(not written) {what}"),
                 body_text="", status=Message.Status.FAILED, last_error=text[:2000],
                 dedupe_key=dedupe_key, stream=stream, topic=topic,
                 next_attempt_at=timezone.now())],
        ignore_conflicts=True,
    )  # fmt: skip


def messages_cancel(queryset, *, reason: str) -> list[int]:
    """Cancel the queued messages of `queryset` (never one a worker holds); the ids cancelled.

    The conditional UPDATE takes the rows' locks, so a worker's claim that races it finds
    them cancelled.
    """
    ids = list(queryset.filter(status=Message.Status.QUEUED).values_list("pk", flat=True))
    if not ids:
        return []
    Message.objects.filter(pk__in=ids, status=Message.Status.QUEUED).update(
        status=Message.Status.CANCELLED, last_error=reason[:2000]
    )
    return list(
        Message.objects.filter(pk__in=ids, status=Message.Status.CANCELLED).values_list(
            "pk", flat=True
        )
    )


def messages_recover(now: dt.datetime) -> int:
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


def message_test(*, to_email: str, sent_by=None) -> Message | None:
    """A test email through the whole pipeline (outbox, worker, SMTP), from the admin."""
    who = getattr(sent_by, "username", "an admin")
    with transaction.atomic():
        return send(
            to=to_email, kind="test", subject="Jalon test email",
            text=f"This is a test email sent by {who} from the Jalon admin at "
            f"{timezone.now():%Y-%m-%d %H:%M %Z}. If you can read it, delivery works.",
            headers={"Auto-Submitted": "auto-generated", "Content-Language": "en"},
        )  # fmt: skip


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


def _renew(held: list[int]) -> tuple[list[int], dt.datetime]:
    """Extend the lease of the messages this worker still holds; the ones it still holds."""
    new_lease = timezone.now() + LEASE
    Message.objects.filter(pk__in=held, status=Message.Status.SENDING).update(lease_until=new_lease)
    still = set(
        Message.objects.filter(pk__in=held, lease_until=new_lease).values_list("pk", flat=True)
    )
    return [pk for pk in held if pk in still], new_lease


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


class _Delivery:
    """One connection through the configured backend, for a batch of messages.

    With Django's SMTP backend a message goes over its connection as bytes built by
    `wire.wire_message` (the same message, without Django's MIME tree); a message outside
    that common case, or any other backend (the file backend, the tests' locmem), goes
    through Django's `EmailMultiAlternatives` as before.
    """

    def __init__(self):
        self.backend = get_connection()
        self.smtp = isinstance(self.backend, SMTPBackend)
        self.sender = wire.Sender() if self.smtp else None

    def send(self, message: Message) -> None:
        """Hand one message over; raises what the server (or the backend) raised."""
        self.backend.open()  # a no-op while the connection is up
        if self.smtp:
            headers = {"Message-ID": message_id_header(message), **message.headers}
            built = wire.wire_message(
                sender=self.sender, to=message.to_email, subject=message.subject,
                text=message.body_text, html=message.body_html, headers=headers,
            )  # fmt: skip
            if built is not None:
                self.backend.connection.sendmail(*built)
                return
        self.backend.send_messages([_email(message)])

    def close(self) -> None:
        self.backend.close()


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


def _mark_sent(message_ids: list[int]) -> None:
    """One UPDATE for every message of the batch the server accepted."""
    if message_ids:
        Message.objects.filter(pk__in=message_ids).update(
            status=Message.Status.SENT, sent_at=timezone.now(), lease_until=None, last_error=""
        )


def messages_send(*, message_ids: list[int], now: dt.datetime | None = None) -> dict[int, str]:
    """Claim queued messages, send them over one SMTP connection, record the outcome.

    The batch is claimed in one statement before anything is sent, and the messages the
    server accepted are marked sent in one statement at the end of the batch, or sooner
    when MARK_EVERY has passed since the last mark (a slow server) or a lease renewal is
    due. A refused message is recorded at once, alone: the others go on.

    The bound after a crash: a worker killed mid-batch leaves its claimed messages
    'sending'; the sweep puts them back after their lease, so what it had sent since its
    last mark is sent again (with the same Message-ID, so mail systems can drop the copy)
    and counted in `recoveries`: per worker process, at most the batch (SEND_CHUNK
    messages) and at most what it sent in the last MARK_EVERY.
    """
    now = now or timezone.now()
    outcome = dict.fromkeys(message_ids, "not-claimed")
    held = _claim(message_ids, now) if message_ids else []
    if not held:
        return outcome
    messages = Message.objects.in_bulk(held)
    lease_until = now + LEASE
    delivery = _Delivery()
    accepted: list[int] = []
    marked_at = time.monotonic()
    try:
        while held:
            if accepted and time.monotonic() - marked_at >= MARK_EVERY:
                _mark_sent(accepted)  # a slow server: what was accepted a while ago
                accepted, marked_at = [], time.monotonic()
            if lease_until - timezone.now() < RENEW_BELOW:
                _mark_sent(accepted)  # what is marked sent needs no lease
                accepted, marked_at = [], time.monotonic()
                held, lease_until = _renew(held)
                if not held:
                    break
            message_id = held.pop(0)
            message = messages[message_id]
            try:
                delivery.send(message)
            except Exception as exc:  # classified and recorded; nothing escapes unrecorded
                outcome[message_id] = _record_failure(message, exc, now)
                delivery.close()  # the next message starts on a fresh connection
                continue
            accepted.append(message_id)
            outcome[message_id] = Message.Status.SENT
    finally:
        try:
            delivery.close()
        finally:
            _mark_sent(accepted)  # also when something above raised
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
