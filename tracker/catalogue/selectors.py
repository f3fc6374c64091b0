"""Reads from the catalogue, each with a fixed number of queries whatever the row count."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from django.contrib.admin.models import LogEntry
from django.db import connection
from django.db.models import CharField, F, Func, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tracker.catalogue.models import (
    ALL_SYSTEMS_SCOPE,
    EVERY_OPERATOR_ROLE,
    Amendment,
    Milestone,
    MilestoneChange,
    Obligation,
    PackRecord,
    Regulation,
    Role,
    Scope,
)

UPCOMING_OCCURRENCES = 3


def milestones_of_roles(milestones: QuerySet[Milestone], role_ids) -> QuerySet[Milestone]:
    """The milestones that concern any of these roles, and those that bind every operator
    (role `EVERY_OPERATOR_ROLE`): what the timeline, the API and subscriptions filter by."""
    through = Milestone.roles.through.objects.filter(
        Q(role_id__in=role_ids) | Q(role__key=EVERY_OPERATOR_ROLE)
    )
    return milestones.filter(pk__in=through.values("milestone_id"))


def milestones_of_scopes(milestones: QuerySet[Milestone], scope_ids) -> QuerySet[Milestone]:
    """The milestones of any of these risk scopes, and those that concern every AI system
    (scope `ALL_SYSTEMS_SCOPE`)."""
    through = Milestone.scopes.through.objects.filter(
        Q(scope_id__in=scope_ids) | Q(scope__key=ALL_SYSTEMS_SCOPE)
    )
    return milestones.filter(pk__in=through.values("milestone_id"))


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
    """A milestone placed on the timeline as seen on `today`.

    `when` is the date it is shown and sorted at: its next occurrence, or for a past
    milestone the last one it had (a recurring duty whose `until` has passed is past).
    """

    milestone: Milestone
    next_date: dt.date | None
    upcoming: list[dt.date]
    is_past: bool
    today: dt.date
    when: dt.date | None = None

    @property
    def days_left(self) -> int | None:
        return None if self.next_date is None else (self.next_date - self.today).days

    @property
    def is_recurring(self) -> bool:
        return self.milestone.kind == Milestone.Kind.RECURRING

    @property
    def role_keys(self) -> set[str]:
        return {role.key for role in self.milestone.roles.all()}  # from the prefetch

    @property
    def every_operator(self) -> bool:
        """It binds every operator (the pack's role for everyone), whatever the role filter."""
        return EVERY_OPERATOR_ROLE in self.role_keys

    @property
    def all_systems(self) -> bool:
        """It concerns every AI system (the pack's scope for all), whatever the scope filter."""
        return any(scope.key == ALL_SYSTEMS_SCOPE for scope in self.milestone.scopes.all())


@dataclass(frozen=True)
class Timeline:
    """The dated milestones split at `today` (past ones, then what is coming, each in date
    order) and the deadlines that run from an event."""

    past: list[TimelineEntry]
    upcoming: list[TimelineEntry]
    relative: list[Milestone]
    next_entries: list[TimelineEntry]

    @property
    def dated(self) -> list[TimelineEntry]:
        return self.past + self.upcoming

    @property
    def next_entry(self) -> TimelineEntry | None:
        """The first of the milestones due on the next deadline day, if any."""
        return self.next_entries[0] if self.next_entries else None


def timeline_entry(*, milestone: Milestone, today: dt.date) -> TimelineEntry:
    """A dated milestone as seen on `today`: shown at its next occurrence, else its last."""
    upcoming = milestone.occurrences(start=today, count=UPCOMING_OCCURRENCES)
    next_date = upcoming[0] if upcoming else None
    return TimelineEntry(
        milestone=milestone,
        next_date=next_date,
        upcoming=upcoming,
        is_past=not upcoming,
        today=today,
        when=next_date or milestone.previous_date(today) or milestone.date,
    )


def timeline_build(*, milestones: QuerySet[Milestone], today: dt.date) -> Timeline:
    """Split milestones into the dated timeline and the event-relative deadlines.

    Dated milestones are placed at their next occurrence (recurring ones too), so the
    upcoming list starts at `today`; the past ones are kept apart for the page to fold away.
    The next deadline is the nearest day on which a milestone falls due, with every milestone
    due that day; indicative dates (days the law does not fix) are never a deadline.
    """
    past: list[TimelineEntry] = []
    upcoming: list[TimelineEntry] = []
    relative: list[Milestone] = []
    for milestone in milestones:
        if milestone.kind == Milestone.Kind.RELATIVE:
            relative.append(milestone)
            continue
        entry = timeline_entry(milestone=milestone, today=today)
        (past if entry.is_past else upcoming).append(entry)
    past.sort(key=lambda e: (e.when, e.milestone.key))
    upcoming.sort(key=lambda e: (e.when, e.milestone.key))
    deadlines = [e for e in upcoming if not e.milestone.indicative]
    next_day = min((e.next_date for e in deadlines), default=None)
    next_entries = [e for e in deadlines if e.next_date == next_day]
    return Timeline(past=past, upcoming=upcoming, relative=relative, next_entries=next_entries)


@dataclass(frozen=True)
class CatalogueStamp:
    """What the public pages were built from: `version` changes with every write that can
    change what they show; `last_modified` is when the catalogue last changed (None: empty)."""

    version: str
    last_modified: dt.datetime | None


def _latest(model, *, order: str, time: str | None = None) -> QuerySet:
    """The latest row's `order` value (an increasing id), and with `time` its time too, as
    "<id> <time>": one value per subquery, so each costs one index lookup."""
    value = Concat(order, Value(" "), time, output_field=CharField()) if time else F(order)
    return model.objects.order_by(f"-{order}").values(value=value)[:1]


def _count(model) -> QuerySet:
    # A Func, not Count(): Django would group an aggregate in values() by every column.
    return model.objects.order_by().values(value=Func("pk", function="COUNT"))


def _stamp_parts() -> dict[str, QuerySet]:
    """Each part of the stamp as a one-value query.

    Every catalogue row a page shows is written through the ORM's save() or delete() (the
    catalogue has no bulk write; a data migration changes the code, which the page cache keys
    on too), and each save adds a row to the model's history (django-simple-history; a
    milestone's roles and scopes too): the latest history id of each model is its version.
    Roles and scopes keep no history: a pack load records them (PackRecord.loaded_at), an
    admin edit logs an entry, and their counts catch the rest of a creation or deletion.
    """
    parts = {
        "change": _latest(MilestoneChange, order="id"),
        "admin": _latest(LogEntry, order="id", time="action_time"),
        "pack": PackRecord.objects.order_by("-loaded_at").values(value=F("loaded_at"))[:1],
        "roles": _count(Role),
        "scopes": _count(Scope),
    }
    for model in (Regulation, Milestone, Amendment, Obligation):
        parts[model._meta.model_name] = _latest(
            model.history.model, order="history_id", time="history_date"
        )
    return parts


def _as_datetime(value: str | dt.datetime | None) -> dt.datetime | None:
    """A time read back through a bare cursor or a text value (SQLite stores text)."""
    when = value if value is None or isinstance(value, dt.datetime) else parse_datetime(value)
    if when is not None and timezone.is_naive(when):
        when = timezone.make_aware(when, dt.UTC)
    return when


@functools.cache
def _stamp_sql() -> tuple[str, tuple, list[str]]:
    """The stamp's SELECT, compiled once per process (compiling costs more than running it)."""
    parts = _stamp_parts()
    sqls, params = [], []
    for queryset in parts.values():
        sql, sql_params = queryset.query.get_compiler(using=queryset.db).as_sql()
        sqls.append(f"({sql})")
        params.extend(sql_params)
    return "SELECT " + ", ".join(sqls), tuple(params), list(parts)


def _prepared_cursor():
    """A cursor whose statements the server prepares once per connection (PostgreSQL, when
    settings allow prepared statements), else Django's usual cursor.

    Planning the stamp's ten subqueries costs the server more than running them, and the
    stamp is read on every public page. While queries are logged (DEBUG, a test counting
    them), Django's usual cursor: its log reads the SQL back from a client-side cursor.
    """
    if connection.vendor != "postgresql" or connection.queries_logged:
        return connection.cursor()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:  # DATABASE_PREPARED_STATEMENTS=false
        return connection.cursor()
    return connection.make_cursor(_preparing_cursor_class()(raw))


@functools.cache
def _preparing_cursor_class():
    import psycopg  # only where PostgreSQL is used

    class PreparingCursor(psycopg.Cursor):
        """Server-side binding, every statement prepared on its first run."""

        def execute(self, query, params=None, **kwargs):
            return super().execute(query, params, prepare=True, **kwargs)

    return PreparingCursor


def catalogue_stamp() -> CatalogueStamp:
    """The catalogue's stamp, in one query: what a cached public page is keyed on.

    One SELECT of scalar subqueries, each an index lookup or a count of a tiny table, so that
    a cached page costs this query and nothing else. Its time is the latest of the times of
    change it reads (the history rows', the admin's log, the last pack load).
    """
    sql, params, names = _stamp_sql()
    with _prepared_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    times = []
    for name, value in zip(names, row, strict=True):
        if name == "pack":
            times.append(_as_datetime(value))
        elif isinstance(value, str) and " " in value:  # "<id> <time>"
            times.append(_as_datetime(value.split(" ", 1)[1]))
    return CatalogueStamp(
        version="|".join(f"{name}={value}" for name, value in zip(names, row, strict=True)),
        last_modified=max((when for when in times if when is not None), default=None),
    )
