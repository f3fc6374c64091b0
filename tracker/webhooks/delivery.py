"""Webhook delivery, the way the outbox delivers email (tracker/outbox/services.py).

A sweep puts queued rows whose time has come on the broker; a worker claims each row with a
conditional UPDATE (queued and due -> sending, with a lease) before it talks to the endpoint,
so two sweeps or a redelivered task cannot deliver it twice. Each attempt is logged
(DeliveryAttempt). A 2xx is sent; a timeout, a connection error, a 408, 429 or 5xx is tried
again with backoff (1, 2, 4... minutes) until WEBHOOK_MAX_ATTEMPTS; any other answer fails at
once. The webhook-id stays the same on every attempt. A delivery that ends failed counts
against its endpoint: after WEBHOOK_DISABLE_AFTER in a row the endpoint is disabled and its
organisation's owners are told by email. A row whose worker died goes back to the queue when
its lease ends. One row's error never stops the batch.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

import httpx
from django.conf import settings
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from tracker.accounts.verification import verified_filter
from tracker.outbox import services as outbox
from tracker.outbox.services import backoff
from tracker.reminders.emails import automatic_headers, render_plain
from tracker.webhooks.formats import body_for
from tracker.webhooks.models import Delivery, DeliveryAttempt, Endpoint
from tracker.webhooks.network import NotResolved, UnsafeURL, resolve_public
from tracker.webhooks.services import deliveries_dispatch
from tracker.workspace.models import Membership

log = logging.getLogger(__name__)

REDISPATCH_AFTER = dt.timedelta(minutes=2)
DISPATCH_LIMIT = 500
EXCERPT = 500
USER_AGENT = "Jalon-Webhooks/1"
DISABLED_KIND = "webhook_disabled"


def _timeout() -> float:
    return settings.WEBHOOK_TIMEOUT


def max_attempts() -> int:
    return settings.WEBHOOK_MAX_ATTEMPTS


def disable_after() -> int:
    return settings.WEBHOOK_DISABLE_AFTER


def lease() -> dt.timedelta:
    """Long enough for one attempt (connect, send, read) with room to record it."""
    return dt.timedelta(seconds=3 * _timeout() + 30)


def exchange_limit() -> float:
    """Seconds one attempt may take in all, well inside its lease."""
    return 3 * _timeout()


class Temporary(Exception):
    """Worth trying again later."""


class Permanent(Exception):
    """Trying again will not help."""


# The sweep ------------------------------------------------------------------------------------


def deliveries_recover(*, now: dt.datetime) -> int:
    """Rows left 'sending' by a worker that died go back to the queue (or end failed once
    they used every attempt, so a row that kills its worker cannot loop)."""
    stale = Delivery.objects.filter(status=Delivery.Status.SENDING, lease_until__lt=now)
    spent = stale.filter(attempts__gte=max_attempts()).select_related("endpoint__organisation")
    for delivery in spent:  # each fails alone and counts against its endpoint, as any failure
        error = "The worker was lost while delivering, on every attempt."
        try:
            _record(delivery, outcome=Delivery.Status.FAILED, code=None, error=error, now=now)
        except Exception:
            log.exception("webhook delivery %s could not be recorded as failed", delivery.pk)
    return stale.update(
        status=Delivery.Status.QUEUED, lease_until=None, next_attempt_at=now,
        last_error="The worker was lost while delivering; tried again.",
    )  # fmt: skip


def deliveries_ready(*, now: dt.datetime, limit: int = DISPATCH_LIMIT) -> list[int]:
    """Queued rows whose time has come and that no live task carries; marked dispatched (one
    whose task was lost is offered again after REDISPATCH_AFTER)."""
    ids = list(
        Delivery.objects.filter(status=Delivery.Status.QUEUED, next_attempt_at__lte=now)
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - REDISPATCH_AFTER))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    if ids:
        Delivery.objects.filter(pk__in=ids).update(dispatched_at=now)
    return ids


def webhooks_sweep(*, now: dt.datetime | None = None) -> dict:
    """Recover expired leases, then hand the due deliveries to workers."""
    now = now or timezone.now()
    recovered = deliveries_recover(now=now)
    ready = deliveries_ready(now=now)
    deliveries_dispatch(ready)
    return {"recovered": recovered, "dispatched": len(ready)}


# One delivery ---------------------------------------------------------------------------------


def delivery_claim(*, delivery_id: int, now: dt.datetime) -> bool:
    """Queued and due -> sending with a lease, in one conditional UPDATE: True for the one
    caller that won the row."""
    return bool(
        Delivery.objects.filter(
            pk=delivery_id, status=Delivery.Status.QUEUED, next_attempt_at__lte=now
        ).update(
            status=Delivery.Status.SENDING,
            lease_until=now + lease(),
            attempts=F("attempts") + 1,
        )
    )


def request_headers(delivery: Delivery, body: bytes, *, at: dt.datetime) -> dict[str, str]:
    """The Standard Webhooks headers; generic endpoints are signed (with the previous secret
    too while a rotation's overlap lasts). The id is the delivery's, the same on a retry."""
    stamp = at.astimezone(dt.UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
    }
    endpoint = delivery.endpoint
    if endpoint.signed:
        text = body.decode()
        secrets = [endpoint.secret]
        if (
            endpoint.previous_secret
            and endpoint.previous_secret_until
            and (endpoint.previous_secret_until > at)
        ):
            secrets.append(endpoint.previous_secret)
        headers["webhook-signature"] = " ".join(
            Webhook(secret).sign(msg_id=delivery.webhook_id, timestamp=stamp, data=text)
            for secret in secrets
        )
    return headers


def _text(raw: str) -> str:
    """Text a database column takes: PostgreSQL refuses NUL in text."""
    return raw.replace("\x00", "\ufffd")


def _post(delivery: Delivery, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST to the checked address (never to what DNS says a moment later); the status code
    and the start of the answer (decoded, as the receiver's Content-Encoding says). Raises
    Temporary or Permanent.

    httpx's timeout bounds each read, not the whole exchange: a receiver that answers a byte
    at a time could hold the worker past the delivery's lease, and the sweep would hand the
    row to another worker. So the whole exchange has a deadline well inside the lease; past
    it the connection is closed and the attempt is a timeout."""
    try:
        target = resolve_public(delivery.endpoint.url)
    except NotResolved as exc:
        raise Temporary(str(exc)) from None
    except UnsafeURL as exc:
        raise Permanent(f"Refused: {exc}") from None
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    client = httpx.Client(timeout=_timeout(), follow_redirects=False, trust_env=False)
    deadline = threading.Timer(exchange_limit(), client.close)
    deadline.start()
    try:
        with client, client.stream(
            "POST", target.url, content=body,
            headers={**headers, "host": target.host_header}, extensions=extensions,
        ) as response:  # fmt: skip
            excerpt = b""
            for chunk in response.iter_bytes():
                excerpt += chunk
                if len(excerpt) >= EXCERPT:
                    break
            return response.status_code, _text(excerpt[:EXCERPT].decode("utf-8", "replace"))
    except httpx.TimeoutException:
        raise Temporary(f"Timed out after {_timeout():g} s.") from None
    except httpx.TransportError as exc:
        if not deadline.is_alive():  # the deadline closed the client under the exchange
            raise Temporary(f"Timed out: no full answer in {exchange_limit():g} s.") from None
        raise Temporary(f"Connection failed: {type(exc).__name__}: {exc}") from None
    finally:
        deadline.cancel()


def _classify(code: int) -> str:
    if 200 <= code < 300:
        return Delivery.Status.SENT
    if code in (408, 429) or code >= 500:
        return "retry"
    return Delivery.Status.FAILED


def delivery_attempt(*, delivery: Delivery, now: dt.datetime) -> str:
    """One attempt at a claimed delivery: send, log, record the outcome ('sent', 'queued' for
    a retry, 'failed', 'cancelled')."""
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        why = endpoint.disabled_reason or "by its owner"
        Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.CANCELLED, lease_until=None,
            last_error=f"Not sent: the endpoint is disabled ({why}).",
        )  # fmt: skip
        return Delivery.Status.CANCELLED
    started = time.monotonic()
    code, excerpt, error = None, "", ""
    try:
        body = body_for(endpoint.format, delivery.payload)
        headers = request_headers(delivery, body, at=timezone.now())
        code, excerpt = _post(delivery, body, headers)
        outcome = _classify(code)
        if outcome != Delivery.Status.SENT:
            error = f"The endpoint answered {code}."
            if 300 <= code < 400:
                error += " Redirects are not followed: give the final URL."
    except Temporary as exc:
        outcome, error = "retry", str(exc)
    except Permanent as exc:
        outcome, error = Delivery.Status.FAILED, str(exc)
    except Exception as exc:  # recorded on the row; nothing escapes unrecorded
        log.exception("webhook delivery %s", delivery.pk)
        outcome, error = Delivery.Status.FAILED, f"{type(exc).__name__}: {exc}"
    duration = int((time.monotonic() - started) * 1000)
    if outcome == "retry" and delivery.attempts >= max_attempts():
        outcome = Delivery.Status.FAILED
        error += f" Gave up after {delivery.attempts} attempts."
    error = _text(error)
    DeliveryAttempt.objects.create(
        delivery=delivery, endpoint=endpoint, at=timezone.now(), status_code=code,
        duration_ms=duration, outcome=outcome, error=error[:500], response_excerpt=excerpt,
    )  # fmt: skip
    return _record(delivery, outcome=outcome, code=code, error=error, now=timezone.now())


