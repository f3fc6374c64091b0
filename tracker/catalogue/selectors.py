"""Reads from the catalogue, each with a fixed number of queries whatever the row count."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from tracker.catalogue.models import Amendment, Milestone, MilestoneChange, Regulation, Role, Scope

UPCOMING_OCCURRENCES = 3


def milestone_queryset() -> QuerySet[Milestone]:
    """Milestones with everything a list shows, loaded in four queries."""
    return Milestone.objects.select_related("regulation").prefetch_related(
        "roles",
        "scopes",
        Prefetch("amendments", queryset=Amendment.objects.order_by("recorded_at", "id")),
    )


def milestone_with_changes_queryset() -> QuerySet[Milestone]:
    """Milestones with their change log too (newest first): the list's four queries and one."""
    return milestone_queryset().prefetch_related(
        Prefetch("changes", queryset=MilestoneChange.objects.order_by("-recorded_at", "-id"))
    )


def changes_queryset(*, regulation: Regulation | None = None) -> QuerySet[MilestoneChange]:
    """Catalogue changes newest first, each with its milestone and regulation, in one query."""
    changes = MilestoneChange.objects.select_related("milestone__regulation").order_by(
        "-recorded_at", "-id"
    )
    return changes if regulation is None else changes.filter(milestone__regulation=regulation)


def role_and_scope_names() -> dict[str, dict[str, str]]:
    """Every role's and scope's name by key, in two queries: how a change's key lists read."""
    return {
        "roles": dict(Role.objects.values_list("key", "name")),
        "scopes": dict(Scope.objects.values_list("key", "name")),
    }


def regulation_default() -> Regulation | None:
    """The regulation the home page shows: the EU AI Act when loaded, else the first one."""
    return Regulation.objects.filter(key="eu-ai-act").first() or Regulation.objects.first()


@dataclass(frozen=True)
class TimelineEntry:
    """A milestone placed on the timeline as seen on `today`."""

    milestone: Milestone
    next_date: dt.date | None
    upcoming: list[dt.date]
    is_past: bool
    today: dt.date

    @property
    def days_left(self) -> int | None:
        return None if self.next_date is None else (self.next_date - self.today).days


@dataclass(frozen=True)
class Timeline:
    dated: list[TimelineEntry]
    relative: list[Milestone]
    next_entry: TimelineEntry | None


def timeline_build(*, milestones: QuerySet[Milestone], today: dt.date) -> Timeline:
    """Split milestones into the dated timeline and the event-relative deadlines."""
    dated: list[TimelineEntry] = []
    relative: list[Milestone] = []
    for milestone in milestones:
        if milestone.kind == Milestone.Kind.RELATIVE:
            relative.append(milestone)
            continue
        upcoming = milestone.occurrences(start=today, count=UPCOMING_OCCURRENCES)
        dated.append(
            TimelineEntry(
                milestone=milestone,
                next_date=upcoming[0] if upcoming else None,
                upcoming=upcoming,
                is_past=not upcoming,
                today=today,
            )
        )
    dated.sort(key=lambda e: (e.milestone.date, e.milestone.key))
    upcoming_entries = [e for e in dated if e.next_date is not None]
    next_entry = min(upcoming_entries, key=lambda e: e.next_date, default=None)
    return Timeline(dated=dated, relative=relative, next_entry=next_entry)
