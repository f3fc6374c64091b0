"""Delivery in batches: one claim and one mark per batch, the message bytes built without
Django's MIME tree, one rendering per batch for subscribers who read the same email.

Each shortcut must give what the long way gave: the same bytes on the wire, the same text in
each subscriber's email, the same outcome per message when the server refuses one, and a
crash that resends only the batch that was in flight.
"""

from __future__ import annotations

import datetime as dt
import email
import re
from email import policy

import pytest
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tracker.catalogue.models import Milestone, Regulation
from tracker.outbox import services as outbox
from tracker.outbox import wire
from tracker.outbox.models import Message
from tracker.outbox.services import LEASE, messages_recover, messages_send
from tracker.reminders.emails import LINK_MARKS
from tracker.reminders.models import Reminder, Subscription
from tracker.reminders.services import message_for_reminders, reminders_sweep

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2027, 11, 2, 9, 30, tzinfo=UTC)


def _queued(count: int, *, first: int = 0) -> list[int]:
    return [
        Message.objects.create(
            kind="test", to_email=f"t{n}@example.org", subject=f"Message {n}",
            body_text=f"Text {n}\n", body_html=f"<p>HTML {n}</p>\n", next_attempt_at=NOW,
        ).pk
        for n in range(first, first + count)
    ]  # fmt: skip


def _statuses(ids) -> list[tuple[str, str]]:
    return [(m.status, m.last_error[:3]) for m in Message.objects.filter(pk__in=ids).order_by("pk")]


# The bytes on the wire ------------------------------------------------------------------------


def _same_but_boundary_and_date(data: bytes) -> bytes:
    data = re.sub(rb"===============\d+==", b"BOUNDARY", data)
    return re.sub(rb"\r\nDate: [^\r\n]+", b"\r\nDate: (now)", data)


