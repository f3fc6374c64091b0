"""What the workspace tells people by email: owners' deadline reminders (asked of the reminder
engine), a weekly digest of overdue items, daily incident-clock reminders, and moved dates.

Everything goes out through the outbox. Periodic emails carry a dedupe key (owner and week,
incident and day, item and change), so planning one twice is harmless; the reminder sweep
dispatches them like any other message. Each recurring kind can be stopped from its own
List-Unsubscribe link (see mail_settings.py). One incident or item that cannot be written
fails alone, recorded as a failed message the admin sees.
"""

from __future__ import annotations

import datetime as dt
from itertools import groupby

from django.conf import settings
from django.db.models import Exists, Min, OuterRef
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from tracker.accounts.verification import email_verified, verified_filter
from tracker.catalogue.models import Milestone, MilestoneChange
from tracker.outbox import services as outbox
from tracker.outbox.models import Message
from tracker.reminders.emails import automatic_headers, render_plain, unsubscribe_headers
from tracker.reminders.personal import personal_follow
from tracker.workspace.clocks import report_periods
from tracker.workspace.mail_settings import (
    owner_key,
    settings_url,
    stop_url,
    turned_off,
)
from tracker.workspace.models import Incident, Membership, OwnerReminders, TrackedItem

OPEN = list(TrackedItem.OPEN)

# The kinds of email the workspace sends (its own labels in the outbox).
OVERDUE_DIGEST = "overdue_digest"
INCIDENT_CLOCK = "incident_clock"
ITEM_MOVED = "item_moved"
INVITATION = "invitation"
INCIDENT_RECORDED = "incident_recorded"


def workspace_message(
    kind: str, *, to_email: str, context: dict, now: dt.datetime, key: str | None = None,
    stop: dict | None = None, topic: str = "",
):  # fmt: skip
    """An unsaved outbox message rendered from templates/workspace/email/<kind>_*.txt.

    `stop` ({"user_id", "organisation_id", "organisation"}) makes it list mail: a footer with
    the person's settings and a link that stops this kind, and the RFC 8058 headers.
    """
    headers = automatic_headers("en")
    if stop is not None:
        context = {
            **context,
            "stop_url": stop_url(
                kind=kind, user_id=stop["user_id"], organisation_id=stop["organisation_id"]
            ),
            "settings_url": settings_url(stop["organisation"]),
        }
        headers |= unsubscribe_headers(context["stop_url"])
    base = f"workspace/email/{kind}"
    return outbox.message(
        to=to_email, kind=kind, dedupe_key=key, at=now, topic=topic,
        subject=render_plain(f"{base}_subject.txt", context),
        text=render_plain(f"{base}_body.txt", context),
        headers=headers,
    )  # fmt: skip


def _queue(messages) -> int:
    """Store the messages not stored before; the sweep sends them."""
    return len(outbox.send_many(messages, dispatch=False))


def owner_reminders_sync(*, organisation, user) -> None:
    """Ask the reminder engine to remind the person of the open items they own here, counting
    down to their target date where they set one (the earliest, if several items share a
    milestone). Only to a verified address: until the person proves it, nothing is followed
    (verifying it later syncs again, see receivers.py)."""
    if not email_verified(user):
        personal_follow(
            key=owner_key(organisation_id=organisation.pk, user_id=user.pk),
            email=user.email,
            targets={},
            manage_url=settings_url(organisation),
        )
        return
    rows = (
        TrackedItem.objects.tracked()
        .filter(organisation=organisation, owner=user, status__in=OPEN)
        .values("milestone_id")
        .annotate(target=Min("target_date"))
    )
    personal_follow(
        key=owner_key(organisation_id=organisation.pk, user_id=user.pk),
        email=user.email,
        targets={row["milestone_id"]: row["target"] for row in rows},
        manage_url=settings_url(organisation),
    )


def overdue_digests(*, now: dt.datetime) -> int:
    """One email a week to each owner with overdue open items, until they are done (owners
    with a verified address only)."""
    today = timezone.localdate(now)
    year, week, _ = today.isocalendar()
    items = (
        TrackedItem.objects.tracked().overdue(today)
        .filter(owner__isnull=False)
        .annotate(due=Coalesce("target_date", "milestone__date"))
        .filter(verified_filter("owner__"))
        .exclude(turned_off(OVERDUE_DIGEST, organisation_ref="organisation_id",
                            user_ref="owner_id"))
        .select_related("milestone", "organisation", "owner", "obligation")
        .order_by("owner_id", "due")
    )  # fmt: skip
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
        stop = {"user_id": owner.pk, "organisation_id": None, "organisation": group[0].organisation}
        try:
            messages.append(workspace_message(
                OVERDUE_DIGEST, to_email=owner.email, key=f"overdue:{owner.pk}:{year}-W{week:02d}",
                context=context, now=now, stop=stop,
            ))  # fmt: skip
        except Exception as exc:  # one owner's digest fails alone, where the admin sees it
            outbox.failure_record(
                to=owner.email, kind=OVERDUE_DIGEST, what=f"overdue digest for {owner}",
                error=exc, dedupe_key=f"overdue:{owner.pk}:{year}-W{week:02d}",
            )  # fmt: skip
    return _queue(messages)


