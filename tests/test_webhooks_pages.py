"""The owner's webhook pages (issue 14): owners add, edit, test, rotate, enable and delete
endpoints; other members only look; outsiders get a 404; bad input is a 400 that changes
nothing; the admin refuses what the form refuses (one validator); the list and the log run a
fixed number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from tests import test_webhooks_support as support
from tests.factories import UserFactory
from tests.test_webhooks_support import URLS, make_endpoint
from tracker.webhooks.models import Delivery, DeliveryAttempt, Endpoint
from tracker.workspace.models import Membership

# The support module's fixtures, used here.
allow_loopback = support.allow_loopback
org = support.org
owner = support.owner
receiver = support.receiver

pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLS)]

EVENTS = ["milestone.date_moved", "obligation.due_soon", "obligation.overdue",
          "incident.deadline_soon"]  # fmt: skip


@pytest.fixture
def members(org):
    people = {}
    for role in ("editor", "viewer"):
        people[role] = UserFactory(username=f"{role}1")
        Membership.objects.create(organisation=org, user=people[role], role=role)
    return people


def _url(name, org, **kwargs):
    return reverse(f"webhooks:{name}", kwargs={"slug": org.slug, **kwargs})


def test_an_owner_adds_an_endpoint_sends_a_test_event_and_sees_it_in_the_log(
    client, org, owner, receiver, allow_loopback, eager_celery, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    assert client.get(_url("new", org)).status_code == 200
    response = client.post(_url("new", org), {
        "name": "Our receiver", "url": receiver.url, "format": "generic", "events": EVENTS[:2],
    })  # fmt: skip
    endpoint = Endpoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _url("detail", org, pk=endpoint.pk) + "?done=created"
    assert (endpoint.created_by, endpoint.events, endpoint.enabled) == (owner, EVENTS[:2], True)
    assert endpoint.secret.startswith("whsec_")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("action", org, pk=endpoint.pk, action="test"))
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()

    assert "A test event is queued" in page
    (request,) = receiver.requests  # delivered by the worker at once (eager here)
    assert Webhook(endpoint.secret).verify(request.body, request.headers)["type"] == "webhook.test"
    assert endpoint.secret in page  # the owner sees the secret, with how to verify it
    assert "Webhook(SECRET).verify" in page
    assert "webhook.test" in page and request.headers["webhook-id"] in page  # the log
    listing = client.get(_url("list", org)).content.decode()
    assert "Our receiver" in listing and ": sent (200)" in listing


def test_other_members_may_look_but_not_change_and_outsiders_get_a_404(
    client, org, members, allow_loopback
):
    endpoint = make_endpoint(org, "http://127.0.0.1:9/hook")
    writes = [
        ("post", _url("new", org), {"name": "x", "url": "http://127.0.0.1:9/", "format": "slack",
                                    "events": EVENTS}),
        ("get", _url("new", org), None),
        ("post", _url("edit", org, pk=endpoint.pk), {"name": "x", "url": endpoint.url,
                                                     "format": "slack", "events": EVENTS}),
        ("post", _url("delete", org, pk=endpoint.pk), {}),
        ("post", _url("action", org, pk=endpoint.pk, action="rotate"), {}),
        ("post", _url("action", org, pk=endpoint.pk, action="test"), {}),
        ("post", _url("action", org, pk=endpoint.pk, action="enable"), {}),
    ]  # fmt: skip
    secret = endpoint.secret
    for role, person in members.items():
        client.force_login(person)
        page = client.get(_url("detail", org, pk=endpoint.pk))
        assert page.status_code == 200, role
        assert secret not in page.content.decode()  # only owners see the secret
        assert client.get(_url("list", org)).status_code == 200
        for method, url, data in writes:
            assert getattr(client, method)(url, data).status_code == 403, (role, url)
    outsider = UserFactory(username="stranger")
    client.force_login(outsider)
    for url in (_url("list", org), _url("detail", org, pk=endpoint.pk)):
        assert client.get(url).status_code == 404, url
    for method, url, data in writes:
        assert getattr(client, method)(url, data).status_code == 404, url
    client.logout()
    assert client.get(_url("list", org)).status_code == 302  # to sign in
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.secret, Delivery.objects.count()) == ("Hook", secret, 0)


def test_another_organisations_endpoint_is_a_404_for_an_owner(client, org, owner):
    other = make_endpoint(
        __import__("tracker.workspace.services", fromlist=["x"]).organisation_create(
            name="Other", owner=UserFactory(username="oz")), "https://hooks.example.com/",
    )  # fmt: skip
    client.force_login(owner)
    assert client.get(_url("detail", org, pk=other.pk)).status_code == 404
    assert client.post(_url("delete", org, pk=other.pk)).status_code == 404
    assert Endpoint.objects.filter(pk=other.pk).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {
                "name": "",
                "url": "https://hooks.example.com/",
                "format": "generic",
                "events": EVENTS,
            },
            "This field is required.",
        ),
        (
            {"name": "x", "url": "not a url", "format": "generic", "events": EVENTS},
            "Enter a valid URL.",
        ),
        (
            {"name": "x", "url": "http://localhost/hook", "format": "generic", "events": EVENTS},
            "localhost is not a public address",
        ),
        (
            {"name": "x", "url": "http://169.254.169.254/", "format": "generic", "events": EVENTS},
            "169.254.169.254 is not a public address: webhooks may only call public addresses.",
        ),
        (
            {"name": "x", "url": "ftp://example.org/", "format": "generic", "events": EVENTS},
            "Use an http:// or https:// URL.",
        ),
        (
            {"name": "x", "url": "https://hooks.example.com/", "format": "email", "events": EVENTS},
            "Select a valid choice.",
        ),
        (
            {"name": "x", "url": "https://hooks.example.com/", "format": "generic", "events": []},
            "Choose at least one event.",
        ),
        (
            {
                "name": "x",
                "url": "https://hooks.example.com/",
                "format": "generic",
                "events": ["everything"],
            },
            "Select a valid choice.",
        ),
        (
            {
                "name": "x" * 81,
                "url": "https://hooks.example.com/",
                "format": "generic",
                "events": EVENTS,
            },
            "at most 80 characters",
        ),
    ],
)
def test_bad_input_is_a_400_with_the_reason_and_changes_nothing(
    client, org, owner, settings, monkeypatch, data, message
):
    import socket

    settings.WEBHOOK_ALLOW_PRIVATE = False
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: (
        [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]
        if host == "hooks.example.com" else real(host, port, *a, **k)))  # fmt: skip
    endpoint = make_endpoint(org, "https://hooks.example.com/", name="Kept")
    client.force_login(owner)

    for url in (_url("new", org), _url("edit", org, pk=endpoint.pk)):
        response = client.post(url, data)
        assert response.status_code == 400, url
        assert message in response.content.decode().replace("&#x27;", "'"), url
    endpoint.refresh_from_db()
    assert (Endpoint.objects.count(), endpoint.name) == (1, "Kept")
    bad_action = client.post(_url("action", org, pk=endpoint.pk, action="explode"))
    assert bad_action.status_code == 400


def test_the_admin_refuses_a_private_address_with_the_same_validator(client, admin_user, org,
                                                                     settings):  # fmt: skip
    settings.WEBHOOK_ALLOW_PRIVATE = False
    client.force_login(admin_user)
    response = client.post(reverse("admin:webhooks_endpoint_add"), {
        "organisation": org.pk, "name": "Sneaky", "url": "http://localhost:8000/admin/",
        "format": "generic", "events": ["obligation.overdue"], "enabled": "on",
        "disabled_reason": "",
    })  # fmt: skip
    assert response.status_code == 200
    assert "webhooks may only call public addresses" in response.content.decode()
    assert not Endpoint.objects.exists()


def test_the_admin_shows_endpoints_and_read_only_deliveries_with_their_errors(
    client, admin_user, org
):
    endpoint = make_endpoint(org, "https://hooks.example.com/")
    _attempts(endpoint, 1)
    Delivery.objects.update(status="failed", last_error="The endpoint answered 410.")
    delivery, attempt = Delivery.objects.get(), DeliveryAttempt.objects.get()
    client.force_login(admin_user)
    for model, pk in (("endpoint", endpoint.pk), ("delivery", delivery.pk),
                      ("deliveryattempt", attempt.pk)):  # fmt: skip
        assert client.get(reverse(f"admin:webhooks_{model}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:webhooks_{model}_change", args=[pk])).status_code == 200
    listing = client.get(reverse("admin:webhooks_delivery_changelist") + "?status=failed")
    assert "The endpoint answered 410." in listing.content.decode()
    # read-only: a POST changes nothing
    client.post(reverse("admin:webhooks_delivery_change", args=[delivery.pk]), {"status": "sent"})
    assert Delivery.objects.get().status == "failed"
    bad = client.post(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]), {
        "organisation": org.pk, "name": "Hook", "url": endpoint.url, "format": "generic",
        "events": ["{not json"], "enabled": "on", "disabled_reason": "",
    })  # fmt: skip
    assert bad.status_code == 200 and "Please correct the error" in bad.content.decode()


def test_the_admin_adds_a_public_endpoint_with_a_secret(client, admin_user, org, monkeypatch):
    import socket

    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))])  # fmt: skip
    client.force_login(admin_user)
    response = client.post(reverse("admin:webhooks_endpoint_add"), {
        "organisation": org.pk, "name": "Ops", "url": "https://hooks.example.com/x",
        "format": "slack", "events": ["obligation.overdue"], "enabled": "on",
        "disabled_reason": "",
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Endpoint.objects.get().secret.startswith("whsec_")


def test_rotate_enable_and_delete(client, org, owner):
    endpoint = make_endpoint(org, "https://hooks.example.com/", enabled=False,
                             disabled_reason="Disabled automatically after 5 failed deliveries",
                             consecutive_failures=5)  # fmt: skip
    old = endpoint.secret
    client.force_login(owner)
    page = client.get(_url("detail", org, pk=endpoint.pk)).content.decode()
    assert "Disabled automatically after 5 failed deliveries" in page and "Enable again" in page
    assert "Disabled automatically" in client.get(_url("list", org)).content.decode()
    assert client.post(_url("action", org, pk=endpoint.pk, action="test")).status_code == 400

    client.post(_url("action", org, pk=endpoint.pk, action="enable"))
    rotated = client.post(_url("action", org, pk=endpoint.pk, action="rotate"), follow=True)

    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.consecutive_failures, endpoint.disabled_reason) == (
        True, 0, "")  # fmt: skip
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.secret in rotated.content.decode()
    assert "for 24 hours" in rotated.content.decode()
    assert client.get(_url("delete", org, pk=endpoint.pk)).status_code == 200  # asks first
    assert Endpoint.objects.exists()
    response = client.post(_url("delete", org, pk=endpoint.pk))
    assert response.status_code == 302 and not Endpoint.objects.exists()


# Query counts -----------------------------------------------------------------------------


def _attempts(endpoint, n: int) -> None:
    from tracker.webhooks.services import webhook_id_new

    now = timezone.now()
    for i in range(n):
        delivery = Delivery.objects.create(
            endpoint=endpoint, webhook_id=webhook_id_new(), event_type="webhook.test",
            payload={"type": "webhook.test", "data": {}}, dedupe_key=f"k{endpoint.pk}:{i}:{now}",
            next_attempt_at=now, status="sent",
        )  # fmt: skip
        DeliveryAttempt.objects.create(delivery=delivery, endpoint=endpoint,
                                       at=now - dt.timedelta(seconds=i), status_code=200,
                                       outcome="sent")  # fmt: skip


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_and_the_log_run_a_fixed_number_of_queries(client, org, owner):
    client.force_login(owner)
    first = make_endpoint(org, "https://hooks.example.com/a")
    _attempts(first, 3)
    small = (
        _queries(client, _url("list", org)),
        _queries(client, _url("detail", org, pk=first.pk)),
    )
    for i in range(8):
        _attempts(make_endpoint(org, f"https://hooks.example.com/{i}", name=f"H{i}"), 2)
    _attempts(first, 120)
    large = (
        _queries(client, _url("list", org)),
        _queries(client, _url("detail", org, pk=first.pk)),
    )
    page = client.get(_url("detail", org, pk=first.pk)).content.decode()

    assert small == large
    assert large[0] <= 6 and large[1] <= 8
    assert page.count("<li>\n    <p><time") == 50  # the latest 50 attempts a page
    assert "Page 1 of 3" in page
    assert client.get(_url("detail", org, pk=first.pk) + "?page=3").status_code == 200
    assert client.get(_url("detail", org, pk=first.pk) + "?page=junk").status_code == 200