def _record(delivery: Delivery, *, outcome: str, code: int | None, error: str,
            now: dt.datetime) -> str:  # fmt: skip
    # This claim's row only: had the lease run out and another worker claimed it, the attempt
    # count moved on and this outcome is not the row's to write.
    held = Delivery.objects.filter(
        pk=delivery.pk, status=Delivery.Status.SENDING, attempts=delivery.attempts
    )
    endpoint = delivery.endpoint
    if outcome == Delivery.Status.SENT:
        held.update(status=Delivery.Status.SENT, sent_at=now, lease_until=None,
                    last_error="", last_status_code=code)  # fmt: skip
        Endpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        return Delivery.Status.SENT
    if outcome == "retry":
        held.update(status=Delivery.Status.QUEUED, lease_until=None, last_error=error[:2000],
                    last_status_code=code, next_attempt_at=now + backoff(delivery.attempts),
                    dispatched_at=None)  # fmt: skip
        log.info("webhook delivery %s: %s (will retry)", delivery.pk, error)
        return Delivery.Status.QUEUED
    held.update(status=Delivery.Status.FAILED, lease_until=None, last_error=error[:2000],
                last_status_code=code)  # fmt: skip
    log.warning("webhook delivery %s failed: %s", delivery.pk, error)
    _count_failure(endpoint, delivery=delivery, error=error, now=now)
    return Delivery.Status.FAILED


