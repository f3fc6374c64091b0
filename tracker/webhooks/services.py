"""Webhooks' writes: an owner's endpoints, and the events planned for them.

Every event is a `Delivery` row first, unique on what makes it that event (its dedupe key),
so planning twice is harmless; the sweep hands due rows to workers (delivery.py). Events are
planned set-based, in a fixed number of statements whatever the number of organisations:
- a milestone's date moved: after commit, as a consumer of the catalogue's change events
  (tasks.milestone_change_consume_task), and again by the periodic plan for two days;
- an obligation due soon, at the email reminders' lead times (90, 30, 7, 1 days);
- an obligation overdue, once a week per item;
- an incident's reporting deadline less than 24 hours away, once per deadline.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import secrets
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from tracker.catalogue.models import MilestoneChange
from tracker.reminders.models import DEFAULT_LEAD_DAYS
from tracker.webhooks.formats import envelope
from tracker.webhooks.models import TEST_EVENT, Delivery, Endpoint
from tracker.workspace.clocks import report_periods
from tracker.workspace.models import Incident, TrackedItem
from tracker.workspace.selectors import DUTY_TEXT

log = logging.getLogger(__name__)

MOVED = "milestone.date_moved"
DUE_SOON = "obligation.due_soon"
OVERDUE = "obligation.overdue"
INCIDENT_SOON = "incident.deadline_soon"
INCIDENT_WINDOW = dt.timedelta(hours=24)
MOVES_CAUGHT_UP_FOR = dt.timedelta(days=2)
ITEMS_PER_MOVE = 50  # items listed in one "date moved" event; the count says how many in all
SECRET_OVERLAP = dt.timedelta(hours=24)
DELIVER_TASK = "tracker.webhooks.tasks.webhooks_deliver_task"
DELIVER_CHUNK = 10  # deliveries per task: one endpoint slow to answer holds up few others


# Endpoints ----------------------------------------------------------------------------------


def secret_new() -> str:
    """A Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_id_new() -> str:
    """A message id, set once per delivery and sent unchanged on every retry."""
    return "msg_" + secrets.token_urlsafe(18)


def endpoint_create(*, organisation, name: str, url: str, format: str, events: list[str],
                    by) -> Endpoint:  # fmt: skip
    """A new, enabled endpoint with a fresh secret (the URL is checked by full_clean)."""
    endpoint = Endpoint(
        organisation=organisation, name=name, url=url, format=format, events=list(events),
        secret=secret_new(), created_by=by,
    )  # fmt: skip
    endpoint.full_clean()
    endpoint.save()
    return endpoint


def endpoint_update(*, endpoint: Endpoint, name: str, url: str, format: str,
                    events: list[str]) -> Endpoint:  # fmt: skip
    endpoint.name, endpoint.url, endpoint.format = name, url, format
    endpoint.events = list(events)
    endpoint.full_clean()
    endpoint.save(update_fields=["name", "url", "format", "events"])
    return endpoint


def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Delete the endpoint with its deliveries and log (a worker holding one finds it gone)."""
    endpoint.delete()


def endpoint_secret_rotate(*, endpoint: Endpoint, now: dt.datetime | None = None) -> str:
    """A new secret; deliveries carry a signature with the old one too for 24 hours, so a
    receiver can switch without missing any."""
    now = now or timezone.now()
    endpoint.previous_secret, endpoint.previous_secret_until = endpoint.secret, now + SECRET_OVERLAP
    endpoint.secret = secret_new()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    return endpoint.secret


def endpoint_enable(*, endpoint: Endpoint) -> None:
    """Enable again (after an automatic disabling): failures count from zero."""
    Endpoint.objects.filter(pk=endpoint.pk).update(
        enabled=True, disabled_reason="", disabled_at=None, consecutive_failures=0
    )
    endpoint.refresh_from_db()


def endpoint_test(*, endpoint: Endpoint, by=None, now: dt.datetime | None = None) -> Delivery:
    """Queue a test event, handed to a worker as soon as the caller's transaction commits."""
    now = now or timezone.now()
    who = (by.get_full_name() or by.get_username()) if by is not None else "Jalon"
    data = {
        "summary": f"Test event for “{endpoint.name}”, sent by {who}. Delivery works.",
        "organisation": endpoint.organisation.slug,
        "organisation_name": endpoint.organisation.name,
        "endpoint": endpoint.name,
        "url": settings.SITE_URL
        + reverse("webhooks:detail", kwargs={"slug": endpoint.organisation.slug,
                                             "pk": endpoint.pk}),
    }  # fmt: skip
    webhook_id = webhook_id_new()
    delivery = Delivery.objects.create(
        endpoint=endpoint, webhook_id=webhook_id, event_type=TEST_EVENT,
        payload=envelope(event_type=TEST_EVENT, timestamp=now.isoformat(), data=data),
        dedupe_key=f"test:{endpoint.pk}:{webhook_id}", next_attempt_at=now,
    )  # fmt: skip
    deliveries_dispatch_on_commit([delivery.pk])
    return delivery


