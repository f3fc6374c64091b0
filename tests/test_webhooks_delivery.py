"""Webhook delivery against a real HTTP receiver on 127.0.0.1 (issue 14, "Must be shown"):
signatures verified with the standardwebhooks reference library, the same webhook-id on every
retry, 5xx and timeouts retried, 4xx failed at once and logged, automatic disabling with the
owners' email, the SSRF guard at save and at delivery time, Slack and Teams bodies, lost
leases recovered, and two racing deliveries sending once (PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from email.header import decode_header, make_header

import pytest
from django.db import connection
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from tests import test_webhooks_support as support
from tests.test_webhooks_support import URLS, make_endpoint
from tracker.outbox.models import Message
from tracker.webhooks.delivery import deliveries_send, webhooks_sweep
from tracker.webhooks.models import Delivery, DeliveryAttempt, Endpoint
from tracker.webhooks.network import UnsafeURL, resolve_public, validate_webhook_url
from tracker.webhooks.services import (
    _delivery,
    deliveries_queue,
    endpoint_secret_rotate,
    endpoint_test,
)

# The support module's fixtures, used here.
allow_loopback = support.allow_loopback
org = support.org
owner = support.owner
receiver = support.receiver

pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLS)]


def _later(minutes: int = 90) -> dt.datetime:
    """A claim time past any backoff so far (the signature still uses the real time)."""
    return timezone.now() + dt.timedelta(minutes=minutes)


def test_a_generic_delivery_is_signed_and_the_receiver_verifies_it_with_the_reference_library(
    org, receiver, allow_loopback
):
    endpoint = make_endpoint(org, receiver.url)
    delivery = endpoint_test(endpoint=endpoint)

    outcome = deliveries_send(delivery_ids=[delivery.pk])

    assert outcome == {delivery.pk: "sent"}
    (request,) = receiver.requests
    event = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert event["type"] == "webhook.test"
    assert event["data"]["organisation"] == org.slug
    assert request.headers["webhook-id"] == delivery.webhook_id
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.headers["content-type"] == "application/json"
    with pytest.raises(WebhookVerificationError):  # another secret does not verify
        Webhook("whsec_" + "A" * 43 + "=").verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):  # nor a changed body
        Webhook(endpoint.secret).verify(request.body + b" ", request.headers)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 1, 200)
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.outcome, attempt.status_code, attempt.endpoint_id) == ("sent", 200, endpoint.pk)


def test_a_503_is_retried_later_with_the_same_webhook_id(org, receiver, allow_loopback):
    endpoint = make_endpoint(org, receiver.url)
    receiver.script = [503]
    delivery = endpoint_test(endpoint=endpoint)

    first = deliveries_send(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    too_soon = deliveries_send(delivery_ids=[delivery.pk])  # its backoff has not passed
    second = deliveries_send(delivery_ids=[delivery.pk], now=_later())

    assert (first, too_soon, second) == (
        {delivery.pk: "queued"}, {delivery.pk: "not-claimed"}, {delivery.pk: "sent"},
    )  # fmt: skip
    assert delivery.last_status_code == 503
    assert delivery.next_attempt_at > timezone.now()  # 1 minute of backoff
    assert receiver.ids() == [delivery.webhook_id, delivery.webhook_id]
    for request in receiver.requests:  # each attempt signed afresh, both verify
        Webhook(endpoint.secret).verify(request.body, request.headers)
    assert list(DeliveryAttempt.objects.order_by("pk").values_list("outcome", "status_code")) == [
        ("retry", 503), ("sent", 200),
    ]  # fmt: skip


def test_a_timeout_is_retried_with_the_same_webhook_id(org, receiver, allow_loopback, settings):
    settings.WEBHOOK_TIMEOUT = 0.3
    endpoint = make_endpoint(org, receiver.url)
    receiver.script = [("sleep", 1.2)]
    delivery = endpoint_test(endpoint=endpoint)

    first = deliveries_send(delivery_ids=[delivery.pk])
    second = deliveries_send(delivery_ids=[delivery.pk], now=_later())

    assert (first, second) == ({delivery.pk: "queued"}, {delivery.pk: "sent"})
    assert receiver.ids() == [delivery.webhook_id] * 2
    attempt = DeliveryAttempt.objects.order_by("pk").first()
    assert attempt.outcome == "retry" and attempt.status_code is None
    assert "Timed out" in attempt.error


def test_a_connection_refused_is_retried(org, allow_loopback):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    delivery = endpoint_test(endpoint=make_endpoint(org, f"http://127.0.0.1:{port}/"))

    assert deliveries_send(delivery_ids=[delivery.pk]) == {delivery.pk: "queued"}
    delivery.refresh_from_db()
    assert "Connection failed" in delivery.last_error


def test_a_4xx_fails_at_once_and_shows_in_the_log(org, receiver, allow_loopback):
    endpoint = make_endpoint(org, receiver.url)
    receiver.script = [404]
    delivery = endpoint_test(endpoint=endpoint)

    assert deliveries_send(delivery_ids=[delivery.pk]) == {delivery.pk: "failed"}
    assert deliveries_send(delivery_ids=[delivery.pk], now=_later()) == {delivery.pk: "not-claimed"}

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 404)
    assert delivery.last_error == "The endpoint answered 404."
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.outcome, attempt.status_code, attempt.response_excerpt) == (
        "failed", 404, "answer 404",
    )  # fmt: skip
    assert len(receiver.requests) == 1


def test_retries_stop_after_the_last_attempt(org, receiver, allow_loopback, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.script = [500, 502, 503]
    delivery = endpoint_test(endpoint=make_endpoint(org, receiver.url))

    outcomes = [
        deliveries_send(delivery_ids=[delivery.pk], now=_later(90 * n))[delivery.pk]
        for n in range(4)
    ]

    assert outcomes == ["queued", "queued", "failed", "not-claimed"]
    delivery.refresh_from_db()
    assert "Gave up after 3 attempts" in delivery.last_error
    assert len(set(receiver.ids())) == 1 and len(receiver.requests) == 3


def test_after_n_failed_deliveries_the_endpoint_is_disabled_and_each_owner_is_emailed(
    org, owner, receiver, allow_loopback, settings
):
    from tests.factories import UserFactory
    from tracker.workspace.models import Membership

    settings.WEBHOOK_DISABLE_AFTER = 3
    co_owner, viewer = UserFactory(username="cora"), UserFactory(username="vic")
    Membership.objects.create(organisation=org, user=co_owner, role="owner")
    Membership.objects.create(organisation=org, user=viewer, role="viewer")
    endpoint = make_endpoint(org, receiver.url)
    receiver.script = [410, 410, 200, 410, 410, 410]
    ids = [endpoint_test(endpoint=endpoint).pk for _ in range(7)]

    outcomes = [deliveries_send(delivery_ids=[pk])[pk] for pk in ids]

    # A success in between starts the count again; the third failure in a row disables it.
    assert outcomes == ["failed", "failed", "sent", "failed", "failed", "failed", "not-claimed"]
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.disabled_reason.startswith("Disabled automatically after 3 failed deliveries")
    assert endpoint.consecutive_failures == 3
    assert len(receiver.requests) == 6
    mail = Message.objects.filter(kind="webhook_disabled").order_by("to_email")
    assert [m.to_email for m in mail] == ["cora@example.org", "olive@example.org"]
    assert "Hook" in mail[0].subject and "Acme AI" in mail[0].subject
    assert f"/w/{org.slug}/webhooks/{endpoint.pk}/" in mail[0].body_text
    last = Delivery.objects.get(pk=ids[-1])  # queued when it was disabled: cancelled
    assert (last.status, last.last_error) == ("cancelled", "Not sent: the endpoint was disabled.")


def test_the_owners_email_about_a_disabled_endpoint_reaches_a_real_smtp_server(
    org, owner, receiver, allow_loopback, settings, smtp_server
):
    from tracker.outbox.services import messages_send

    settings.WEBHOOK_DISABLE_AFTER = 1
    receiver.script = [401]
    endpoint = make_endpoint(org, receiver.url, name="Ops channel")
    deliveries_send(delivery_ids=[endpoint_test(endpoint=endpoint).pk])

    notice = Message.objects.get(kind="webhook_disabled")
    assert messages_send(message_ids=[notice.pk]) == {notice.pk: "sent"}
    (mail,) = smtp_server.messages
    assert mail["To"] == "olive@example.org"
    subject = str(make_header(decode_header(mail["Subject"])))
    assert subject.strip() == "Webhook “Ops channel” of Acme AI was disabled"
    body = mail.get_payload(decode=True).decode()
    assert "its last 1 deliveries failed" in body and "The endpoint answered 401." in body
    assert mail["Auto-Submitted"] == "auto-generated"


def test_disabling_cancels_what_was_queued_for_the_endpoint(org, receiver, allow_loopback,
                                                            settings):  # fmt: skip
    settings.WEBHOOK_DISABLE_AFTER = 1
    receiver.script = [400]
    endpoint = make_endpoint(org, receiver.url)
    first, waiting = endpoint_test(endpoint=endpoint), endpoint_test(endpoint=endpoint)

    deliveries_send(delivery_ids=[first.pk])

    waiting.refresh_from_db()
    assert waiting.status == "cancelled"
    assert waiting.last_error == "Not sent: the endpoint was disabled."


# Server-side request forgery -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/hook",
        "http://127.0.0.1:8000/",
        "http://10.0.0.8/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://100.64.0.1/",
    ],
)
def test_a_private_loopback_or_link_local_address_is_refused_at_save_time(url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(Exception) as refused:
        validate_webhook_url(url)
    assert "webhooks may only call public addresses" in str(refused.value)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.org/", "Use an http:// or https:// URL."),
        ("file:///etc/passwd", "Use an http:// or https:// URL."),
        ("http://user:pw@example.org/", "Put no user name or password in the URL."),
        ("http:///nohost", "The URL has no host name."),
    ],
)
def test_other_urls_that_cannot_be_called_are_refused_in_words(url, words):
    with pytest.raises(UnsafeURL, match=words):
        resolve_public(url)


def test_a_public_name_is_accepted_and_connected_to_at_the_checked_address(monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    public = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, **kw: [public])
    target = resolve_public("https://hooks.example.com/in?x=1")
    assert (target.url, target.host_header) == ("https://93.184.215.14:443/in?x=1",
                                                "hooks.example.com")  # fmt: skip
    validate_webhook_url("https://hooks.example.com/in")  # no error


def test_a_dns_answer_that_changed_to_a_private_address_is_refused_at_delivery_time(
    org, receiver, monkeypatch, settings
):
    # Given an endpoint saved while its name resolved to a public address
    settings.WEBHOOK_ALLOW_PRIVATE = False
    real = socket.getaddrinfo
    answer = {"address": "93.184.215.14"}

    def dns(host, port, *args, **kwargs):  # the edge of the world: DNS
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer["address"], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", dns)
    url = f"http://hooks.example.com:{receiver.port}/hook"
    validate_webhook_url(url)
    endpoint = make_endpoint(org, url)
    delivery = endpoint_test(endpoint=endpoint)

    # When the name now resolves to loopback (DNS rebinding)
    answer["address"] = "127.0.0.1"
    outcome = deliveries_send(delivery_ids=[delivery.pk])

    # Then nothing is sent and the refusal is recorded
    assert outcome == {delivery.pk: "failed"}
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("Refused: hooks.example.com is not a public address")
    assert DeliveryAttempt.objects.get().outcome == "failed"


def test_localhost_is_refused_at_delivery_time_in_production_settings(org, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    endpoint = make_endpoint(org, f"http://localhost:{receiver.port}/hook")  # slipped past
    delivery = endpoint_test(endpoint=endpoint)

    assert deliveries_send(delivery_ids=[delivery.pk]) == {delivery.pk: "failed"}
    assert receiver.requests == []
    assert "localhost is not a public address" in Delivery.objects.get().last_error


def test_the_delivery_connects_to_the_checked_address_with_the_name_in_the_host_header(
    org, receiver, allow_loopback
):
    endpoint = make_endpoint(org, f"http://localhost:{receiver.port}/hook?team=7")
    deliveries_send(delivery_ids=[endpoint_test(endpoint=endpoint).pk])
    (request,) = receiver.requests
    assert request.headers["host"] == f"localhost:{receiver.port}"
    assert request.path == "/hook?team=7"


def test_https_connects_to_the_checked_address_and_verifies_the_certificate_by_name(
    org, allow_loopback, tmp_path, monkeypatch
):
    import ssl
    import subprocess
    from http.server import ThreadingHTTPServer

    import certifi

    from tests.test_webhooks_support import Receiver, _handler

    # Given an HTTPS receiver on 127.0.0.1 whose certificate names only "localhost"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    monkeypatch.setattr(certifi, "where", lambda: str(cert))  # the trust store trusts it
    holder = Receiver(server=None)  # type: ignore[arg-type]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    holder.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # When a delivery goes to https://localhost (connected to the address checked)
        endpoint = make_endpoint(org, f"https://localhost:{holder.port}/hook")
        outcome = deliveries_send(delivery_ids=[endpoint_test(endpoint=endpoint).pk])
        # and to the bare address, which the certificate does not name
        by_address = make_endpoint(org, f"https://127.0.0.1:{holder.port}/hook")
        refused = deliveries_send(delivery_ids=[endpoint_test(endpoint=by_address).pk])
    finally:
        server.shutdown()
        server.server_close()

    # Then TLS checked the name, not the address
    assert list(outcome.values()) == ["sent"]
    assert len(holder.requests) == 1 and holder.requests[0].headers["host"] == (
        f"localhost:{holder.port}"
    )
    assert list(refused.values()) == ["queued"]  # a certificate error: tried again later
    assert "Connection failed" in Delivery.objects.get(endpoint=by_address).last_error


# Formats and secrets --------------------------------------------------------------------------


def test_slack_gets_an_incoming_webhook_message_unsigned_with_the_webhook_id(
    org, receiver, allow_loopback
):
    endpoint = make_endpoint(org, receiver.url, format="slack", name="#compliance <team>")
    delivery = endpoint_test(endpoint=endpoint)
    deliveries_send(delivery_ids=[delivery.pk])

    (request,) = receiver.requests
    body = json.loads(request.body)
    assert set(body) == {"text", "blocks"}
    assert body["text"].startswith("Test event for “#compliance &lt;team&gt;”")  # escaped
    (block,) = body["blocks"]
    assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
    assert "&lt;team&gt;" in block["text"]["text"]  # Slack's escaping
    assert f"/w/{org.slug}/webhooks/{endpoint.pk}/|Open in Jalon>" in block["text"]["text"]
    assert request.headers["webhook-id"] == delivery.webhook_id
    assert "webhook-signature" not in request.headers


def test_teams_gets_an_adaptive_card_message(org, receiver, allow_loopback):
    endpoint = make_endpoint(org, receiver.url, format="teams")
    deliveries_send(delivery_ids=[endpoint_test(endpoint=endpoint).pk])

    body = json.loads(receiver.requests[0].body)
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["body"][0]["text"] == "A test event from Jalon"
    assert {"type": "FactSet", "facts": [{"title": "Organisation", "value": "Acme AI"}]} in card[
        "body"
    ]
    assert card["actions"][0]["type"] == "Action.OpenUrl"
    assert "webhook-signature" not in receiver.requests[0].headers


def test_after_a_rotation_both_secrets_verify_for_a_day_then_only_the_new_one(
    org, receiver, allow_loopback
):
    endpoint = make_endpoint(org, receiver.url)
    old = endpoint.secret
    new = endpoint_secret_rotate(endpoint=endpoint)
    deliveries_send(delivery_ids=[endpoint_test(endpoint=endpoint).pk])
    Endpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_until=timezone.now() - dt.timedelta(seconds=1)
    )
    deliveries_send(delivery_ids=[endpoint_test(endpoint=endpoint).pk])

    during, after = receiver.requests
    assert new != old
    Webhook(old).verify(during.body, during.headers)
    Webhook(new).verify(during.body, during.headers)
    Webhook(new).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)


# The sweep ------------------------------------------------------------------------------------


def test_the_sweep_hands_due_deliveries_to_the_worker_and_recovers_a_lost_lease(
    org, receiver, allow_loopback, eager_celery
):
    endpoint = make_endpoint(org, receiver.url)
    due, lost = endpoint_test(endpoint=endpoint), endpoint_test(endpoint=endpoint)
    # a worker claimed `lost` and died: its lease ended a minute ago
    Delivery.objects.filter(pk=lost.pk).update(
        status="sending", attempts=1, lease_until=timezone.now() - dt.timedelta(minutes=1)
    )

    report = webhooks_sweep()

    assert report == {"recovered": 1, "dispatched": 2}
    assert sorted(receiver.ids()) == sorted([due.webhook_id, lost.webhook_id])
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert Delivery.objects.get(pk=lost.pk).attempts == 2
    assert webhooks_sweep() == {"recovered": 0, "dispatched": 0}


def test_one_broken_row_does_not_stop_the_batch(org, receiver, allow_loopback):
    endpoint = make_endpoint(org, receiver.url, format="slack")
    broken, fine = endpoint_test(endpoint=endpoint), endpoint_test(endpoint=endpoint)
    Delivery.objects.filter(pk=broken.pk).update(payload="not an event")  # cannot be rendered

    outcome = deliveries_send(delivery_ids=[broken.pk, fine.pk])

    assert outcome == {broken.pk: "failed", fine.pk: "sent"}
    assert Delivery.objects.get(pk=broken.pk).last_error.startswith("AttributeError")
    assert receiver.ids() == [fine.webhook_id]


# Two deliveries at once (PostgreSQL) ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_racing_sweeps_deliver_each_event_once(org, receiver, allow_loopback):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs two real concurrent database connections: runs in the PostgreSQL pass "
            "(JALON_TEST_DB=postgres)"
        )
    endpoint = make_endpoint(org, receiver.url)
    receiver.delay = 0.02  # keep both workers busy at once
    # queued as the planner queues them (no task dispatched: the two workers below race)
    now = timezone.now()
    deliveries_queue([
        _delivery(endpoint.pk, "obligation.overdue", {"summary": f"item {i}"}, f"race:{i}", now)
        for i in range(20)
    ])  # fmt: skip
    ids = list(Delivery.objects.values_list("pk", flat=True))
    start = threading.Barrier(2)
    outcomes: list[dict] = []

    def worker():
        try:
            start.wait(timeout=10)
            outcomes.append(deliveries_send(delivery_ids=ids))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(receiver.requests) == 20
    assert sorted(receiver.ids()) == sorted(Delivery.objects.values_list("webhook_id", flat=True))
    sent = [pk for outcome in outcomes for pk, status in outcome.items() if status == "sent"]
    assert sorted(sent) == sorted(ids)  # each sent by exactly one of the two
    assert DeliveryAttempt.objects.count() == 20
