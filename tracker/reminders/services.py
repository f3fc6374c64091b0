"""Writes for the reminder engine: planning reminders and the sweep.

The database is the source of truth. A reminder is a row, unique per subscription, milestone
occurrence and lead time, so planning twice is harmless. The sweep groups what is due into
one message per subscriber and hands it to the outbox (tracker/outbox), which sends it once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from itertools import groupby
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tracker.catalogue.models import Milestone
from tracker.outbox import services as outbox
from tracker.outbox.models import Message
from tracker.reminders.emails import (
    DIGEST,
    REMINDERS,
    subscriber_message,
    subscription_stream,
)
from tracker.reminders.models import Digest, Reminder, Subscription
from tracker.reminders.selectors import (
    digest_day_on_or_after,
    digest_items,
    reminders_planned,
    subscription_milestones,
)

log = logging.getLogger(__name__)

SWEEP_BATCH = 100  # subscribers; small batches: workers send while the next one is rendered


def due_at_for(*, subscription: Subscription, day: dt.date) -> dt.datetime:
    """The instant `day` at the subscriber's local hour, always on that local day.

    An hour that happens twice (clocks back) means its first occurrence. An hour that does not
    exist (clocks forward) means the first instant after the gap; when the gap ends the day
    (America/Nuuk, 23:00 on the last Saturday of March), the last instant before it, so the
    reminder keeps its day.
    """
    zone = ZoneInfo(subscription.timezone)
    local = dt.datetime.combine(day, dt.time(subscription.send_hour), zone)
    instant = local.astimezone(dt.UTC)
    if instant.astimezone(zone).date() != day:
        end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), zone)
        instant = end_of_day.replace(fold=1).astimezone(dt.UTC) - dt.timedelta(seconds=1)
    return instant


def reminder_rows(
    *, subscription: Subscription, milestone: Milestone, today: dt.date,
    now: dt.datetime | None = None,
) -> list[Reminder]:  # fmt: skip
    """The unsaved reminders still ahead for one subscription and one milestone.

    A "coming up" reminder (lead times already missed when planning first saw the deadline)
    is due at once, `now`: the next sweep sends it.
    """
    now = now or timezone.now()
    return [
        Reminder(
            subscription=subscription,
            milestone=milestone,
            occurrence=planned.occurrence,
            lead_days=planned.lead_days,
            due_at=now
            if planned.coming_up
            else due_at_for(subscription=subscription, day=planned.day),
        )
        for planned in reminders_planned(
            subscription=subscription, milestone=milestone, today=today
        )
    ]


def digest_plan(*, subscription: Subscription, today: dt.date) -> int:
    """The subscriber's next weekly digest (this week's if its day has not passed); 1 if new.

    Unique per subscriber and week: the daily walk plans it again harmlessly.
    """
    if subscription.status != Subscription.Status.ACTIVE or not subscription.weekly_digest:
        return 0
    week = digest_day_on_or_after(today)
    if Digest.objects.filter(subscription=subscription, week=week).exists():
        return 0
    digest = Digest(
        subscription=subscription, week=week, due_at=due_at_for(subscription=subscription, day=week)
    )
    # A racing planner may store it first: the unique constraint keeps one.
    Digest.objects.bulk_create([digest], ignore_conflicts=True)
    return 1


def reminders_plan(
    *, subscription: Subscription, today: dt.date, only: list[int] | None = None,
    now: dt.datetime | None = None,
) -> int:  # fmt: skip
    """Create the reminders still ahead for an active subscription; returns how many are new.

    `only` limits planning to some milestones. A weekly digest subscriber gets its next
    digest planned instead.
    """
    if subscription.status != Subscription.Status.ACTIVE:
        return 0
    if subscription.weekly_digest:
        return digest_plan(subscription=subscription, today=today)
    milestones = subscription_milestones(subscription=subscription)
    if only is not None:
        milestones = milestones.filter(pk__in=only)
    rows = []
    for milestone in milestones:
        rows += reminder_rows(subscription=subscription, milestone=milestone, today=today,
                              now=now)  # fmt: skip
    if not rows:
        return 0
    # One read of the keys already planned, one INSERT of the others: the same two
    # statements however many milestones and reminders (no COUNT of the table).
    planned = set(
        Reminder.objects.filter(
            subscription=subscription, milestone_id__in={r.milestone_id for r in rows}
        ).values_list("milestone_id", "occurrence", "lead_days")
    )
    fresh = [r for r in rows if (r.milestone_id, r.occurrence, r.lead_days) not in planned]
    # A racing planner may store some first: the unique constraint keeps one of each.
    Reminder.objects.bulk_create(fresh, ignore_conflicts=True)
    return len(fresh)


def subscription_flag(*, subscription: Subscription, problem: Exception | str, now) -> None:
    """Set a subscription aside with the reason, where the admin sees it; the sweep and the
    planning skip it until an admin corrects it (saving it in the admin clears the flag)."""
    text = problem if isinstance(problem, str) else f"{type(problem).__name__}: {problem}"
    log.warning("subscription %s set aside: %s", subscription.pk, text)
    Subscription.objects.filter(pk=subscription.pk).update(problem=text[:500], problem_at=now)


def reminders_plan_all(*, now: dt.datetime) -> int:
    """Plan every active subscription again (idempotent); returns how many reminders are new.

    This is the daily horizon walk, not the sweep: its cost follows the subscriptions, which
    is why it runs once a day and the minute-by-minute sweep never does it.
    """
    created = 0
    active = Subscription.objects.filter(
        status=Subscription.Status.ACTIVE, problem=""
    ).prefetch_related("roles", "scopes")
    for subscription in active.iterator(chunk_size=500):
        try:
            with transaction.atomic():
                today = now.astimezone(ZoneInfo(subscription.timezone)).date()
                created += reminders_plan(subscription=subscription, today=today, now=now)
        except Exception as exc:  # one bad subscription fails alone
            subscription_flag(subscription=subscription, problem=exc, now=now)
    return created


@dataclass
class SweepReport:
    """What one sweep did."""

    recovered: int = 0
    skipped: int = 0
    flagged: int = 0
    full: bool = False
    message_ids: list[int] = field(default_factory=list)


@transaction.atomic
def reminders_sweep(*, now: dt.datetime, batch: int = SWEEP_BATCH) -> SweepReport:
    """Turn the reminders that are due into messages, one per subscriber.

    Claims subscribers, not reminders: at most `batch` subscribers with something due, their
    rows locked (an overlapping sweep skips them and takes the next ones), then every due
    reminder of each, so a subscriber's day is always one email however sweeps overlap. Reads
    only due rows (a partial index on pending reminders), so its cost follows what is due, not
    how many subscriptions exist. `report.full` says more may wait.
    """
    report = SweepReport(recovered=outbox.messages_recover(now))
    pending_due = Reminder.objects.filter(status=Reminder.Status.PENDING, due_at__lte=now)
    claimed = list(
        Subscription.objects.select_for_update(skip_locked=True)
        .filter(problem="", pk__in=pending_due.values("subscription_id"))
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    )
    due = list(
        pending_due.select_for_update(of=("self",))  # ours alone: no other sweep claimed them
        .filter(subscription_id__in=claimed)
        .select_related("subscription", "milestone")
        .order_by("subscription_id", "occurrence", "milestone_id")
    )
    groups = [list(group) for _, group in groupby(due, key=lambda r: r.subscription_id)]
    report.full = len(claimed) == batch
    skipped, cancelled, queued, messages = [], [], [], []
    shared: dict = {}  # each distinct email of the batch rendered once
    for reminders in groups:
        subscription = reminders[0].subscription
        try:
            today = now.astimezone(ZoneInfo(subscription.timezone)).date()
            live = [r for r in reminders if r.occurrence >= today]
            if live and subscription.status == Subscription.Status.ACTIVE:
                message = message_for_reminders(
                    subscription=subscription, reminders=live, today=today, now=now,
                    shared=shared,
                )  # fmt: skip
        except Exception as exc:  # one bad subscription fails alone, flagged for the admin
            subscription_flag(subscription=subscription, problem=exc, now=now)
            report.flagged += 1
            continue
        skipped += [r for r in reminders if r.occurrence < today]
        if not live:
            continue
        if subscription.status != Subscription.Status.ACTIVE:
            cancelled += live
            continue
        messages.append(message)
        queued.append(live)
    outbox.send_many(messages, dispatch=False)  # the sweep task dispatches what is ready
    _rows_queue(
        Reminder, {r.pk: m.pk for m, group in zip(messages, queued, strict=True) for r in group}
    )
    Reminder.objects.filter(pk__in=[r.pk for r in skipped]).update(status=Reminder.Status.SKIPPED)
    Reminder.objects.filter(pk__in=[r.pk for r in cancelled]).update(
        status=Reminder.Status.CANCELLED
    )
    report.skipped = len(skipped)
    report.message_ids = [m.pk for m in messages]
    return report


def _rows_queue(model, message_of: dict[int, int]) -> None:
    """Mark reminders (or digests) queued, each with its message, in one UPDATE for the batch.

    Written as SQL: Django's bulk_update builds the same CASE through expression objects,
    which cost more in Python (0.28 s per 500) than one small UPDATE per message.
    """
    if not message_of:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    cases = " ".join(["WHEN %s THEN %s"] * len(message_of))
    marks = ", ".join(["%s"] * len(message_of))
    # Only the quoted table name and placeholders are interpolated.
    sql = (
        f"UPDATE {table} SET status = %s, message_id = CASE id {cases} END "  # noqa: S608
        f"WHERE id IN ({marks})"
    )
    params = [model.Status.QUEUED]
    for pair in message_of.items():
        params += pair
    params += list(message_of)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def message_for_reminders(
    *, subscription: Subscription, reminders: list[Reminder], today: dt.date, now: dt.datetime,
    shared: dict | None = None,
) -> Message:  # fmt: skip
    """One digest (unsaved) for every reminder of a subscriber due in this sweep.

    `shared`: a dict kept for one sweep batch, so that subscribers reminded of the same
    deadlines on the same day share one rendering (see emails._rendered).
    """
    # One line per milestone occurrence, even when several lead times fell due together
    # (after an outage, the 30-day and 7-day reminders of the same deadline).
    items = []
    ordered = sorted(reminders, key=lambda r: (r.occurrence, r.milestone.title, r.milestone_id))
    for (_, _, _), group in groupby(
        ordered, key=lambda r: (r.occurrence, r.milestone.title, r.milestone_id)
    ):
        group = list(group)
        first = group[0]
        days_left = (first.occurrence - today).days
        targeted = str(first.milestone_id) in subscription.targets
        # Planned after its lead day (the subscription came later): "coming up", not late.
        zone = ZoneInfo(subscription.timezone)
        coming_up = any(
            r.due_at.astimezone(zone).date() > r.occurrence - dt.timedelta(days=r.lead_days)
            for r in group
        )
        items.append(
            {
                "milestone": first.milestone,
                "occurrence": first.occurrence,
                # Counting down to the person's target date: say the legal date too.
                "legal_date": first.milestone.date if targeted else None,
                "days_left": days_left,
                "late": not coming_up and days_left < min(r.lead_days for r in group),
                "coming_up": coming_up,
                "url": _milestone_url(first.milestone, shared),
            }
        )
    return subscriber_message(
        REMINDERS,
        subscription=subscription,
        context={"subscription": subscription, "items": items},
        now=now,
        shared=shared,
        share_key=tuple(_item_key(item) for item in items),
    )


def _milestone_url(milestone: Milestone, shared: dict | None) -> str:
    """A milestone's absolute URL, resolved once per batch."""
    if shared is None:
        return settings.SITE_URL + milestone.get_absolute_url()
    key = ("url", milestone.pk)
    if key not in shared:
        shared[key] = settings.SITE_URL + milestone.get_absolute_url()
    return shared[key]