# Queueing -----------------------------------------------------------------------------------


def _delivery(endpoint_id: int, event_type: str, data: dict, key: str, now: dt.datetime,
              topic: str = "") -> Delivery:  # fmt: skip
    return Delivery(
        endpoint_id=endpoint_id, webhook_id=webhook_id_new(), event_type=event_type,
        payload=envelope(event_type=event_type, timestamp=now.isoformat(), data=data),
        dedupe_key=key, topic=topic, next_attempt_at=now,
    )  # fmt: skip


def deliveries_queue(deliveries: list[Delivery]) -> int:
    """Store the deliveries whose dedupe key is new; how many were stored. Two statements per
    500 rows; a racing planner storing the same key first keeps its row."""
    if not deliveries:
        return 0
    keys = [d.dedupe_key for d in deliveries]
    known: set[str] = set()
    for start in range(0, len(keys), 500):  # under every database's limit of parameters
        known.update(
            Delivery.objects.filter(dedupe_key__in=keys[start : start + 500]).values_list(
                "dedupe_key", flat=True
            )
        )
    fresh, seen = [], set()
    for delivery in deliveries:
        if delivery.dedupe_key in known or delivery.dedupe_key in seen:
            continue
        seen.add(delivery.dedupe_key)
        fresh.append(delivery)
    if fresh:
        Delivery.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=500)
    return len(fresh)


def deliveries_dispatch(delivery_ids: list[int]) -> None:
    """Put deliver tasks on the broker (by name: tasks.py imports this module). A broker that
    is down loses nothing: the rows stay queued for the next sweep."""
    deliver = import_string(DELIVER_TASK)
    for start in range(0, len(delivery_ids), DELIVER_CHUNK):
        try:
            deliver.apply_async((delivery_ids[start : start + DELIVER_CHUNK],), retry=False)
        except Exception:  # broker unreachable
            log.warning("broker unavailable; webhook deliveries wait for the sweep", exc_info=True)
            return


def deliveries_dispatch_on_commit(delivery_ids: list[int]) -> None:
    if delivery_ids:
        transaction.on_commit(lambda: deliveries_dispatch(delivery_ids))


# Planning -----------------------------------------------------------------------------------


def _subscribed(event_type: str) -> dict[int, list[int]]:
    """The enabled endpoints that hear `event_type`, by organisation id (one query)."""
    by_org: dict[int, list[int]] = defaultdict(list)
    rows = Endpoint.objects.filter(enabled=True).values_list("pk", "organisation_id", "events")
    for pk, organisation_id, events in rows.order_by("pk"):
        if event_type in (events or []):
            by_org[organisation_id].append(pk)
    return by_org


def _has_endpoint(ref: str = "organisation_id") -> Exists:
    return Exists(Endpoint.objects.filter(organisation_id=OuterRef(ref), enabled=True))


def _site(name: str, **kwargs) -> str:
    return settings.SITE_URL + reverse(name, kwargs=kwargs)


def _item_data(item: TrackedItem) -> dict:
    organisation = item.organisation
    return {
        "organisation": organisation.slug,
        "organisation_name": organisation.name,
        "item": {
            "id": item.pk,
            "title": item.title,
            "system": item.scope_label,
            "status": item.status,
            "owner": item.owner.get_username() if item.owner_id else None,
            "target_date": item.target_date.isoformat() if item.target_date else None,
            "milestone": item.milestone.key,
        },
        "legal_basis": item.article,
        "url": _site("workspace:item", slug=organisation.slug, pk=item.pk),
    }


def _items(queryset):
    return queryset.select_related("milestone", "obligation", "organisation", "owner").defer(
        *DUTY_TEXT
    )


def _plan_items(event_type: str, rows: Iterable, build) -> tuple[list[Delivery], list[str]]:
    """Deliveries for each (item, ...) row and each endpoint hearing `event_type`; an item
    whose event cannot be written fails alone, logged and counted."""
    endpoints = _subscribed(event_type)
    deliveries, errors = [], []
    for row in rows:
        item = row[0]
        targets = endpoints.get(item.organisation_id)
        if not targets:
            continue
        try:
            deliveries.extend(build(row, targets))
        except Exception as exc:
            log.exception("webhook %s for item %s not planned", event_type, item.pk)
            errors.append(f"item {item.pk}: {type(exc).__name__}: {exc}"[:300])
    return deliveries, errors


