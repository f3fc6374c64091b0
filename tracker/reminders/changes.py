"""The reminder engine's side of a catalogue change: re-plan the followers, announce a move.

Runs in a worker after the editor's transaction has committed (see
tracker/catalogue/events.py), in chunks of FANOUT_CHUNK followers, each its own transaction
of a few set-based statements. Every write is idempotent (reminders are unique per
subscription, milestone, occurrence and lead time; each notice carries a dedupe key per
change and subscription), so a worker killed mid-way finishes the job on redelivery without
doubling a notice.
"""

from __future__ import annotations

from itertools import islice
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tracker.catalogue.models import Milestone, MilestoneChange
from tracker.outbox import services as outbox
from tracker.outbox.models import Message
from tracker.reminders.emails import DATE_MOVED, subscriber_message
from tracker.reminders.models import Reminder, Subscription
from tracker.reminders.selectors import REMINDABLE_STATUSES, milestone_followers
from tracker.reminders.services import reminder_rows, subscription_flag

FANOUT_CHUNK = 1000


def _chunks(iterable, size: int):
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def announces_move(change: MilestoneChange, milestone: Milestone) -> bool:
    """A move is announced once, by the latest change that moved the date, if it is in force.

    A change already overtaken by a later move says nothing: the later one will.
    """
    return (
        change.date_moved
        and change.new_date == milestone.date
        and milestone.status in REMINDABLE_STATUSES
        and not MilestoneChange.objects.filter(
            milestone_id=milestone.pk, kind=MilestoneChange.Kind.MOVED, pk__gt=change.pk
        ).exists()
    )


def _notice(subscription: Subscription, change: MilestoneChange, milestone: Milestone, now):
    message = subscriber_message(
        DATE_MOVED,
        subscription=subscription,
        context={
            "milestone": milestone,
            "old_date": change.old_date,
            "new_date": milestone.date,
            "amending_act": change.amending_act,
            "source_url": change.source_url or milestone.source_url,
            "milestone_url": settings.SITE_URL + milestone.get_absolute_url(),
        },
        now=now,
    )
    message.dedupe_key = f"moved:{change.pk}:s{subscription.pk}"
    message.topic = f"milestone:{milestone.pk}"
    return message


def _withdraw_untrue(milestone: Milestone, subscription_ids: list[int], change) -> int:
    """Cancel the queued reminder emails that still give the old date of a moved milestone.

    Their other reminders go back to pending, so the next sweep sends them in a fresh email;
    the old date's reminders are dropped (the new plan replaces them). An email a worker
    already holds is not touched: it was on its way before the move.
    """
    held = Reminder.objects.filter(
        milestone=milestone, subscription_id__in=subscription_ids,
        status=Reminder.Status.QUEUED, message__status=Message.Status.QUEUED,
    ).values("message_id")  # fmt: skip
    cancelled = outbox.messages_cancel(
        Message.objects.filter(pk__in=held),
        reason=f"The date of “{milestone.title}” moved (change {change.pk}); re-planned.",
    )
    if cancelled:
        Reminder.objects.filter(message_id__in=cancelled, milestone=milestone).delete()
        Reminder.objects.filter(message_id__in=cancelled).update(
            status=Reminder.Status.PENDING, message=None
        )
    return len(cancelled)


def milestone_change_apply(change: MilestoneChange) -> dict:
    """Re-plan every follower's reminders of the changed milestone; notify them of a move.

    Each chunk replaces its own followers' pending reminders, so a worker killed mid-way
    leaves every follower with either the old plan or the new one, never none. When the date
    moved, queued emails that still give the old date are withdrawn, and so are queued
    notices of an earlier move that this one overtook.
    """
    milestone = Milestone.objects.prefetch_related("roles", "scopes").get(pk=change.milestone_id)
    counts = {"followers": 0, "reminders": 0, "notices": 0, "unfollowed": 0, "withdrawn": 0}
    errors: list[dict] = []
    pending = Reminder.objects.filter(milestone=milestone, status=Reminder.Status.PENDING)
    if milestone.status not in REMINDABLE_STATUSES or milestone.kind == Milestone.Kind.RELATIVE:
        pending.delete()  # withdrawn, superseded or undated: nothing to plan
        return {**counts, "errors": errors}
    announce = announces_move(change, milestone)
    if announce:  # a notice of an earlier move still in the queue would now be untrue
        counts["withdrawn"] += len(outbox.messages_cancel(
            Message.objects.filter(kind=DATE_MOVED, topic=f"milestone:{milestone.pk}").exclude(
                dedupe_key__startswith=f"moved:{change.pk}:"
            ),
            reason=f"Superseded: the date moved again (change {change.pk}).",
        ))  # fmt: skip
    now = timezone.now()
    seen: set[int] = set()
    for chunk in _chunks(milestone_followers(milestone=milestone), FANOUT_CHUNK):
        rows, notices = [], []
        for subscription in chunk:
            try:
                today = now.astimezone(ZoneInfo(subscription.timezone)).date()
                rows += reminder_rows(subscription=subscription, milestone=milestone, today=today)
                if announce and subscription.move_notices:
                    notices.append(_notice(subscription, change, milestone, now))
            except Exception as exc:  # one bad subscription fails alone, recorded and flagged
                errors.append({"subscription": subscription.pk, "error": f"{exc!r}"[:300]})
                subscription_flag(subscription=subscription, problem=exc, now=now)
        ids = [subscription.pk for subscription in chunk]
        seen.update(ids)
        with transaction.atomic():
            if change.date_moved:
                counts["withdrawn"] += _withdraw_untrue(milestone, ids, change)
            pending.filter(subscription_id__in=ids).delete()
            Reminder.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
            queued = outbox.send_many(notices)
        counts["followers"] += len(chunk)
        counts["reminders"] += len(rows)
        counts["notices"] += len(queued)
    # Subscriptions that no longer follow it (its roles or scopes changed) lose its reminders.
    gone = set(pending.values_list("subscription_id", flat=True).distinct()) - seen
    for chunk in _chunks(sorted(gone), 500):
        counts["unfollowed"] += pending.filter(subscription_id__in=chunk).delete()[0]
    return {**counts, "errors": errors}
