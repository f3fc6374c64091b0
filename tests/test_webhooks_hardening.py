"""What the review of the webhooks found (2026-11-30), each fixed and pinned here: a gzip or
NUL-bearing answer is recorded (PostgreSQL refuses NUL in text), a receiver that drips its
answer is cut off inside the lease, an outcome is written only for the claim that made it,
rows the recovery fails count against their endpoint, chat bodies escape user text, the URL
check names no internal address, 6to4 addresses are refused, and members who are not owners
see no Slack or Teams URL (it works as a password)."""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time

import pytest
from django.utils import timezone

from tests import test_webhooks_support as support
from tests.test_webhooks_support import URLS, make_endpoint
from tracker.webhooks import delivery as webhook_delivery
from tracker.webhooks.delivery import deliveries_recover, deliveries_send, delivery_claim
from tracker.webhooks.formats import slack_body, teams_body
from tracker.webhooks.models import Delivery, DeliveryAttempt
from tracker.webhooks.network import UnsafeURL, address_refusal, resolve_public
from tracker.webhooks.services import endpoint_test

allow_loopback = support.allow_loopback
org = support.org
owner = support.owner

pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLS)]


class RawServer:
    """A loopback HTTP server that answers every request with `answer(connection)`."""

    def __init__(self, answer):
        self.answer = answer
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/hook"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                with contextlib.suppress(OSError):  # the client went away
                    self.answer(connection)

    def close(self):
        self.socket.close()


def test_a_gzip_answer_with_nul_bytes_is_recorded_decoded(org, allow_loopback):
    body = gzip.compress(b"ok\x00accepted")

    def answer(connection):
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )  # fmt: skip

    server = RawServer(answer)
    try:
        delivery = endpoint_test(endpoint=make_endpoint(org, server.url))
        assert deliveries_send(delivery_ids=[delivery.pk]) == {delivery.pk: "sent"}
    finally:
        server.close()

    attempt = DeliveryAttempt.objects.get()
    assert attempt.response_excerpt == "ok\ufffdaccepted"  # decoded, the NUL replaced


def test_a_receiver_that_drips_its_answer_is_cut_off_inside_the_lease(org, allow_loopback):
    # WEBHOOK_TIMEOUT is 1 s (allow_loopback): each read is quick, the whole never ends
    def answer(connection):
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(100):
            connection.sendall(b"x")
            time.sleep(0.5)

    server = RawServer(answer)
    started = time.monotonic()
    try:
        delivery = endpoint_test(endpoint=make_endpoint(org, server.url))
        outcome = deliveries_send(delivery_ids=[delivery.pk])
    finally:
        server.close()
    took = time.monotonic() - started

    assert outcome == {delivery.pk: "queued"}  # a timeout: tried again later
    assert took < webhook_delivery.lease().total_seconds()
    assert took < webhook_delivery.exchange_limit() + 2
    delivery.refresh_from_db()
    assert "Timed out" in delivery.last_error


def test_an_outcome_is_written_only_for_the_claim_that_made_it(org, allow_loopback):
    endpoint = make_endpoint(org, "http://127.0.0.1:9/hook")
    delivery = endpoint_test(endpoint=endpoint)
    assert delivery_claim(delivery_id=delivery.pk, now=timezone.now())
    mine = Delivery.objects.select_related("endpoint__organisation").get(pk=delivery.pk)
    # the lease ran out meanwhile and another worker claimed the row again
    Delivery.objects.filter(pk=delivery.pk).update(attempts=mine.attempts + 1)

    webhook_delivery._record(mine, outcome="sent", code=200, error="", now=timezone.now())

    delivery.refresh_from_db()
    assert (delivery.status, delivery.sent_at) == ("sending", None)  # the other claim's


def test_a_row_the_recovery_fails_counts_against_its_endpoint(org, settings, allow_loopback):
    settings.WEBHOOK_DISABLE_AFTER = 1
    endpoint = make_endpoint(org, "http://127.0.0.1:9/hook")
    delivery = endpoint_test(endpoint=endpoint)
    past = timezone.now() - webhook_delivery.lease() * 2
    Delivery.objects.filter(pk=delivery.pk).update(
        status="sending", lease_until=past, attempts=settings.WEBHOOK_MAX_ATTEMPTS
    )

    deliveries_recover(now=timezone.now())

    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert delivery.status == "failed"
    assert "lost while delivering" in delivery.last_error
    assert (endpoint.enabled, endpoint.consecutive_failures) == (False, 1)


def test_chat_bodies_escape_what_users_typed():
    payload = {
        "type": "obligation.due_soon",
        "data": {
            "summary": "<!channel> [Open](https://evil.example) *now*",
            "url": "https://jalon.example/w/acme/items/1/",
        },
    }

    slack = slack_body(payload)
    teams = teams_body(payload)

    assert slack["text"] == "&lt;!channel&gt; [Open](https://evil.example) *now*"
    assert "<!channel>" not in str(slack)
    summary = teams["attachments"][0]["content"]["body"][1]["text"]
    assert summary == "<!channel> \\[Open\\](https://evil.example) \\*now\\*"


def test_the_url_check_names_no_internal_address(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    monkeypatch.setattr(  # the edge of the world: what DNS answers
        socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.0.3.7", 80))]
    )

    with pytest.raises(UnsafeURL) as refused:
        resolve_public("http://db.internal/hook")

    assert "10.0.3.7" not in str(refused.value)
    assert "private" not in str(refused.value)
    assert str(refused.value).startswith("db.internal is not a public address")


@pytest.mark.parametrize(
    "address",
    ["2002:7f00:1::", "2002:a9fe:a9fe::", "2002:c0a8:101::", "::ffff:127.0.0.1", "::ffff:10.1.2.3"],
)
def test_addresses_that_carry_a_private_ipv4_one_are_refused(address):
    assert address_refusal(address) is not None


def test_a_public_address_passes():
    assert address_refusal("2002:5db8:d822::") is None  # 6to4 of 93.184.216.34
    assert address_refusal("93.184.216.34") is None


def test_members_who_are_not_owners_see_no_chat_url(client, org):
    from tests.factories import UserFactory
    from tracker.workspace.models import Membership

    secret_url = "https://hooks.slack.com/services/T000/B000/SECRETSECRET"
    make_endpoint(org, secret_url, format="slack")
    viewer = UserFactory(username="vera")
    Membership.objects.create(organisation=org, user=viewer, role=Membership.Role.VIEWER)
    client.force_login(viewer)

    page = client.get(f"/w/{org.slug}/webhooks/").content.decode()

    assert "SECRETSECRET" not in page
    assert "https://hooks.slack.com/…" in page