def due_soon_plan(*, now: dt.datetime) -> dict:
    """An event per endpoint, item and lead time when an open item is due in exactly 90, 30, 7
    or 1 days (the email reminders' lead times). Three queries and the writes."""
    today = timezone.localdate(now)
    leads = sorted(set(DEFAULT_LEAD_DAYS))
    days = [today + dt.timedelta(days=n) for n in leads]
    items = _items(
        TrackedItem.objects.tracked().open().filter(_has_endpoint())
        .filter(Q(target_date__in=days)
                | Q(target_date__isnull=True, milestone__date__in=days)
                | Q(target_date__isnull=True, milestone__kind="recurring"))
        .order_by("pk")
    )  # fmt: skip

    def rows():
        for item in items:
            due = item.due_on(today)
            if due is not None and (due - today).days in leads:
                yield item, due, (due - today).days

    def build(row, targets):
        item, due, lead = row
        data = _item_data(item)
        data |= {
            "due_date": due.isoformat(), "days_left": lead,
            "summary": f"{item.title} is due in {lead} day{'s' if lead != 1 else ''}, "
            f"on {due:%d %B %Y} ({item.organisation.name}).",
        }  # fmt: skip
        return [
            _delivery(ep, DUE_SOON, data, f"soon:{ep}:{item.pk}:{lead}:{due}", now)
            for ep in targets
        ]

    deliveries, errors = _plan_items(DUE_SOON, rows(), build)
    return {"planned": deliveries_queue(deliveries), "errors": errors}


def overdue_plan(*, now: dt.datetime) -> dict:
    """An event per endpoint and overdue open item, once a week (as the overdue digest)."""
    today = timezone.localdate(now)
    year, week, _ = today.isocalendar()
    items = _items(
        TrackedItem.objects.tracked().overdue(today).filter(_has_endpoint()).order_by("pk")
    )

    def build(row, targets):
        (item,) = row
        due = item.due_date
        late = (today - due).days
        data = _item_data(item)
        data |= {
            "due_date": due.isoformat(), "days_late": late,
            "summary": f"{item.title} is overdue: it was due on {due:%d %B %Y}, "
            f"{late} day{'s' if late != 1 else ''} ago ({item.organisation.name}).",
        }  # fmt: skip
        return [
            _delivery(ep, OVERDUE, data, f"overdue:{ep}:{item.pk}:{year}-W{week:02d}", now)
            for ep in targets
        ]

    deliveries, errors = _plan_items(OVERDUE, ((item,) for item in items), build)
    return {"planned": deliveries_queue(deliveries), "errors": errors}


def incident_deadlines_plan(*, now: dt.datetime) -> dict:
    """An event per endpoint and unreported incident whose reporting deadline (counted where
    it occurred, clocks.py) is less than 24 hours away; once per deadline."""
    endpoints = _subscribed(INCIDENT_SOON)
    periods = report_periods()
    incidents = (
        Incident.objects.filter(reported_at=None).filter(_has_endpoint())
        .select_related("system", "organisation").order_by("pk")
    )  # fmt: skip
    deliveries, errors = [], []
    for incident in incidents:
        targets = endpoints.get(incident.organisation_id)
        if not targets:
            continue
        try:
            clock = incident.clock(periods=periods)
            if clock.deadline is None or not now < clock.deadline <= now + INCIDENT_WINDOW:
                continue
            hours = clock.hours_left(now)
            organisation = incident.organisation
            data = {
                "organisation": organisation.slug,
                "organisation_name": organisation.name,
                "incident": {"id": incident.pk, "system": incident.system.name,
                             "kinds": list(incident.kinds), "place": incident.place_display,
                             "aware_at": incident.aware_at.isoformat()},
                "deadline": clock.deadline.isoformat(),
                "deadline_text": clock.deadline_text,
                "hours_left": hours,
                "summary": f"Report the serious incident on {incident.system.name}: the "
                f"deadline is in {hours} hour{'s' if hours != 1 else ''} "
                f"({clock.deadline_text}).",
                "url": _site("workspace:incident_edit", slug=organisation.slug, pk=incident.pk),
            }  # fmt: skip
            stamp = clock.deadline.astimezone(dt.UTC).strftime("%Y%m%dT%H%M")
            deliveries.extend(
                _delivery(ep, INCIDENT_SOON, data, f"incident:{ep}:{incident.pk}:{stamp}", now,
                          topic=f"incident:{incident.pk}")
                for ep in targets
            )  # fmt: skip
        except Exception as exc:
            log.exception("webhook for incident %s not planned", incident.pk)
            errors.append(f"incident {incident.pk}: {type(exc).__name__}: {exc}"[:300])
    return {"planned": deliveries_queue(deliveries), "errors": errors}


