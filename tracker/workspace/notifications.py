"""What the workspace tells people by email: owners' deadline reminders (through the reminder
engine), a weekly digest of overdue items, daily incident-clock reminders, and moved dates.

Periodic emails carry a dedupe key (owner and week, incident and day, item and new date), so
planning one twice is harmless; the reminder sweep dispatches them like any other message.
"""

from __future__ import annotations

import datetime as dt
from itertools import groupby

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from tracker.catalogue.models import Milestone, MilestoneChange
from tracker.reminders.emails import automatic_headers, render_plain, subject_line
from tracker.reminders.models import Message, Reminder, Subscription
from tracker.reminders.services import reminders_plan
from tracker.workspace.clocks import report_periods
from tracker.workspace.models import Incident, OwnerReminders, TrackedItem

OPEN = [TrackedItem.Status.NOT_STARTED, TrackedItem.Status.IN_PROGRESS]


def workspace_message(
    kind: str, *, to_email: str, context: dict, now: dt.datetime, key: str | None = None
) -> Message:
    """An unsaved outbox message rendered from templates/workspace/email/<kind>_*.txt."""
    base = f"workspace/email/{kind}"
    return Message(
        kind=kind,
        to_email=to_email,
        dedupe_key=key,
        subject=subject_line(render_plain(f"{base}_subject.txt", context)),
        body_text=render_plain(f"{base}_body.txt", context),
        headers=automatic_headers("en"),
        next_attempt_at=now,
    )


def _queue(messages: list[Message]) -> int:
    """Store the messages not stored before; the sweep sends them."""
    before = Message.objects.filter(dedupe_key__in=[m.dedupe_key for m in messages]).count()
    Message.objects.bulk_create(messages, ignore_conflicts=True)
    return len(messages) - before


def _owner_link_create(*, organisation, user) -> OwnerReminders:
    subscription = Subscription.objects.create(
        email=user.email,
        status=Subscription.Status.ACTIVE,
        confirmed_at=timezone.now(),
        move_notices=False,  # items_flag_moved_milestone tells owners, with their item
    )
    return OwnerReminders.objects.create(
        organisation=organisation, user=user, subscription=subscription
    )


@transaction.atomic
def owner_reminders_sync(*, organisation, user) -> None:
    """Point the owner's reminder subscription at the open items they own, and plan it."""
    milestone_ids = list(
        TrackedItem.objects.filter(
            organisation=organisation, owner=user, applies=True, status__in=OPEN
        ).values_list("milestone_id", flat=True)
    )
    link = OwnerReminders.objects.filter(organisation=organisation, user=user).first()
    if link is None:
        if not milestone_ids or not user.email:
            return
        link = _owner_link_create(organisation=organisation, user=user)
    subscription = link.subscription
    subscription.milestones.set(milestone_ids)
    subscription.reminders.filter(status=Reminder.Status.PENDING).exclude(
        milestone_id__in=milestone_ids
    ).delete()
    today = timezone.now().astimezone(timezone.get_current_timezone()).date()
    reminders_plan(subscription=subscription, today=today)


def overdue_digests(*, now: dt.datetime) -> int:
    """One email a week to each owner with overdue open items, until they are done."""
    today = timezone.localdate(now)
    year, week, _ = today.isocalendar()
    items = (
        TrackedItem.objects.filter(applies=True, status__in=OPEN, owner__isnull=False)
        .annotate(due=Coalesce("target_date", "milestone__date"))
        .filter(due__lt=today)
        .exclude(owner__email="")
        .select_related("milestone", "organisation", "owner")
        .order_by("owner_id", "due")
    )
    messages = []
    for _, group in groupby(items, key=lambda item: item.owner_id):
        group = list(group)
        owner = group[0].owner
        context = {
            "owner": owner,
            "items": [
                {"item": item, "days_late": (today - item.due).days,
                 "url": settings.SITE_URL + reverse(
                     "workspace:item", kwargs={"slug": item.organisation.slug, "pk": item.pk})}
                for item in group
            ],
        }  # fmt: skip
        messages.append(workspace_message(
            Message.Kind.OVERDUE_DIGEST, to_email=owner.email,
            key=f"overdue:{owner.pk}:{year}-W{week:02d}", context=context, now=now,
        ))  # fmt: skip
    return _queue(messages)


def incident_reminders(*, now: dt.datetime) -> int:
    """Every day until an incident is marked reported, remind its owner of the deadline, counted
    where the incident occurred (the catalogue's periods are read once per run)."""
    today = timezone.localdate(now)
    periods = report_periods()
    messages = []
    open_incidents = Incident.objects.filter(reported_at=None, owner__isnull=False).exclude(
        owner__email=""
    )
    for incident in open_incidents.select_related("owner", "system", "organisation"):
        clock = incident.clock(periods=periods)
        context = {
            "incident": incident,
            "clock": clock,
            "hours_left": clock.hours_left(now),
            "url": settings.SITE_URL
            + reverse("workspace:incidents", kwargs={"slug": incident.organisation.slug}),
        }
        messages.append(workspace_message(
            Message.Kind.INCIDENT_CLOCK, to_email=incident.owner.email,
            key=f"incident:{incident.pk}:{today}", context=context, now=now,
        ))  # fmt: skip
    return _queue(messages)


def items_flag_moved_milestone(*, change: MilestoneChange, milestone: Milestone) -> dict:
    """Flag every organisation's open items for a moved milestone and tell each owner once.

    Set-based: one UPDATE flags the items, the notices are written in one statement with a
    dedupe key per item and change, so running it again sends nothing twice.
    """
    items = TrackedItem.objects.filter(milestone=milestone, status__in=OPEN)
    flagged = items.update(changed_in_catalogue=True)
    now = timezone.now()
    messages, errors = [], []
    owned = (
        items.filter(owner__isnull=False).exclude(owner__email="")
        .select_related("owner", "organisation")
    )  # fmt: skip
    for item in owned:
        try:
            messages.append(workspace_message(
                Message.Kind.ITEM_MOVED, to_email=item.owner.email,
                key=f"moved:{change.pk}:i{item.pk}",
                context={"item": item, "milestone": milestone, "old_date": change.old_date,
                         "url": settings.SITE_URL + reverse(
                             "workspace:item",
                             kwargs={"slug": item.organisation.slug, "pk": item.pk})},
                now=now,
            ))  # fmt: skip
        except Exception as exc:  # one item's bad data fails alone, recorded on the receipt
            errors.append({"item": item.pk, "error": f"{exc!r}"[:300]})
    return {"flagged": flagged, "notices": _queue(messages), "errors": errors}


@transaction.atomic
def owner_reminders_configure(
    *, organisation, user, lead_days: list[int], tz: str, send_hour: int
) -> None:
    """Set the owner's lead times, time zone and hour, and plan their reminders again."""
    link = OwnerReminders.objects.filter(organisation=organisation, user=user).first()
    if link is None:
        subscription = Subscription.objects.create(
            email=user.email, status=Subscription.Status.ACTIVE, confirmed_at=timezone.now(),
            move_notices=False,
        )  # fmt: skip
        link = OwnerReminders.objects.create(
            organisation=organisation, user=user, subscription=subscription
        )
    subscription = link.subscription
    subscription.lead_days, subscription.timezone = lead_days, tz
    subscription.send_hour = send_hour
    subscription.save(update_fields=["lead_days", "timezone", "send_hour"])
    subscription.reminders.filter(status=Reminder.Status.PENDING).delete()
    owner_reminders_sync(organisation=organisation, user=user)