def _item_key(item: dict) -> tuple:
    """Everything a reminder email's templates read from one item."""
    milestone = item["milestone"]
    return (
        milestone.pk, milestone.title, milestone.legal_basis, milestone.source_url,
        item["occurrence"], item["legal_date"], item["days_left"], item["late"],
        item["coming_up"], item["url"],
    )  # fmt: skip


@transaction.atomic
def digests_sweep(*, now: dt.datetime, batch: int = SWEEP_BATCH) -> list[int]:
    """Turn the weekly digests that are due into messages; returns their ids.

    Reads only due rows (a partial index on pending digests), skipping locked ones, like the
    reminder sweep. A digest with nothing to list is recorded as empty and sends nothing.
    """
    due = list(
        Digest.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=Digest.Status.PENDING, due_at__lte=now, subscription__problem="")
        .select_related("subscription")
        .order_by("due_at", "pk")[:batch]
    )
    outcome: dict[str, list[int]] = {status: [] for status in Digest.Status.values}
    messages, queued = [], []
    for digest in due:
        subscription = digest.subscription
        if subscription.status != Subscription.Status.ACTIVE or not subscription.weekly_digest:
            outcome[Digest.Status.CANCELLED].append(digest.pk)
            continue
        try:
            message = message_for_digest(subscription=subscription, week=digest.week, now=now)
        except Exception as exc:  # one bad subscription fails alone, flagged for the admin
            subscription_flag(subscription=subscription, problem=exc, now=now)
            continue
        if message is None:
            outcome[Digest.Status.EMPTY].append(digest.pk)
            continue
        messages.append(message)
        queued.append(digest)
    stored = {m.dedupe_key: m for m in outbox.send_many(messages, dispatch=False)}
    _rows_queue(Digest, {
        digest.pk: getattr(stored.get(message.dedupe_key), "pk", None)
        for digest, message in zip(queued, messages, strict=True)
    })  # fmt: skip
    for status, ids in outcome.items():
        if ids:
            Digest.objects.filter(pk__in=ids).update(status=status)
    return [m.pk for m in stored.values()]


