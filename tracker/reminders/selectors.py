"""Reads for the reminder engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby

from django.db.models import Exists, OuterRef, Q, QuerySet

from tracker.catalogue.models import (
    ALL_SYSTEMS_SCOPE,
    EVERY_OPERATOR_ROLE,
    LIVE_STATUSES,
    Milestone,
    Regulation,
)
from tracker.catalogue.selectors import milestones_of_roles, milestones_of_scopes
from tracker.reminders.models import DIGEST_WEEKDAY, Subscription

# Statuses whose dates subscribers are reminded of; superseded or withdrawn dates are not.
REMINDABLE_STATUSES = list(LIVE_STATUSES)
OCCURRENCES_AHEAD = 3


def subscription_milestones(*, subscription: Subscription) -> QuerySet[Milestone]:
    """The dated milestones a subscription follows: its filter, plus the ones chosen by hand."""
    wanted = Q(pk__in=subscription.milestones.order_by().values("pk"))
    if subscription.regulation_id:
        followed = Milestone.objects.filter(regulation_id=subscription.regulation_id)
        role_ids = [r.pk for r in subscription.roles.all()]
        scope_ids = [s.pk for s in subscription.scopes.all()]
        if role_ids:
            followed = milestones_of_roles(followed, role_ids)
        if scope_ids:
            followed = milestones_of_scopes(followed, scope_ids)
        if subscription.categories:
            followed = followed.filter(category__in=subscription.categories)
        wanted |= Q(pk__in=followed.order_by().values("pk"))
    return (
        Milestone.objects.filter(wanted)
        .exclude(kind=Milestone.Kind.RELATIVE)
        .filter(status__in=REMINDABLE_STATUSES)
    )


def milestone_followers(*, milestone: Milestone) -> Iterator[Subscription]:
    """Active subscriptions that follow a milestone, by choice or through their filter.

    One streamed query, whatever the number of subscriptions: roles and scopes are matched in
    SQL; the category list (JSON, which SQLite cannot search) is checked on each row.
    """
    chosen = Subscription.milestones.through.objects.filter(
        subscription_id=OuterRef("pk"), milestone_id=milestone.pk
    )
    any_role = Subscription.roles.through.objects.filter(subscription_id=OuterRef("pk"))
    any_scope = Subscription.scopes.through.objects.filter(subscription_id=OuterRef("pk"))
    roles, scopes = list(milestone.roles.all()), list(milestone.scopes.all())
    # A milestone for every operator (or every AI system) matches any role (scope) filter
    by_role = (
        Q()
        if any(r.key == EVERY_OPERATOR_ROLE for r in roles)
        else (~Exists(any_role) | Exists(any_role.filter(role_id__in=[r.pk for r in roles])))
    )
    by_scope = (
        Q()
        if any(s.key == ALL_SYSTEMS_SCOPE for s in scopes)
        else (~Exists(any_scope) | Exists(any_scope.filter(scope_id__in=[s.pk for s in scopes])))
    )
    by_filter = Q(regulation_id=milestone.regulation_id) & by_role & by_scope
    candidates = (
        Subscription.objects.filter(status=Subscription.Status.ACTIVE)
        .annotate(chosen=Exists(chosen))
        .filter(Q(chosen=True) | by_filter)
        .order_by("pk")
    )
    for subscription in candidates.iterator(chunk_size=2000):
        if (
            subscription.chosen
            or not subscription.categories
            or milestone.category in subscription.categories
        ):
            yield subscription


# Planning rule ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedReminder:
    """One reminder a subscription would get: this occurrence, this lead time, on this day.

    `coming_up` marks the reminder that stands in for the lead times already missed when the
    subscription started (a deadline 3 days away with lead times 30, 7, 1 gets its 7-day
    reminder at once, then the 1-day one as usual). It keeps the missed lead time, so the
    reminder row's unique key (subscription, milestone, occurrence, lead time) makes any
    later planning of it harmless.
    """

    occurrence: dt.date
    lead_days: int
    day: dt.date
    coming_up: bool = False


def occurrences_followed(
    *, subscription: Subscription, milestone: Milestone, today: dt.date
) -> list[dt.date]:
    """The deadlines a subscription is reminded of: the milestone's next occurrences, or the
    person's own target date for it (personal reminders)."""
    if target := subscription.targets.get(str(milestone.pk)):
        return [dt.date.fromisoformat(target)]
    return milestone.occurrences(start=today, count=OCCURRENCES_AHEAD)


def reminders_planned(
    *, subscription: Subscription, milestone: Milestone, today: dt.date
) -> list[PlannedReminder]:
    """The reminders still ahead for one subscription and one milestone (none for a weekly
    digest subscriber: the digest replaces them)."""
    if subscription.weekly_digest:
        return []
    planned = []
    for occurrence in occurrences_followed(
        subscription=subscription, milestone=milestone, today=today
    ):
        days = {lead: occurrence - dt.timedelta(days=lead) for lead in subscription.lead_days}
        ahead = [lead for lead, day in days.items() if day >= today]
        missed = [lead for lead, day in days.items() if day < today]
        planned += [PlannedReminder(occurrence, lead, days[lead]) for lead in ahead]
        if missed and not any(days[lead] == today for lead in ahead):
            planned.append(PlannedReminder(occurrence, min(missed), today, coming_up=True))
    return planned


# What pages offer and summarise -----------------------------------------------------------


@dataclass(frozen=True)
class PickerEntry:
    milestone: Milestone
    next_date: dt.date

    @property
    def search_text(self) -> str:
        m = self.milestone
        return " ".join([m.title, m.legal_basis, m.get_category_display(), m.regulation.short_name,
                         m.key]).lower()  # fmt: skip