def incident_reminders(*, now: dt.datetime) -> int:
    """Every day until an incident is marked reported, remind its owner and the organisation's
    owners of the deadline, counted where the incident occurred (the catalogue's periods are
    read once per run). One email per person per incident per day; an incident without an owner
    (or whose owner left) still reaches the organisation's owners. A fixed number of queries.

    An incident that cannot be written (a date the clock cannot count from, say) fails alone:
    it is recorded as a failed message with its error, and every other incident is served.
    """
    today = timezone.localdate(now)
    periods = report_periods()
    open_incidents = list(
        Incident.objects.filter(reported_at=None)
        .annotate(owner_is_member=_owner_is_member())
        .select_related("owner__email_verification", "system", "organisation")
        .order_by("pk")
    )
    organisation_ids = {incident.organisation_id for incident in open_incidents}
    owners = _organisation_owners(organisation_ids)
    stopped = set(
        OwnerReminders.objects.filter(
            organisation_id__in=organisation_ids, incident_clock=False
        ).values_list("organisation_id", "user_id")
    )
    messages = []
    for incident in open_incidents:
        recipients = [
            person for person in _incident_recipients(incident, owners)
            if (incident.organisation_id, person.pk) not in stopped
        ]  # fmt: skip
        if not recipients:
            continue
        try:
            clock = incident.clock(periods=periods)
            context = {
                "incident": incident,
                "clock": clock,
                "hours_left": clock.hours_left(now),
                "url": _incidents_url(incident),
            }
            written = [
                workspace_message(
                    INCIDENT_CLOCK, to_email=person.email, now=now,
                    key=_clock_key(incident, today, person),
                    context={**context, "recipient": person,
                             "owns_it": person.pk == incident.owner_id},
                    stop={"user_id": person.pk, "organisation_id": incident.organisation_id,
                          "organisation": incident.organisation},
                    topic=f"incident:{incident.pk}",
                )
                for person in recipients
            ]  # fmt: skip
        except Exception as exc:  # the whole incident fails alone, once, where the admin sees it
            outbox.failure_record(
                to=recipients[0].email, kind=INCIDENT_CLOCK, error=exc,
                dedupe_key=_clock_key(incident, today, recipients[0]),
                what=f"incident #{incident.pk} reminder ({incident.organisation.name})",
                topic=f"incident:{incident.pk}",
            )  # fmt: skip
            continue
        messages.extend(written)
    return _queue(messages)


def items_flag_moved_milestone(*, change: MilestoneChange, milestone: Milestone) -> dict:
    """Flag every organisation's open items for a moved milestone and tell each owner once.

    Set-based: one UPDATE flags the items, the notices (one per owner and organisation, listing
    their items) are written in one statement with a dedupe key per owner, organisation and
    change, so running it again sends nothing twice. Notices still
    queued about an earlier move of the same milestone are cancelled: they are no longer true.
    """
    items = TrackedItem.objects.filter(milestone=milestone, status__in=OPEN)
    flagged = items.update(changed_in_catalogue=True)
    now = timezone.now()
    messages, errors = [], []
    owned = (
        items.filter(owner__isnull=False).filter(verified_filter("owner__"))
        .exclude(turned_off(ITEM_MOVED, organisation_ref="organisation_id", user_ref="owner_id"))
        .select_related("owner", "organisation", "obligation")
        .order_by("owner_id", "organisation_id", "pk")
    )  # fmt: skip
    topic = f"milestone:{milestone.pk}"
    # One email per owner and organisation, listing every duty of theirs with this date.
    for (owner_id, organisation_id), group in groupby(
        owned, key=lambda item: (item.owner_id, item.organisation_id)
    ):
        group = list(group)
        item = group[0]
        key = f"moved:{change.pk}:o{organisation_id}:u{owner_id}"
        try:
            messages.append(workspace_message(
                ITEM_MOVED, to_email=item.owner.email, key=key,
                context={"item": item, "items": group, "milestone": milestone,
                         "old_date": change.old_date,
                         "url": settings.SITE_URL + reverse(
                             "workspace:item",
                             kwargs={"slug": item.organisation.slug, "pk": item.pk})},
                now=now, topic=topic,
                stop={"user_id": owner_id, "organisation_id": organisation_id,
                      "organisation": item.organisation},
            ))  # fmt: skip
        except Exception as exc:  # one owner's bad data fails alone, recorded on the receipt
            errors.append({"items": [one.pk for one in group], "error": f"{exc!r}"[:300]})
    superseded = outbox.messages_cancel(
        Message.objects.filter(kind=ITEM_MOVED, topic=topic).exclude(
            dedupe_key__startswith=f"moved:{change.pk}:"
        ),
        reason=f"Superseded: the date moved again (change {change.pk}).",
    )
    return {"flagged": flagged, "notices": _queue(messages), "errors": errors,
            "superseded": len(superseded)}  # fmt: skip


