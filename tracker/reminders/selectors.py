"""Reads for the reminder engine."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Exists, OuterRef, Q, QuerySet

from tracker.catalogue.models import LIVE_STATUSES, Milestone
from tracker.reminders.models import Subscription

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
