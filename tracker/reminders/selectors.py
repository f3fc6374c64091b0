"""Reads for the reminder engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate

from tracker.catalogue.models import LIVE_STATUSES, Milestone
from tracker.reminders.models import Message, Subscription

OVERDUE_AFTER = dt.timedelta(minutes=10)

# Statuses whose dates subscribers are reminded of; superseded or withdrawn dates are not.
REMINDABLE_STATUSES = list(LIVE_STATUSES)


def subscription_milestones(*, subscription: Subscription) -> QuerySet[Milestone]:
    """The dated milestones a subscription follows: its filter, plus the ones chosen by hand."""
    wanted = Q(pk__in=subscription.milestones.order_by().values("pk"))
    if subscription.regulation_id:
        followed = Milestone.objects.filter(regulation_id=subscription.regulation_id)
        role_ids = [r.pk for r in subscription.roles.all()]
        scope_ids = [s.pk for s in subscription.scopes.all()]
        if role_ids:
            followed = followed.filter(roles__in=role_ids)
        if scope_ids:
            followed = followed.filter(scopes__in=scope_ids)
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
    role_ids = [r.pk for r in milestone.roles.all()]
    scope_ids = [s.pk for s in milestone.scopes.all()]
    by_filter = (
        Q(regulation_id=milestone.regulation_id)
        & (~Exists(any_role) | Exists(any_role.filter(role_id__in=role_ids)))
        & (~Exists(any_scope) | Exists(any_scope.filter(scope_id__in=scope_ids)))
    )
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


def operations_by_day(*, now: dt.datetime, days: int) -> list[dict]:
    """Per day of creation: sent, failed, queued, and queued past their time (one query)."""
    overdue = Q(status=Message.Status.QUEUED, next_attempt_at__lt=now - OVERDUE_AFTER)
    return list(
        Message.objects.filter(created_at__gte=now - dt.timedelta(days=days))
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            sent=Count("pk", filter=Q(status=Message.Status.SENT)),
            failed=Count("pk", filter=Q(status=Message.Status.FAILED)),
            queued=Count(
                "pk", filter=Q(status__in=[Message.Status.QUEUED, Message.Status.SENDING])
            ),
            overdue=Count("pk", filter=overdue),
        )
        .order_by("-day")
    )
