"""Reads for the reminder engine."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tracker.catalogue.models import Milestone
from tracker.reminders.models import Subscription

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
