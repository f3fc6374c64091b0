"""Reads for the dashboards: one organisation's, and the staff overview across organisations.

The organisation's dashboard loads its items once (milestones, duties and owners joined), with
its systems and members, then filters, counts and draws in Python: three queries whether it
tracks 5 items or 500; duties are rolled up per milestone and system from the same rows. Items
that no longer apply are listed apart with why and since when; "overdue" is
TrackedItem.is_overdue (a date someone here could have met), and an open item whose date passed
before the organisation existed counts as "in force: confirm you comply". The staff overview
counts in the database, one grouped query per table.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.utils.dateformat import format as date_format

from tracker.catalogue.models import Milestone
from tracker.workspace.models import AISystem, Membership, Organisation, TrackedItem
from tracker.workspace.selectors import DutyRollup, duty_rollups, items_all_for, stopped_first

Status = TrackedItem.Status
OPEN = TrackedItem.OPEN
# Closed first, so a progress bar fills from the left.
STATUS_ORDER = (Status.DONE, Status.NOT_APPLICABLE, Status.IN_PROGRESS, Status.TO_CONFIRM,
                Status.NOT_STARTED)  # fmt: skip
# The stylesheet's --ok, --past, --accent and --warn, and a violet: each 3:1 against white.
STATUS_COLOURS = {
    Status.DONE: "#1a7f37",
    Status.NOT_APPLICABLE: "#6e7781",
    Status.IN_PROGRESS: "#0b5cad",
    Status.TO_CONFIRM: "#8250df",
    Status.NOT_STARTED: "#9a6700",
}
OVERDUE_COLOUR = "#b42318"
NEXT_DEADLINES = 5
NOBODY = "none"  # the owner filter's value for unassigned items
WHOLE_COMPANY = "company"  # the by-system row for items no system reason names


def item_system_keys(item: TrackedItem) -> set[str]:
    """The systems (as str(pk)) the item is for: a duty's own system (a company duty, or one
    of a removed system: none); for a milestone tracked as a whole, those its reasons name."""
    if item.is_duty:
        return {str(item.system_id)} if item.system_id is not None else set()
    return {
        str(reason["system"])
        for reason in item.reasons
        if isinstance(reason, dict) and reason.get("system")
    }


def item_label(item: TrackedItem) -> str:
    """An item in words: a duty with its article and system, or the milestone's title."""
    if item.is_duty:
        return f"{item.article}: {item.title} ({item.scope_label})"
    return item.milestone.title


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardSource:
    """Everything the dashboard reads, loaded once: tracked items (the rules select them or a
    member keeps them), the ones that no longer apply, systems, possible owners."""

    items: list[TrackedItem]
    systems: list[AISystem]
    owners: list  # users: the members, and anyone who left but still owns an item
    stopped: list[TrackedItem] = field(default_factory=list)

    @property
    def categories(self) -> list[tuple[str, str]]:
        present = {item.milestone.category for item in self.items}
        return [(key, label) for key, label in Milestone.Category.choices if key in present]


def dashboard_source(*, organisation: Organisation) -> DashboardSource:
    """Three queries: the items, the systems, the members."""
    every = list(items_all_for(organisation=organisation))
    items = [item for item in every if item.is_tracked]
    stopped = stopped_first(item for item in every if not item.is_tracked)
    # Sorted here, not by the database, so every backend's collation gives the same order.
    systems = sorted(organisation.systems.all(), key=lambda s: (s.name.casefold(), s.pk))
    members = list(
        get_user_model().objects.filter(memberships__organisation=organisation).order_by("pk")
    )
    known = {user.pk for user in members}
    former = {i.owner.pk: i.owner for i in every if i.owner and i.owner.pk not in known}
    owners = sorted([*members, *former.values()], key=lambda u: u.get_username().lower())
    return DashboardSource(items=items, systems=systems, owners=owners, stopped=stopped)


# ---------------------------------------------------------------------------------------------
# Filtering
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFilters:
    """What the officer narrowed the dashboard to; empty strings mean "any"."""

    status: str = ""
    category: str = ""
    owner: str = ""  # a user's pk, or NOBODY
    system: str = ""  # an AI system's pk

    @property
    def active(self) -> bool:
        return any((self.status, self.category, self.owner, self.system))

    def match(self, item: TrackedItem) -> bool:
        if self.status and item.status != self.status:
            return False
        if self.category and item.milestone.category != self.category:
            return False
        if self.owner == NOBODY and item.owner_id is not None:
            return False
        if self.owner and self.owner != NOBODY and str(item.owner_id) != self.owner:
            return False
        return not self.system or self.system in item_system_keys(item)


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """One status's share of a progress bar; x and width are SVG percentages, preformatted."""

    status: str
    label: str
    count: int
    colour: str
    x: str
    width: str