def message_for_digest(
    *, subscription: Subscription, week: dt.date, now: dt.datetime
) -> Message | None:
    """The weekly digest (unsaved), or None when nothing falls due within the lead times."""
    today = now.astimezone(ZoneInfo(subscription.timezone)).date()
    milestones = subscription_milestones(subscription=subscription).select_related("regulation")
    items = [
        {
            "milestone": item.milestone,
            "occurrence": item.occurrence,
            "days_left": item.days_left,
            "url": settings.SITE_URL + item.milestone.get_absolute_url(),
        }
        for item in digest_items(subscription=subscription, milestones=milestones, today=today)
    ]
    if not items:
        return None
    message = subscriber_message(
        DIGEST,
        subscription=subscription,
        context={"subscription": subscription, "items": items, "week": week},
        now=now,
    )
    message.dedupe_key = f"digest:{subscription.pk}:{week.isoformat()}"
    return message


@transaction.atomic
def subscription_unsubscribe(*, subscription: Subscription) -> None:
    """Stop everything for this subscription at once; repeating it is harmless."""
    if subscription.status == Subscription.Status.UNSUBSCRIBED:
        return
    Subscription.objects.filter(pk=subscription.pk).update(
        status=Subscription.Status.UNSUBSCRIBED, unsubscribed_at=timezone.now()
    )
    # Deleted, not cancelled: subscribing again plans the same reminders afresh.
    subscription.reminders.filter(status=Reminder.Status.PENDING).delete()
    subscription.digests.filter(status=Digest.Status.PENDING).delete()
    outbox.messages_cancel(
        Message.objects.filter(stream=subscription_stream(subscription)),
        reason="The recipient unsubscribed.",
    )
