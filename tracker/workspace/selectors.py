"""Reads for the workspace, each scoped to one organisation and a fixed number of queries."""

from __future__ import annotations

import datetime as dt

from django.db.models import F, QuerySet
from django.http import Http404

from tracker.workspace.models import Incident, Membership, TrackedItem


def membership_get(*, user, slug: str) -> Membership:
    """The user's membership of the organisation, or 404: outsiders learn nothing."""
    if not user.is_authenticated:
        raise Http404
    membership = (
        Membership.objects.select_related("organisation")
        .filter(user=user, organisation__slug=slug)
        .first()
    )
    if membership is None:
        raise Http404
    return membership


def items_for(*, organisation) -> QuerySet[TrackedItem]:
    return (
        organisation.items.filter(applies=True)
        .select_related("milestone", "milestone__regulation", "owner")
        .order_by(F("milestone__date").asc(nulls_last=True), "milestone__key")
    )


def incidents_for(*, organisation) -> QuerySet[Incident]:
    return organisation.incidents.select_related("system", "owner")


def timeline_split(items, today: dt.date) -> dict[str, list]:
    """Open items with a date (overdue first), relative clocks, and the finished ones."""
    groups = {"overdue": [], "upcoming": [], "relative": [], "closed": []}
    for item in items:
        if not item.is_open:
            groups["closed"].append(item)
        elif item.due_date is None:
            groups["relative"].append(item)
        elif item.due_date < today:
            groups["overdue"].append(item)
        else:
            groups["upcoming"].append(item)
    return groups