@dataclass
class Progress:
    """Status counts for a group of items (a category, a system, or all of them)."""

    key: str
    label: str
    counts: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.counts[Status.DONE]

    @property
    def not_applicable(self) -> int:
        return self.counts[Status.NOT_APPLICABLE]

    @property
    def in_progress(self) -> int:
        return self.counts[Status.IN_PROGRESS]

    @property
    def to_confirm(self) -> int:
        return self.counts[Status.TO_CONFIRM]

    @property
    def not_started(self) -> int:
        return self.counts[Status.NOT_STARTED]

    @property
    def percent(self) -> int:
        """Closed (done or not applicable) as a share of all; floored, so 100 means all."""
        if not self.total:
            return 0
        return math.floor(100 * (self.done + self.not_applicable) / self.total)

    @property
    def summary(self) -> str:
        return (
            f"{self.done} done, {self.not_applicable} not applicable, {self.in_progress} in "
            f"progress, {self.to_confirm} in force to confirm, {self.not_started} not started: "
            f"{self.percent}% closed"
        )

    @property
    def segments(self) -> list[Segment]:
        segments, x = [], 0.0
        labels = dict(Status.choices)
        for status in STATUS_ORDER:
            count = self.counts[status]
            if not count:
                continue
            width = 100 * count / self.total
            segments.append(Segment(status, labels[status], count, STATUS_COLOURS[status],
                                    f"{x:.2f}%", f"{width:.2f}%"))  # fmt: skip
            x += width
        return segments


@dataclass(frozen=True)
class OwnerLoad:
    """Who owns what: one owner's open items and how many of them are overdue."""

    owner: object  # a user, or None for nobody
    label: str
    open: int
    overdue: int


@dataclass(frozen=True)
class ChartTick:
    x: str
    label: str


@dataclass(frozen=True)
class ChartDot:
    cx: str
    cy: str
    status: str
    colour: str
    overdue: bool
    label: str


@dataclass(frozen=True)
class TimelineChart:
    """The items as dots on a date axis, laid out here so the template only prints numbers.

    Horizontal positions are percentages of the chart's width and sizes are pixels, so the
    chart fits any screen, from a 375 px phone up, with text and dots at a legible size.
    """

    height: int
    axis_y: int
    label_y: int
    ticks: list[ChartTick]
    dots: list[ChartDot]
    today_x: str
    today_anchor: str  # "start", "middle" or "end": the label stays inside the chart
    today_label: str
    description: str
    not_drawn: str  # what the chart leaves out, said in words ("" when nothing)
    legend: list[tuple[str, str, str, int]]  # status, label, colour, count


@dataclass(frozen=True)
class Dashboard:
    """The figures one organisation's dashboard shows, after the filters."""

    filters: DashboardFilters
    total: int
    overall: Progress
    next_deadlines: list[TrackedItem]
    overdue: list[TrackedItem]
    to_confirm: list[TrackedItem]  # open, dated before the organisation existed
    stopped: list[TrackedItem]  # no longer apply (the filters apply to them too)
    by_category: list[Progress]
    by_system: list[Progress]
    owners: list[OwnerLoad]
    chart: TimelineChart
    undated: int
    duties: list[DutyRollup] = field(default_factory=list)  # per milestone and system


def _is_overdue(item: TrackedItem, today: dt.date) -> bool:
    return item.is_overdue(today)


def _progress_by_category(items: list[TrackedItem]) -> list[Progress]:
    rows = {key: Progress(key, label) for key, label in Milestone.Category.choices}
    for item in items:
        rows[item.milestone.category].counts[item.status] += 1
    return [row for row in rows.values() if row.total]


def _progress_by_system(items: list[TrackedItem], systems: list[AISystem]) -> list[Progress]:
    rows = {str(s.pk): Progress(str(s.pk), s.name) for s in systems}
    company = Progress(WHOLE_COMPANY, "Whole company (no one system)")
    for item in items:
        keys = item_system_keys(item) & rows.keys()
        for key in keys:
            rows[key].counts[item.status] += 1
        if not keys:
            company.counts[item.status] += 1
    return [*rows.values(), *([company] if company.total else [])]


def _owners(items: list[TrackedItem], today: dt.date) -> list[OwnerLoad]:
    open_counts: Counter = Counter()
    overdue: Counter = Counter()
    users = {}
    for item in items:
        if not item.is_open:
            continue
        users[item.owner_id] = item.owner
        open_counts[item.owner_id] += 1
        overdue[item.owner_id] += _is_overdue(item, today)
    named = sorted(
        (OwnerLoad(user, user.get_username(), open_counts[pk], overdue[pk])
         for pk, user in users.items() if user is not None),
        key=lambda load: (-load.open, load.label.lower()),
    )  # fmt: skip
    if None in users:
        named.append(OwnerLoad(None, "Nobody yet", open_counts[None], overdue[None]))
    return named


