"""Reads for the dashboards: one organisation's, and the staff overview across organisations.

The organisation's dashboard loads its applying items once (milestones and owners joined), with
its systems and members, then filters, counts and draws in Python: three queries whether it
tracks 5 items or 500. The staff overview counts in the database, one grouped query per table.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.utils.dateformat import format as date_format

from tracker.catalogue.models import Milestone
from tracker.workspace.models import AISystem, Membership, Organisation, TrackedItem
from tracker.workspace.selectors import items_for

Status = TrackedItem.Status
OPEN = (Status.NOT_STARTED, Status.IN_PROGRESS)
# Closed first, so a progress bar fills from the left.
STATUS_ORDER = (Status.DONE, Status.NOT_APPLICABLE, Status.IN_PROGRESS, Status.NOT_STARTED)
# The stylesheet's --ok, --past, --accent and --warn: each at least 3:1 against white.
STATUS_COLOURS = {
    Status.DONE: "#1a7f37",
    Status.NOT_APPLICABLE: "#6e7781",
    Status.IN_PROGRESS: "#0b5cad",
    Status.NOT_STARTED: "#9a6700",
}
OVERDUE_COLOUR = "#b42318"
NEXT_DEADLINES = 5
NOBODY = "none"  # the owner filter's value for unassigned items
WHOLE_COMPANY = "company"  # the by-system row for items no system reason names


def item_system_keys(item: TrackedItem) -> set[str]:
    """The systems (as str(pk)) the item's reasons name; company-wide reasons name none."""
    return {
        str(reason["system"])
        for reason in item.reasons
        if isinstance(reason, dict) and reason.get("system")
    }


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardSource:
    """Everything the dashboard reads, loaded once: applying items, systems, possible owners."""

    items: list[TrackedItem]
    systems: list[AISystem]
    owners: list  # users: the members, and anyone who left but still owns an item

    @property
    def categories(self) -> list[tuple[str, str]]:
        present = {item.milestone.category for item in self.items}
        return [(key, label) for key, label in Milestone.Category.choices if key in present]


def dashboard_source(*, organisation: Organisation) -> DashboardSource:
    """Three queries: the applying items, the systems, the members."""
    items = list(items_for(organisation=organisation))
    # Sorted here, not by the database, so every backend's collation gives the same order.
    systems = sorted(organisation.systems.all(), key=lambda s: (s.name.casefold(), s.pk))
    members = list(
        get_user_model().objects.filter(memberships__organisation=organisation).order_by("pk")
    )
    known = {user.pk for user in members}
    former = {i.owner.pk: i.owner for i in items if i.owner and i.owner.pk not in known}
    owners = sorted([*members, *former.values()], key=lambda u: u.get_username().lower())
    return DashboardSource(items=items, systems=systems, owners=owners)


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
            f"progress, {self.not_started} not started: {self.percent}% closed"
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
    """The items as dots on a date axis, laid out here so the template only prints numbers."""

    width: int
    height: int
    axis_y: int
    label_y: int
    ticks: list[ChartTick]
    dots: list[ChartDot]
    today_x: str
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
    by_category: list[Progress]
    by_system: list[Progress]
    owners: list[OwnerLoad]
    chart: TimelineChart
    undated: int


def _is_overdue(item: TrackedItem, today: dt.date) -> bool:
    return item.is_open and item.due_date is not None and item.due_date < today


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


# Chart geometry, in SVG user units; the SVG scales to the width it is given.
CHART_WIDTH, CHART_PAD, CHART_TOP = 720, 28, 26
DOT_R, ROW_H, MAX_ROWS = 5, 13, 14


def _day(value: dt.date) -> str:
    return date_format(value, "j F Y")


def _not_drawn(undated: int) -> str:
    if undated == 1:
        return "1 item runs from an event and has no date, so it is not drawn."
    return f"{undated} items run from an event and have no date, so they are not drawn."


def _chart(items: list[TrackedItem], today: dt.date, undated: int) -> TimelineChart:
    dated = sorted((i for i in items if i.due_date), key=lambda i: (i.due_date, i.milestone.key))
    days = [i.due_date for i in dated]
    start = dt.date(min([*days, today]).year, 1, 1)
    end = dt.date(max([*days, today]).year + 1, 1, 1)
    span = (end - start).days
    inner = CHART_WIDTH - 2 * CHART_PAD

    def x_of(value: dt.date) -> float:
        return CHART_PAD + inner * (value - start).days / span

    # Greedy rows: a dot goes in the first row where it does not touch the previous dot; past
    # MAX_ROWS, dots share the row that has room soonest (they overlap, the counts do not).
    last_x: list[float] = []
    placed = []
    for item in dated:
        x = x_of(item.due_date)
        row = next((r for r, lx in enumerate(last_x) if x - lx >= 2 * DOT_R + 1), None)
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
            cx=f"{x:.1f}",
            cy=f"{CHART_TOP + row * ROW_H + DOT_R + 1:.1f}",
            status=item.status,
            colour=STATUS_COLOURS[item.status],
            overdue=_is_overdue(item, today),
            label=f"{item.milestone.title}: due {_day(item.due_date)}, "
            f"{labels[item.status].lower()}{', overdue' if _is_overdue(item, today) else ''}",
        )
        for item, x, row in placed
    ]
    years = end.year - start.year
    step = max(1, math.ceil(years / 8))
    ticks = [
        ChartTick(f"{x_of(dt.date(year, 1, 1)):.1f}", str(year))
        for year in range(start.year, end.year + 1, step)
    ]
    counts = Counter(item.status for item in dated)
    legend = [(s, labels[s], STATUS_COLOURS[s], counts[s]) for s in STATUS_ORDER]
    overdue = sum(dot.overdue for dot in dots)
    if dated:
        description = (
            f"{len(dated)} dated items from {_day(days[0])} to {_day(days[-1])}: "
            + ", ".join(f"{n} {label.lower()}" for _, label, _, n in legend)
            + f"; {overdue} overdue. Today is {_day(today)}."
        )
    else:
        description = "No dated item to show."
    not_drawn = _not_drawn(undated) if undated else ""
    if not_drawn:
        description += f" {not_drawn}"
    return TimelineChart(
        width=CHART_WIDTH, height=axis_y + 22, axis_y=axis_y, label_y=axis_y + 16,
        ticks=ticks, dots=dots, today_x=f"{x_of(today):.1f}", today_label=_day(today),
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
        overdue=[i for i in open_dated if i.due_date < today],
        by_category=_progress_by_category(items),
        by_system=_progress_by_system(items, source.systems),
        owners=_owners(items, today),
        chart=_chart(items, today, undated),
        undated=undated,
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


def staff_overview(*, today: dt.date) -> list[OrganisationFigures]:
    """Every organisation with its figures: four queries, however many organisations."""
    organisations = list(Organisation.objects.order_by("name", "pk"))
    members = _counts_by_organisation(Membership.objects.all(), n=Count("pk"))
    systems = _counts_by_organisation(AISystem.objects.all(), n=Count("pk"))
    overdue = Q(status__in=OPEN) & (
        Q(target_date__lt=today) | Q(target_date__isnull=True, milestone__date__lt=today)
    )
    items = _counts_by_organisation(
        TrackedItem.objects.filter(applies=True),
        total=Count("pk"),
        done=Count("pk", filter=Q(status=Status.DONE)),
        not_applicable=Count("pk", filter=Q(status=Status.NOT_APPLICABLE)),
        overdue=Count("pk", filter=overdue),
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
