"""Webhooks end to end: real PostgreSQL, Redis, a Celery worker in another process and an HTTP
receiver on 127.0.0.1 (issue 14).

An editor's amendment moves a milestone; after commit the catalogue hands the change to its
consumers through Redis, the worker's webhooks consumer plans a "date moved" event per
endpoint, beat's sweep (published by name, as beat does) hands the due rows to the worker, and
the receiver gets each event once, signed. Then an endpoint that answers 503 once gets the
retry, with the same webhook-id, when the sweep finds it due again.

Runs in the PostgreSQL pass (`JALON_TEST_DB=postgres`): the worker must see the test database.
The broker is a private redis-server, so nothing else's worker takes these tasks.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from tests import test_webhooks_support as support
from tests.factories import MilestoneFactory
from tests.pipeline_support import Worker, postgres_only, wait_for, web_celery_on, worker_env
from tracker.catalogue.models import Milestone
from tracker.catalogue.services import milestone_amend
from tracker.webhooks.models import Delivery, DeliveryAttempt, Endpoint
from tracker.webhooks.services import endpoint_create, endpoint_test
from tracker.workspace.models import TrackedItem

# The support module's fixtures, used here.
org = support.org
owner = support.owner
receiver = support.receiver

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SWEEP_TASK = "tracker.webhooks.tasks.webhooks_sweep_task"
MOVED = "milestone.date_moved"
QUIET = 1.5  # seconds to wait for a request that must not come


@pytest.fixture(autouse=True)
def postgres_pass():
    """Before any server starts: a worker in another process cannot see an SQLite test DB."""
    postgres_only()


@pytest.fixture
def loopback(settings):
    """The form's and the admin's check lets 127.0.0.1 through in this process (tests only)."""
    settings.WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def worker(redis_server, smtp_server, tmp_path):
    """A real Celery worker (2 processes) on a private Redis; it may call 127.0.0.1."""
    worker = Worker(broker_url=redis_server.url, smtp_port=smtp_server.port, concurrency=2,
                    log_path=tmp_path / "worker.log")  # fmt: skip
    worker.env = worker_env(
        redis_url=redis_server.url, smtp_port=smtp_server.port, EMAIL_TIMEOUT="5",
        WEBHOOK_ALLOW_PRIVATE="true", WEBHOOK_TIMEOUT="2",
    )  # fmt: skip
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        print(worker.log_tail(80))


def _endpoint(org, owner, url: str, name: str) -> Endpoint:
    return endpoint_create(organisation=org, name=name, url=url, format="generic",
                           events=[MOVED], by=owner)  # fmt: skip


def _log(delivery: Delivery) -> list[tuple[str, int | None]]:
    return list(
        DeliveryAttempt.objects.filter(delivery=delivery)
        .order_by("at", "pk")
        .values_list("outcome", "status_code")
    )


def test_a_moved_date_reaches_each_endpoint_once_signed_through_redis_and_a_worker(
    org, owner, receiver, loopback, worker, redis_server
):
    # Given an organisation tracking an open item on a milestone, with two endpoints
    milestone = MilestoneFactory(date=timezone.localdate() + dt.timedelta(days=200))
    item = TrackedItem.objects.create(organisation=org, milestone=milestone)
    first = _endpoint(org, owner, receiver.url, "First")
    second = _endpoint(org, owner, receiver.url + "/second", "Second")
    new_date = milestone.date + dt.timedelta(days=365)

    # When an editor's amendment commits (the web process publishes to Redis after commit)
    with web_celery_on(redis_server.url), transaction.atomic():
        milestone_amend(
            milestone=Milestone.objects.get(pk=milestone.pk), new_date=new_date,
            amending_act="Digital Omnibus", source_url="https://eur-lex.europa.eu/x",
            confidence="high",
        )  # fmt: skip

    # Then the worker's webhooks consumer plans one event per endpoint, sent by nobody yet
    wait_for(lambda: Delivery.objects.filter(event_type=MOVED).count() == 2, 15,
             "the consumer to plan two 'date moved' events", worker.log_tail)  # fmt: skip
    time.sleep(0.5)  # the consumer dispatches nothing itself: the sweep does
    assert receiver.requests == []
    assert set(Delivery.objects.values_list("status", flat=True)) == {"queued"}

    # When beat's sweep is published, twice (two beats, or one redelivered)
    worker.client.send_task(SWEEP_TASK)
    worker.client.send_task(SWEEP_TASK)
    wait_for(lambda: Delivery.objects.filter(status="sent").count() == 2, 15,
             "both deliveries to be sent", worker.log_tail)  # fmt: skip
    time.sleep(QUIET)  # a doubled delivery would arrive now

    # Then each endpoint got its event exactly once, signed with its own secret
    assert sorted(r.path for r in receiver.requests) == ["/hook", "/hook/second"]
    for endpoint in (first, second):
        delivery = Delivery.objects.get(endpoint=endpoint)
        (request,) = [
            r for r in receiver.requests if r.headers["webhook-id"] == delivery.webhook_id
        ]
        assert request.path == "/hook" + ("" if endpoint == first else "/second")
        event = Webhook(endpoint.secret).verify(request.body, request.headers)
        assert event == json.loads(request.body)
        assert event["type"] == MOVED
        assert event["data"]["old_date"] == milestone.date.isoformat()
        assert event["data"]["new_date"] == new_date.isoformat()
        assert event["data"]["amending_act"] == "Digital Omnibus"
        assert [i["id"] for i in event["data"]["items"]] == [item.pk]
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 1, 200)
        assert _log(delivery) == [("sent", 200)]
    assert Endpoint.objects.filter(consecutive_failures=0, enabled=True).count() == 2


def test_a_503_is_retried_by_the_sweep_with_the_same_webhook_id(
    org, owner, receiver, loopback, worker, redis_server
):
    # Given an endpoint that answers 503 once, then 200
    receiver.script = [503]
    endpoint = _endpoint(org, owner, receiver.url, "Flaky")

    # When an owner sends a test event (the web process hands it to the worker after commit)
    with web_celery_on(redis_server.url), transaction.atomic():
        delivery = endpoint_test(endpoint=endpoint, by=owner)

    # Then the first attempt is logged as a retry, due in a minute
    wait_for(lambda: DeliveryAttempt.objects.filter(delivery=delivery).exists(), 15,
             "the first attempt", worker.log_tail)  # fmt: skip
    wait_for(lambda: Delivery.objects.filter(pk=delivery.pk, status="queued").exists(), 5,
             "the delivery to be queued again", worker.log_tail)  # fmt: skip
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code) == (1, 503)
    assert delivery.next_attempt_at > timezone.now() + dt.timedelta(seconds=30)
    assert _log(delivery) == [("retry", 503)]

    # A sweep before it is due sends nothing
    worker.client.send_task(SWEEP_TASK)
    time.sleep(QUIET)
    assert len(receiver.requests) == 1

    # When its time comes (moved back here, as a minute passing would) and beat sweeps
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )
    worker.client.send_task(SWEEP_TASK)
    wait_for(lambda: Delivery.objects.filter(pk=delivery.pk, status="sent").exists(), 15,
             "the retry to be sent", worker.log_tail)  # fmt: skip
    time.sleep(QUIET)  # nothing more should come

    # Then the retry came once, with the same webhook-id, and verifies
    assert len(receiver.requests) == 2
    assert receiver.ids() == [delivery.webhook_id, delivery.webhook_id]
    for request in receiver.requests:
        assert Webhook(endpoint.secret).verify(request.body, request.headers)["type"] == (
            "webhook.test"
        )
    assert receiver.requests[0].body == receiver.requests[1].body
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 2, 200)
    assert _log(delivery) == [("retry", 503), ("sent", 200)]
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.consecutive_failures) == (True, 0)