# Chart geometry: x in percent of the width, y and sizes in pixels.
CHART_PAD, CHART_TOP = 6.0, 26  # the pad keeps a year label centred on the edge inside
DOT_R, ROW_H, MAX_ROWS = 5, 13, 14
NARROWEST = 340  # px: the chart's width on a 375 px phone; dots are spaced for it
DOT_GAP = 100 * (2 * DOT_R + 1) / NARROWEST  # percent
# The window drawn: a few years back, ten ahead. A date beyond (a typo such as 9999 stored
# before target dates were bounded) is said in words, not drawn.
YEARS_BACK, YEARS_AHEAD, MAX_TICKS = 5, 10, 8
CHART_WORDS = {
    Status.DONE: "done",
    Status.NOT_APPLICABLE: "not applicable",
    Status.IN_PROGRESS: "in progress",
    Status.TO_CONFIRM: "in force to confirm",
    Status.NOT_STARTED: "not started",
}


def _day(value: dt.date) -> str:
    return date_format(value, "j F Y")


def _not_drawn(undated: int, before: int, after: int, start: int, end: int) -> str:
    said = []
    if undated:
        said.append(
            "1 item runs from an event and has no date, so it is not drawn."
            if undated == 1
            else f"{undated} items run from an event and have no date, so they are not drawn."
        )
    if before:
        said.append(f"{before} item{'s' if before > 1 else ''} dated before {start} "
                    f"{'are' if before > 1 else 'is'} not drawn.")  # fmt: skip
    if after:
        said.append(f"{after} item{'s' if after > 1 else ''} dated after {end} "
                    f"{'are' if after > 1 else 'is'} not drawn.")  # fmt: skip
    return " ".join(said)


def _chart(items: list[TrackedItem], today: dt.date, undated: int) -> TimelineChart:
    every = sorted((i for i in items if i.due_date), key=lambda i: (i.due_date, i.milestone.key))
    days = [i.due_date for i in every]
    first_year = max(min([*days, today]).year, today.year - YEARS_BACK)
    last_year = min(max([*days, today]).year, today.year + YEARS_AHEAD)
    start, end = dt.date(first_year, 1, 1), dt.date(last_year + 1, 1, 1)
    dated = [i for i in every if start <= i.due_date < end]
    before = sum(1 for i in every if i.due_date < start)
    after = sum(1 for i in every if i.due_date >= end)
    span = (end - start).days
    inner = 100 - 2 * CHART_PAD

    def x_of(value: dt.date) -> float:
        return CHART_PAD + inner * (value - start).days / span

    # Greedy rows: a dot goes in the first row where it does not touch the previous dot; past
    # MAX_ROWS, dots share the row that has room soonest (they overlap, the counts do not).
    last_x: list[float] = []
    placed = []
    for item in dated:
        x = x_of(item.due_date)
        row = next((r for r, lx in enumerate(last_x) if x - lx >= DOT_GAP), None)
        if row is None and len(last_x) < MAX_ROWS:
            last_x.append(x)
            row = len(last_x) - 1
        elif row is None:
            row = min(range(len(last_x)), key=last_x.__getitem__)
        last_x[row] = x
        placed.append((item, x, row))
    rows = max(len(last_x), 1)
    axis_y = CHART_TOP + rows * ROW_H + 6
    labels = dict(Status.choices)
    dots = [
        ChartDot(
            cx=f"{x:.2f}%",
            cy=f"{CHART_TOP + row * ROW_H + DOT_R + 1:.1f}",
            status=item.status,
            colour=STATUS_COLOURS[item.status],
            overdue=_is_overdue(item, today),
            label=f"{item_label(item)}: due {_day(item.due_date)}, "
            f"{labels[item.status].lower()}{', overdue' if _is_overdue(item, today) else ''}",
        )
        for item, x, row in placed
    ]
    years = end.year - start.year
    step = max(1, math.ceil(years / MAX_TICKS))
    ticks = [
        ChartTick(f"{x_of(dt.date(year, 1, 1)):.2f}%", str(year))
        for year in range(start.year, end.year + 1, step)
    ]
    counts = Counter(item.status for item in dated)
    legend = [(s, labels[s], STATUS_COLOURS[s], counts[s]) for s in STATUS_ORDER]
    overdue = sum(dot.overdue for dot in dots)
    if dated:
        description = (
            f"{len(dated)} dated items from {_day(dated[0].due_date)} to "
            f"{_day(dated[-1].due_date)}: "
            + ", ".join(f"{n} {CHART_WORDS[status]}" for status, _, _, n in legend)
            + f"; {overdue} overdue. Today is {_day(today)}."
        )
    else:
        description = f"No dated item to show. Today is {_day(today)}."
    not_drawn = _not_drawn(undated, before, after, start.year, end.year - 1)
    if not_drawn:
        description += f" {not_drawn}"
    today_x = x_of(today)
    anchor = "start" if today_x < 12 else "end" if today_x > 88 else "middle"
    return TimelineChart(
        height=axis_y + 22, axis_y=axis_y, label_y=axis_y + 16, ticks=ticks, dots=dots,
        today_x=f"{today_x:.2f}%", today_anchor=anchor, today_label=_day(today),
        description=description, not_drawn=not_drawn, legend=legend,
    )  # fmt: skip