# Incidents: who hears of them ------------------------------------------------------------------


def _owner_is_member() -> Exists:
    """For an Incident queryset: is its owner still a member of its organisation?"""
    return Exists(
        Membership.objects.filter(
            organisation_id=OuterRef("organisation_id"), user_id=OuterRef("owner_id")
        )
    )


def _organisation_owners(organisation_ids) -> dict[int, list]:
    """The owners (users) of each organisation, in one query."""
    owners: dict[int, list] = {}
    memberships = (
        Membership.objects.filter(organisation_id__in=organisation_ids, role=Membership.Role.OWNER)
        .select_related("user__email_verification")
        .order_by("organisation_id", "pk")
    )
    for membership in memberships:
        owners.setdefault(membership.organisation_id, []).append(membership.user)
    return owners


def _incident_recipients(incident: Incident, owners: dict[int, list]) -> list:
    """Who hears an incident's clock: its owner while a member, then the organisation's owners;
    each person once, and only those with a verified address."""
    people = []
    if incident.owner is not None and getattr(incident, "owner_is_member", True):
        people.append(incident.owner)
    people.extend(owners.get(incident.organisation_id, []))
    seen: set[int] = set()
    recipients = []
    for person in people:
        if person.pk not in seen and email_verified(person):
            seen.add(person.pk)
            recipients.append(person)
    return recipients


def _clock_key(incident: Incident, day: dt.date, person) -> str:
    """The daily reminder's dedupe key: the owner keeps the key it always had, so a day that
    was already sent before organisation owners were added is not sent again."""
    key = f"incident:{incident.pk}:{day}"
    return key if person.pk == incident.owner_id else f"{key}:u{person.pk}"


def _incidents_url(incident: Incident) -> str:
    return settings.SITE_URL + reverse(
        "workspace:incidents", kwargs={"slug": incident.organisation.slug}
    )


def incident_notify_recorded(*, incident: Incident, by=None) -> int:
    """Tell the incident's owner and the organisation's owners at once that it was recorded,
    with its deadline: queued in the caller's transaction, handed to a worker after commit,
    once per person (a retry sends nothing twice). The number queued."""
    owners = _organisation_owners([incident.organisation_id])
    return _incident_notice(incident, _incident_recipients(incident, owners), by=by, assigned=False)


def incident_notify_assigned(*, incident: Incident, by=None) -> int:
    """Tell a new owner at once that the incident is now theirs (once per person)."""
    owner = incident.owner
    return _incident_notice(
        incident,
        [owner] if owner is not None and email_verified(owner) else [],
        by=by,
        assigned=True,
    )


def _incident_notice(incident: Incident, recipients: list, *, by, assigned: bool) -> int:
    if not recipients:
        return 0
    now = timezone.now()
    prefix = "incident-owner" if assigned else "incident-recorded"
    messages = []
    try:
        clock = incident.clock()
        context = {
            "incident": incident, "clock": clock, "hours_left": clock.hours_left(now),
            "by": by, "assigned": assigned, "url": _incidents_url(incident),
            "settings_url": settings_url(incident.organisation),
        }  # fmt: skip
        for person in recipients:
            messages.append(workspace_message(
                INCIDENT_RECORDED, to_email=person.email, now=now, topic=f"incident:{incident.pk}",
                key=f"{prefix}:{incident.pk}:u{person.pk}",
                context={**context, "recipient": person, "owns_it": person.pk == incident.owner_id},
            ))  # fmt: skip
    except Exception as exc:  # recording the incident never fails for its email
        for person in recipients:
            outbox.failure_record(
                to=person.email, kind=INCIDENT_RECORDED, error=exc,
                dedupe_key=f"{prefix}:{incident.pk}:u{person.pk}",
                what=f"incident #{incident.pk} notice ({incident.organisation.name})",
                topic=f"incident:{incident.pk}",
            )  # fmt: skip
        return 0
    return len(outbox.send_many(messages))


def incident_reminders_withdraw(*, incident: Incident) -> list[int]:
    """Cancel the reminders of a reported incident still waiting in the queue: they are no
    longer true (never one a worker already holds)."""
    return outbox.messages_cancel(
        Message.objects.filter(kind=INCIDENT_CLOCK, topic=f"incident:{incident.pk}"),
        reason="Not sent: the incident was marked reported.",
    )