@dataclass(frozen=True)
class PickerGroup:
    label: str
    entries: list[PickerEntry]


@dataclass(frozen=True)
class PickerRegulation:
    regulation: Regulation
    groups: list[PickerGroup]

    @property
    def count(self) -> int:
        return sum(len(group.entries) for group in self.groups)


def milestones_offered() -> QuerySet[Milestone]:
    """What a subscriber may pick one by one: dated milestones whose date is still live
    (whether one still lies ahead is checked against a day: see `milestone_picker`)."""
    return (
        Milestone.objects.exclude(kind=Milestone.Kind.RELATIVE)
        .filter(status__in=REMINDABLE_STATUSES)
        .select_related("regulation")
    )


def milestone_picker(*, today: dt.date) -> list[PickerRegulation]:
    """The subscribe picker: milestones with a date still ahead, at their next date, grouped
    by regulation and category. One query, whatever the number of milestones."""
    order = {value: n for n, value in enumerate(Milestone.Category.values)}
    entries = []
    for milestone in milestones_offered().order_by():
        if (upcoming := milestone.next_date(today)) is not None:
            entries.append(PickerEntry(milestone, upcoming))
    entries.sort(key=lambda e: (e.milestone.regulation.short_name.lower(),
                                e.milestone.regulation_id, order[e.milestone.category],
                                e.next_date, e.milestone.title))  # fmt: skip
    picker = []
    for _, by_regulation in groupby(entries, key=lambda e: e.milestone.regulation_id):
        by_regulation = list(by_regulation)
        groups = [
            PickerGroup(label=group[0].milestone.get_category_display(), entries=group)
            for group in (
                list(g) for _, g in groupby(by_regulation, key=lambda e: e.milestone.category)
            )
        ]
        picker.append(PickerRegulation(regulation=by_regulation[0].milestone.regulation,
                                       groups=groups))  # fmt: skip
    return picker


@dataclass(frozen=True)
class SubscriptionSummary:
    """What a subscription follows and when it next hears from Jalon."""

    followed: int
    next_day: dt.date | None = None
    next_titles: list[str] = field(default_factory=list)
    weekly_digest: bool = False

    @property
    def next_title(self) -> str:
        return self.next_titles[0] if self.next_titles else ""

    @property
    def others(self) -> int:
        return max(len(self.next_titles) - 1, 0)


def subscription_summary(*, subscription: Subscription, today: dt.date) -> SubscriptionSummary:
    """What "You follow 16 deadlines; the next reminder is on 4 June 2027 about ..." says.

    Counted from the catalogue and the planning rule (so it reads the same before the
    subscription is confirmed, in the confirmation email), in three queries whatever the
    number of milestones: roles, scopes, the followed milestones. A weekly digest
    subscriber's next email is the next digest that has something to list.
    """
    followed = []
    upcoming: list[tuple[dt.date, str]] = []
    milestones = subscription_milestones(subscription=subscription).order_by()
    for milestone in milestones:
        if milestone.next_date(today) is None:
            continue
        followed.append(milestone)
        for planned in reminders_planned(
            subscription=subscription, milestone=milestone, today=today
        ):
            # Once active, a "coming up" reminder went out at confirmation: not a next one.
            if planned.coming_up and subscription.status == Subscription.Status.ACTIVE:
                continue
            upcoming.append((planned.day, milestone.title))
    if subscription.weekly_digest:
        day = first_digest_day(subscription=subscription, milestones=followed, today=today)
        if day is None:
            return SubscriptionSummary(len(followed), weekly_digest=True)
        items = digest_items(subscription=subscription, milestones=followed, today=day)
        titles = [item.milestone.title for item in items]
        return SubscriptionSummary(len(followed), day, titles, weekly_digest=True)
    if not upcoming:
        return SubscriptionSummary(len(followed))
    first = min(day for day, _ in upcoming)
    titles = sorted({title for day, title in upcoming if day == first})
    return SubscriptionSummary(len(followed), first, titles)


# The weekly digest -------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestItem:
    milestone: Milestone
    occurrence: dt.date
    days_left: int


def digest_week(day: dt.date) -> dt.date:
    """The digest day of the week `day` falls in: what makes a digest unique per week."""
    return day - dt.timedelta(days=(day.weekday() - DIGEST_WEEKDAY) % 7)


def digest_day_on_or_after(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=(DIGEST_WEEKDAY - day.weekday()) % 7)


def digest_items(
    *, subscription: Subscription, milestones: Iterable[Milestone], today: dt.date
) -> list[DigestItem]:
    """What a digest on `today` lists: every followed deadline from today until the longest
    lead time ahead (with lead times 90, 30, 7, 1, the coming 90 days), soonest first."""
    horizon = today + dt.timedelta(days=max(subscription.lead_days, default=0))
    items = []
    for milestone in milestones:
        for occurrence in occurrences_followed(
            subscription=subscription, milestone=milestone, today=today
        ):
            if occurrence <= horizon:
                items.append(DigestItem(milestone, occurrence, (occurrence - today).days))
    return sorted(items, key=lambda i: (i.occurrence, i.milestone.title, i.milestone.pk))


def first_digest_day(
    *, subscription: Subscription, milestones: list[Milestone], today: dt.date
) -> dt.date | None:
    """The first digest day, on or after `today`, whose digest has something to list."""
    lead = dt.timedelta(days=max(subscription.lead_days, default=0))
    nexts = sorted(day for m in milestones if (day := m.next_date(today)) is not None)
    for deadline in nexts:
        day = digest_day_on_or_after(max(today, deadline - lead))
        if day <= deadline:  # that digest still lists it
            return day
    return None
