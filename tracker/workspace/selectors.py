"""Reads for the workspace, each scoped to one organisation and a fixed number of queries."""

from __future__ import annotations

import datetime as dt

from django.db.models import F, QuerySet
from django.http import Http404

from tracker.workspace.clocks import Period, report_periods
from tracker.workspace.models import Membership, TrackedItem


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


def incidents_for(
    *, organisation, now: dt.datetime, periods: dict[str, Period] | None = None
) -> list[dict]:
    """The incidents with their clocks ({"incident", "clock", "hours_left"}), by time left:
    unreported ones first, a clock that cannot be counted before any other, then the soonest
    deadline; reported ones last, the latest report first. Two queries."""
    periods = report_periods() if periods is None else periods
    rows = []
    for incident in organisation.incidents.select_related("system", "owner"):
        clock = incident.clock(periods=periods)
        rows.append({"incident": incident, "clock": clock, "hours_left": clock.hours_left(now)})

    def urgency(row: dict) -> tuple:
        incident, clock = row["incident"], row["clock"]
        if incident.reported_at is not None:
            return (2, -incident.reported_at.timestamp())
        if clock.deadline is None:
            return (0, incident.aware_at.timestamp())
        return (1, clock.deadline.timestamp())

    return sorted(rows, key=urgency)


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
