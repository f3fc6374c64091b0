"""Reads for the reminder engine."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate

from tracker.catalogue.models import Milestone
from tracker.reminders.models import Message, Subscription

OVERDUE_AFTER = dt.timedelta(minutes=10)

# Statuses whose dates subscribers are reminded of; superseded or withdrawn dates are not.
REMINDABLE_STATUSES = ["planned", "proposed", "adopted", "in_force"]


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


def milestone_followers(*, milestone: Milestone) -> list[Subscription]:
    """Active subscriptions that follow a milestone, by choice or through their filter."""
    candidates = (
        Subscription.objects.filter(status=Subscription.Status.ACTIVE)
        .filter(Q(milestones=milestone) | Q(regulation_id=milestone.regulation_id))
        .distinct()
        .prefetch_related("roles", "scopes", "milestones")
    )
    role_ids = {r.pk for r in milestone.roles.all()}
    scope_ids = {s.pk for s in milestone.scopes.all()}

    def follows(subscription: Subscription) -> bool:
        if any(m.pk == milestone.pk for m in subscription.milestones.all()):
            return True
        if subscription.regulation_id != milestone.regulation_id:
            return False
        roles = {r.pk for r in subscription.roles.all()}
        scopes = {s.pk for s in subscription.scopes.all()}
        return (
            (not roles or bool(roles & role_ids))
            and (not scopes or bool(scopes & scope_ids))
            and (not subscription.categories or milestone.category in subscription.categories)
        )

    return [s for s in candidates if follows(s)]


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