def milestone_moved_plan(*, change: MilestoneChange, now: dt.datetime | None = None) -> dict:
    """One event per endpoint of each organisation tracking an open item on the moved
    milestone, listing its items; events still queued about an earlier move of the same
    milestone are cancelled (no longer true). Idempotent: a repeat plans nothing new."""
    now = now or timezone.now()
    if change.kind != MilestoneChange.Kind.MOVED or change.old_date == change.new_date:
        return {"planned": 0}
    milestone = change.milestone
    endpoints = _subscribed(MOVED)
    existed = set(
        Endpoint.objects.filter(enabled=True, created_at__lte=change.recorded_at).values_list(
            "pk", flat=True
        )
    )
    items = _items(
        TrackedItem.objects.tracked().open().filter(milestone=milestone)
        .filter(_has_endpoint()).order_by("organisation_id", "pk")
    )  # fmt: skip
    by_org: dict[int, list[TrackedItem]] = defaultdict(list)
    for item in items:
        by_org[item.organisation_id].append(item)
    topic = f"milestone:{milestone.pk}"
    deliveries, errors = [], []
    for organisation_id, group in by_org.items():
        targets = [ep for ep in endpoints.get(organisation_id, []) if ep in existed]
        if not targets:
            continue
        try:
            organisation = group[0].organisation
            when = change.new_date or milestone.date
            data = {
                "organisation": organisation.slug,
                "organisation_name": organisation.name,
                "milestone": {"key": milestone.key, "title": milestone.title,
                              "url": settings.SITE_URL + milestone.get_absolute_url()},
                "legal_basis": milestone.legal_basis,
                "old_date": change.old_date.isoformat() if change.old_date else None,
                "new_date": when.isoformat() if when else None,
                "amending_act": change.amending_act,
                "source_url": change.source_url,
                "change_id": change.pk,
                "items_count": len(group),
                "items": [
                    {"id": item.pk, "title": item.title, "system": item.scope_label,
                     "url": _site("workspace:item", slug=organisation.slug, pk=item.pk)}
                    for item in group[:ITEMS_PER_MOVE]
                ],
                "summary": f"The date of “{milestone.title}” moved"
                + (f" from {change.old_date:%d %B %Y}" if change.old_date else "")
                + (f" to {when:%d %B %Y}" if when else "")
                + f": {len(group)} of {organisation.name}’s open item"
                + ("s follow" if len(group) != 1 else " follows") + " it.",
                "url": _site("workspace:timeline", slug=organisation.slug),
            }  # fmt: skip
            deliveries.extend(
                _delivery(ep, MOVED, data, f"moved:{ep}:{change.pk}", now, topic=topic)
                for ep in targets
            )
        except Exception as exc:
            log.exception("webhook for change %s, organisation %s not planned", change.pk,
                          organisation_id)  # fmt: skip
            errors.append(f"organisation {organisation_id}: {type(exc).__name__}: {exc}"[:300])
    planned = deliveries_queue(deliveries)
    superseded = (
        Delivery.objects.filter(topic=topic, status=Delivery.Status.QUEUED, event_type=MOVED)
        .exclude(dedupe_key__endswith=f":{change.pk}")
        .filter(payload__data__change_id__lt=change.pk)
        .update(status=Delivery.Status.CANCELLED,
                last_error=f"Not sent: the date moved again (change {change.pk}).")
    )  # fmt: skip
    return {"planned": planned, "superseded": superseded, "errors": errors}


def moves_catch_up(*, now: dt.datetime) -> dict:
    """The moves of the last two days, planned again: a consumer task that was lost, or a
    deployment without the consumer, delays a "date moved" event but never loses it."""
    changes = (
        MilestoneChange.objects.filter(
            kind=MilestoneChange.Kind.MOVED, recorded_at__gte=now - MOVES_CAUGHT_UP_FOR
        )
        .select_related("milestone")
        .order_by("pk")
    )
    planned, errors = 0, []
    for change in changes:
        outcome = milestone_moved_plan(change=change, now=now)
        planned += outcome["planned"]
        errors += outcome.get("errors", [])
    return {"planned": planned, "errors": errors}


def webhooks_plan(*, now: dt.datetime) -> dict:
    """Every periodic event due at `now`; each kind in its own transaction, so one that fails
    does not stop the others (its error is logged and returned)."""
    report: dict = {}
    for name, plan in (
        ("due_soon", due_soon_plan),
        ("overdue", overdue_plan),
        ("incident", incident_deadlines_plan),
        ("moved", moves_catch_up),
    ):
        try:
            with transaction.atomic():
                report[name] = plan(now=now)
        except Exception as exc:
            log.exception("webhook planning of %s failed", name)
            report[name] = {"planned": 0, "errors": [f"{type(exc).__name__}: {exc}"[:300]]}
    return report
