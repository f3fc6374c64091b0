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
    next_entries: list[TimelineEntry]

    @property
    def next_entry(self) -> TimelineEntry | None:
        """The first of the milestones due on the next deadline day, if any."""
        return self.next_entries[0] if self.next_entries else None


def timeline_build(*, milestones: QuerySet[Milestone], today: dt.date) -> Timeline:
    """Split milestones into the dated timeline and the event-relative deadlines.

    The next deadline is the nearest day on which a milestone falls due, with every milestone
    due that day; indicative dates (days the law does not fix) are never a deadline.
    """
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
    deadlines = [e for e in dated if e.next_date is not None and not e.milestone.indicative]
    next_day = min((e.next_date for e in deadlines), default=None)
    next_entries = [e for e in deadlines if e.next_date == next_day]
    return Timeline(dated=dated, relative=relative, next_entries=next_entries)