WIRE_CASES = {
    "text and HTML, a long folded header": (
        "a@example.org", "Deadline in 7 days", "Line 1\nLine 2\n", "<p>Smith &amp; Sons</p>\n",
        {"List-Unsubscribe": "<https://jalon.example/subscriptions/unsubscribe/" + "x" * 90
         + "/>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    ),
    "non-ASCII subject and bodies": (
        "b@example.org",
        "Échéance dans 7 jours : obligations à haut risque, Commission's check of Smith & Sons",
        "Bonjour,\nÉchéance\n\n", "<p>é</p>", {"Content-Language": "fr"},
    ),
    "plain short headers, one of them nearly too long": (
        "d@example.org", "High-risk obligations apply: 7 days left, and a few words m",
        "Text\n", "<p>HTML</p>", {"Auto-Submitted": "auto-generated", "X-Long": "y" * 66,
                                  "X-Spaces": "two  spaces", "X-Encoded": "=?utf-8?q?x?="},
    ),
    "text only, odd line ends": (
        "c@example.org", "Jalon test email " * 6, "one\r\ntwo\rthree", "", {"X-Note": "ünï"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(WIRE_CASES))
def test_the_bytes_sent_are_the_ones_django_would_send(case):
    to, subject, text, html, extra = WIRE_CASES[case]
    headers = {"Message-ID": "<jalon.7.20271102093000@jalon.example>", **extra}
    django_email = EmailMultiAlternatives(subject=subject, body=text, to=[to], headers=headers)
    if html:
        django_email.attach_alternative(html, "text/html")

    sender, recipients, data = wire.wire_message(
        sender=wire.Sender(), to=to, subject=subject, text=text, html=html, headers=headers
    )

    assert (sender, recipients) == (django_email.from_email, [to])
    expected = django_email.message().as_bytes(linesep="\r\n")
    assert _same_but_boundary_and_date(data) == _same_but_boundary_and_date(expected)
    parsed = email.message_from_bytes(data, policy=policy.default)
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == (
        text.replace("\r\n", "\n").replace("\r", "\n")
    )


@pytest.mark.parametrize(
    "to, text",
    [
        ("Ada <a@example.org>", "short"),  # a display name: Django parses the address
        ("ädä@example.org", "short"),  # non-ASCII: Django encodes it
        ("a@example.org", "x" * 1000),  # a line longer than RFC 5322 allows: quoted-printable
    ],
)
def test_a_message_outside_the_common_case_is_left_to_django(to, text):
    built = wire.wire_message(
        sender=wire.Sender(), to=to, subject="s", text=text, html="", headers={}
    )

    assert built is None


def test_a_header_with_a_newline_is_refused_as_django_refuses_it():
    from django.core.mail import BadHeaderError

    with pytest.raises(BadHeaderError):
        wire.wire_message(
            sender=wire.Sender(), to="a@example.org", subject="s", text="t", html="",
            headers={"X-Evil": "a\r\nBcc: everyone@example.org"},
        )  # fmt: skip


# One batch: claimed, sent over one connection, marked --------------------------------------------


def test_a_batch_is_claimed_and_marked_sent_in_the_same_statements_whatever_its_size(
    smtp_server,
):
    small, large = _queued(2), _queued(12, first=2)

    with CaptureQueriesContext(connection) as few:
        messages_send(message_ids=small, now=NOW)
    with CaptureQueriesContext(connection) as many:
        messages_send(message_ids=large, now=NOW)

    assert len(few.captured_queries) == len(many.captured_queries)
    marks = [q["sql"] for q in many.captured_queries if "UPDATE" in q["sql"]]
    assert len(marks) == 2  # the claim and the mark
    assert _statuses(small + large) == [("sent", "")] * 14
    assert len(smtp_server.messages) == 14
    assert smtp_server.connections == 2  # one per batch


def test_one_message_refused_for_good_fails_alone_and_the_others_are_sent(smtp_server):
    ids = _queued(4)
    smtp_server.handler.replies = ["250 OK", "550 5.1.1 No such user"]

    outcome = messages_send(message_ids=ids, now=NOW)

    assert [outcome[pk] for pk in ids] == ["sent", "failed", "sent", "sent"]
    assert _statuses(ids) == [("sent", ""), ("failed", "550"), ("sent", ""), ("sent", "")]
    assert sorted(m["To"] for m in smtp_server.messages) == [
        "t0@example.org", "t2@example.org", "t3@example.org",
    ]  # fmt: skip


def test_one_message_refused_for_now_waits_for_its_retry_and_the_others_are_sent(smtp_server):
    ids = _queued(3)
    smtp_server.handler.replies = ["451 4.3.0 Try again later"]

    outcome = messages_send(message_ids=ids, now=NOW)

    assert [outcome[pk] for pk in ids] == ["queued", "sent", "sent"]
    retry = Message.objects.get(pk=ids[0])
    assert (retry.status, retry.attempts, retry.next_attempt_at) == (
        "queued", 1, NOW + dt.timedelta(minutes=1),
    )  # fmt: skip


class Killed(BaseException):
    """The worker dies (SIGKILL): nothing after this point runs, no handler records it."""


def test_a_crash_between_sending_and_marking_resends_only_the_batch_in_flight(
    smtp_server, monkeypatch
):
    done, in_flight = _queued(3), _queued(4, first=3)
    messages_send(message_ids=done, now=NOW)

    def killed(message_ids):
        raise Killed

    monkeypatch.setattr(outbox, "_mark_sent", killed)
    with pytest.raises(Killed):
        messages_send(message_ids=in_flight, now=NOW)
    monkeypatch.undo()

    # The server has all seven; the database still says "sending" for the four in flight
    assert len(smtp_server.messages) == 7
    assert _statuses(done) == [("sent", "")] * 3
    assert _statuses(in_flight) == [("sending", "")] * 4

    # After their lease the sweep puts those four back, and a worker sends them again
    assert messages_recover(NOW + dt.timedelta(seconds=1)) == 0  # lease still running
    assert messages_recover(NOW + LEASE + dt.timedelta(seconds=1)) == 4
    messages_send(message_ids=done + in_flight, now=NOW + LEASE + dt.timedelta(seconds=2))

    received = [m["To"] for m in smtp_server.messages]
    assert sorted(received) == sorted(
        [f"t{n}@example.org" for n in range(7)] + [f"t{n}@example.org" for n in range(3, 7)]
    )
    resent = smtp_server.messages[7:]
    first_copies = {m["To"]: m["Message-ID"] for m in smtp_server.messages[3:7]}
    assert all(first_copies[m["To"]] == m["Message-ID"] for m in resent)  # same Message-ID
    assert list(
        Message.objects.filter(pk__in=in_flight).values_list("status", "recoveries").distinct()
    ) == [("sent", 1)]


def test_a_slow_server_has_what_it_accepted_marked_before_the_batch_ends(smtp_server, monkeypatch):
    monkeypatch.setattr(outbox, "MARK_EVERY", 0.0)  # every message counts as "a while ago"
    ids = _queued(3)
    marks = []
    real_mark = outbox._mark_sent
    monkeypatch.setattr(outbox, "_mark_sent", lambda message_ids: marks.append(
        list(message_ids)) or real_mark(message_ids))  # fmt: skip

    messages_send(message_ids=ids, now=NOW)

    assert marks == [[ids[0]], [ids[1]], [ids[2]]]
    assert _statuses(ids) == [("sent", "")] * 3


def test_without_an_smtp_backend_the_messages_go_through_django(mailoutbox):
    ids = _queued(2)

    messages_send(message_ids=ids, now=NOW)

    assert [m.to for m in mailoutbox] == [["t0@example.org"], ["t1@example.org"]]
    assert mailoutbox[0].extra_headers["Message-ID"].startswith(f"<jalon.{ids[0]}.")
    assert _statuses(ids) == [("sent", "")] * 2


# The sweep: one rendering per distinct email, one UPDATE for the reminders -------------------


@pytest.fixture
def milestone(db):
    regulation = Regulation.objects.create(
        key="eu-ai-act", short_name="EU AI Act", title="AI Act", source_url="https://example.org"
    )
    return Milestone.objects.create(
        regulation=regulation, key="soon", title="Smith & Sons <AI> duties",
        date=dt.date(2027, 11, 9), category="application", status="in_force",
        confidence="high", legal_basis="Art. 113", source_url="https://example.org/?a=1&b=2",
        verified_on=dt.date(2026, 11, 27),
    )  # fmt: skip


def _due(milestone, count: int, **fields) -> list[Subscription]:
    subscriptions = []
    for n in range(count):
        unique = {"owner_key": f"{fields['owner_key']}{n}"} if "owner_key" in fields else {}
        subscription = Subscription.objects.create(
            email=f"s{n}-{fields.get('language', 'en')}@example.org", status="active",
            regulation=milestone.regulation, **{**fields, **unique},
        )  # fmt: skip
        Reminder.objects.create(
            subscription=subscription, milestone=milestone, occurrence=milestone.date,
            lead_days=7, due_at=NOW - dt.timedelta(minutes=1),
        )  # fmt: skip
        subscriptions.append(subscription)
    return subscriptions


SUBSCRIBERS = [
    {"language": "en"},
    {"language": "fr", "timezone": "Europe/Paris", "send_hour": 7},
    {"language": "de", "lead_days": [30, 7]},
    {"language": "en", "owner_key": "workspace:1:",
     "manage_url": "https://jalon.example/w/acme/my-reminders/?x=1&y=2"},
]  # fmt: skip


def test_an_email_rendered_once_for_the_batch_is_the_one_rendered_for_each_subscriber(milestone):
    subscriptions = []
    for fields in SUBSCRIBERS:
        subscriptions += _due(milestone, 2, **fields)
    shared: dict = {}
    today = dt.date(2027, 11, 2)

    for subscription in subscriptions:
        reminders = list(subscription.reminders.select_related("milestone"))
        alone = message_for_reminders(
            subscription=subscription, reminders=reminders, today=today, now=NOW
        )
        batched = message_for_reminders(
            subscription=subscription, reminders=reminders, today=today, now=NOW, shared=shared
        )
        # The links are signed with a timestamp: equal within the same second, as here
        fields = ("to_email", "subject", "body_text", "body_html", "headers", "stream")
        assert [getattr(batched, f) for f in fields] == [getattr(alone, f) for f in fields]
        assert not any(mark in batched.body_html + batched.body_text
                       for mark in LINK_MARKS.values())  # fmt: skip
    renderings = [key for key in shared if key[0] == "reminders"]
    assert len(renderings) == 4  # en, fr, de, and the workspace footer: one each


def test_the_sweep_runs_the_same_statements_for_a_few_or_many_subscribers(milestone):
    _due(milestone, 2)
    with CaptureQueriesContext(connection) as few:
        small = reminders_sweep(now=NOW)
    _due(milestone, 30, language="fr")
    with CaptureQueriesContext(connection) as many:
        large = reminders_sweep(now=NOW)

    assert (len(small.message_ids), len(large.message_ids)) == (2, 30)
    assert len(few.captured_queries) == len(many.captured_queries)
    assert Reminder.objects.filter(status="queued", message__isnull=False).count() == 32
    for reminder in Reminder.objects.select_related("message", "subscription"):
        assert reminder.message.to_email == reminder.subscription.email


def test_a_helper_sweep_is_asked_for_only_when_the_first_batch_is_full(milestone, monkeypatch):
    from tracker.reminders import services, tasks

    asked = []
    monkeypatch.setattr(tasks, "sweep_help", asked.append)
    monkeypatch.setattr(tasks, "messages_dispatch", lambda ids: None)
    monkeypatch.setattr(
        tasks, "reminders_sweep",
        lambda now: services.reminders_sweep(now=now, batch=3),
    )  # fmt: skip
    _due(milestone, 2)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: NOW)
        tasks.reminders_sweep_task()
        assert asked == []
        _due(milestone, 7, language="de")
        tasks.reminders_sweep_task()

    assert asked == [tasks.SWEEP_HELPERS]
    assert Reminder.objects.filter(status="pending").count() == 0