def dashboard_summarise(
    source: DashboardSource, *, filters: DashboardFilters, today: dt.date
) -> Dashboard:
    """Every figure of the dashboard from the loaded rows; no query."""
    items = [item for item in source.items if filters.match(item)]
    overall = Progress("all", "All items")
    for item in items:
        overall.counts[item.status] += 1
    open_dated = sorted(
        (i for i in items if i.is_open and i.due_date is not None),
        key=lambda i: (i.due_date, i.milestone.key),
    )
    undated = sum(1 for i in items if i.due_date is None)
    return Dashboard(
        filters=filters,
        total=len(items),
        overall=overall,
        next_deadlines=[i for i in open_dated if i.due_date >= today][:NEXT_DEADLINES],
        overdue=[i for i in open_dated if i.is_overdue(today)],
        to_confirm=[i for i in open_dated if i.due_date < today and not i.is_overdue(today)],
        stopped=[item for item in source.stopped if filters.match(item)],
        by_category=_progress_by_category(items),
        by_system=_progress_by_system(items, source.systems),
        owners=_owners(items, today),
        chart=_chart(items, today, undated),
        undated=undated,
        duties=list(duty_rollups(items).values()),
    )


# ---------------------------------------------------------------------------------------------
# Staff overview
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganisationFigures:
    """One organisation's line in the staff overview."""

    organisation: Organisation
    members: int
    systems: int
    items: int
    done: int
    not_applicable: int
    overdue: int

    @property
    def percent(self) -> int:
        """Closed (done or not applicable), as on the organisation's own dashboard."""
        if not self.items:
            return 0
        return math.floor(100 * (self.done + self.not_applicable) / self.items)


def _counts_by_organisation(queryset, **aggregates) -> dict[int, dict[str, int]]:
    # order_by() drops the models' default ordering, which would otherwise join the GROUP BY.
    rows = queryset.order_by().values("organisation").annotate(**aggregates)
    return {row.pop("organisation"): row for row in rows}


STAFF_PAGE_SIZE = 50


def staff_organisations(*, search: str = "") -> QuerySet[Organisation]:
    """The organisations the staff overview lists, by name; `search` matches name or slug."""
    organisations = Organisation.objects.order_by("name", "pk")
    if search:
        organisations = organisations.filter(Q(name__icontains=search) | Q(slug__icontains=search))
    return organisations


def staff_overview(*, organisations, today: dt.date) -> list[OrganisationFigures]:
    """The figures of `organisations` (one page of them): four queries, however many there are
    and however many the site holds."""
    organisations = list(organisations)
    ids = [org.pk for org in organisations]
    members = _counts_by_organisation(
        Membership.objects.filter(organisation__in=ids), n=Count("pk")
    )
    systems = _counts_by_organisation(AISystem.objects.filter(organisation__in=ids), n=Count("pk"))
    tracked = TrackedItem.objects.tracked().filter(organisation__in=ids)
    items = _counts_by_organisation(
        tracked,
        total=Count("pk"),
        done=Count("pk", filter=Q(status=Status.DONE)),
        not_applicable=Count("pk", filter=Q(status=Status.NOT_APPLICABLE)),
        overdue=Count("pk", filter=tracked.overdue_condition(today)),
    )
    empty = {"total": 0, "done": 0, "not_applicable": 0, "overdue": 0}
    return [
        OrganisationFigures(
            organisation=org,
            members=members.get(org.pk, {}).get("n", 0),
            systems=systems.get(org.pk, {}).get("n", 0),
            items=items.get(org.pk, empty)["total"],
            done=items.get(org.pk, empty)["done"],
            not_applicable=items.get(org.pk, empty)["not_applicable"],
            overdue=items.get(org.pk, empty)["overdue"],
        )
        for org in organisations
    ]