def _count_failure(endpoint: Endpoint, *, delivery: Delivery, error: str,
                   now: dt.datetime) -> None:  # fmt: skip
    """One more failed delivery in a row; at the limit the endpoint is disabled (once, by a
    conditional UPDATE), its queued deliveries cancelled and its owners told."""
    Endpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    limit = disable_after()
    reason = (
        f"Disabled automatically after {limit} failed deliveries in a row; the last: {error}"
    )[:300]
    won = Endpoint.objects.filter(
        pk=endpoint.pk, enabled=True, consecutive_failures__gte=limit
    ).update(enabled=False, disabled_reason=reason, disabled_at=now)
    if not won:
        return
    Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.QUEUED).update(
        status=Delivery.Status.CANCELLED, last_error="Not sent: the endpoint was disabled."
    )
    endpoint.refresh_from_db()
    _tell_owners(endpoint, delivery=delivery, now=now)


def _tell_owners(endpoint: Endpoint, *, delivery: Delivery, now: dt.datetime) -> int:
    """An email to each owner of the organisation (verified addresses), through the outbox."""
    organisation = endpoint.organisation
    owners = (
        Membership.objects.filter(organisation=organisation, role=Membership.Role.OWNER)
        .filter(verified_filter("user__")).select_related("user").order_by("pk")
    )  # fmt: skip
    url = settings.SITE_URL + reverse(
        "webhooks:detail", kwargs={"slug": organisation.slug, "pk": endpoint.pk}
    )
    messages = []
    for membership in owners:
        person = membership.user
        context = {"endpoint": endpoint, "organisation": organisation, "person": person,
                   "url": url, "limit": disable_after()}  # fmt: skip
        try:
            messages.append(
                outbox.message(
                    to=person.email,
                    kind=DISABLED_KIND,
                    at=now,
                    dedupe_key=f"webhook-disabled:{endpoint.pk}:{delivery.pk}:u{person.pk}",
                    subject=render_plain("webhooks/email/endpoint_disabled_subject.txt", context),
                    text=render_plain("webhooks/email/endpoint_disabled_body.txt", context),
                    headers=automatic_headers("en"),
                    topic=f"webhook:{endpoint.pk}",
                )
            )
        except Exception as exc:  # one owner's email fails alone, where the admin sees it
            outbox.failure_record(
                to=person.email, kind=DISABLED_KIND, error=exc,
                what=f"webhook endpoint {endpoint.pk} disabled",
                dedupe_key=f"webhook-disabled:{endpoint.pk}:{delivery.pk}:u{person.pk}",
            )  # fmt: skip
    return len(outbox.send_many(messages))


def deliveries_send(*, delivery_ids: list[int], now: dt.datetime | None = None) -> dict[int, str]:
    """Claim and deliver each row, one at a time; each row's outcome (or 'not-claimed')."""
    outcome: dict[int, str] = {}
    for delivery_id in delivery_ids:
        try:
            if not delivery_claim(delivery_id=delivery_id, now=now or timezone.now()):
                outcome[delivery_id] = "not-claimed"
                continue
            delivery = (
                Delivery.objects.select_related("endpoint__organisation")
                .filter(pk=delivery_id).first()
            )  # fmt: skip
            if delivery is None:  # its endpoint was deleted meanwhile
                outcome[delivery_id] = "gone"
                continue
            outcome[delivery_id] = delivery_attempt(delivery=delivery, now=timezone.now())
        except Exception as exc:  # one row fails alone; its lease brings it back
            log.exception("webhook delivery %s could not be attempted", delivery_id)
            Delivery.objects.filter(pk=delivery_id).update(
                last_error=f"{type(exc).__name__}: {exc}"[:2000]
            )
            outcome[delivery_id] = "error"
    return outcome
