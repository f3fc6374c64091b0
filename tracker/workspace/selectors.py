"""Reads for the workspace, each scoped to one organisation and a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, F, OuterRef, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.text import slugify

from tracker.workspace.clocks import Period, report_periods
from tracker.workspace.duties import article_order
from tracker.workspace.models import WHOLE_COMPANY_LABEL, Membership, TrackedItem


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


# What lists never show of a duty (the item page reads them on its own).
DUTY_TEXT = ("obligation__text", "obligation__done_when", "obligation__note")


VIEWERS_READ_ONLY = "Viewers can read but not change this organisation."


@dataclass(frozen=True)
class Landing:
    """Where a person lands after signing in: a URL name and its arguments."""

    view: str
    kwargs: dict = field(default_factory=dict)


def landing_for(user) -> Landing:
    """Where someone works: their organisation's timeline when they have one, the list when
    they have several; staff with none (the catalogue's editors) go to the admin; anyone else
    to the page that creates an organisation. Two queries at most."""
    slugs = list(
        Membership.objects.filter(user=user).values_list("organisation__slug", flat=True)[:2]
    )
    if len(slugs) == 1:
        return Landing("workspace:timeline", {"slug": slugs[0]})
    if not slugs and user.is_staff:
        return Landing("admin:index")
    return Landing("workspace:home")


def editor_required(membership: Membership) -> None:
    """Refuse (403) a change by a viewer; pages and the API say the same."""
    if not membership.can_edit:
        raise PermissionDenied(VIEWERS_READ_ONLY)


def organisation_members(organisation):
    """The people of an organisation (for owner choices)."""
    return get_user_model().objects.filter(memberships__organisation=organisation)


def items_all_for(*, organisation) -> QuerySet[TrackedItem]:
    """Every item of the organisation, the ones that no longer apply included, by date, then
    by system (company duties first) and duty; one query (what `is_overdue` and the pages
    read is joined, the duties' long texts left out)."""
    related = ("milestone", "milestone__regulation", "owner", "organisation", "kept_by",
               "obligation")  # fmt: skip
    order = (F("milestone__date").asc(nulls_last=True), "milestone__key", "system_name",
             "obligation_id")  # fmt: skip
    covered = TrackedItem.evidence.through.objects.filter(trackeditem_id=OuterRef("pk"))
    return (
        organisation.items.select_related(*related)
        .defer(*DUTY_TEXT)
        .annotate(has_evidence=Exists(covered))
        .order_by(*order)
    )


def items_for(*, organisation) -> QuerySet[TrackedItem]:
    """The items on the timeline: the rules select them, or a member keeps them on purpose."""
    return items_all_for(organisation=organisation).tracked()


def item_get(*, organisation, pk: int) -> TrackedItem:
    """One item of the organisation with its milestone, duty and people, or 404."""
    return get_object_or_404(
        organisation.items.select_related(
            "milestone", "owner", "organisation", "kept_by", "obligation"
        ),
        pk=pk,
    )


def item_evidence_titles(items) -> dict[int, list[str]]:
    """The titles of the evidence pieces covering each item, by item id, for the reports: one
    query for all items (read by organisation, not by a list of ids, which SQLite caps)."""
    organisations = {item.organisation_id for item in items}
    if not organisations:
        return {}
    rows = (
        TrackedItem.evidence.through.objects.filter(trackeditem__organisation_id__in=organisations)
        .order_by("evidence__title", "evidence_id")
        .values_list("trackeditem_id", "evidence__title")
    )
    titles: dict[int, list[str]] = {}
    for item_id, title in rows:
        titles.setdefault(item_id, []).append(title)
    return titles


def stopped_first(items) -> list[TrackedItem]:
    """Items that no longer apply, the latest to stop first."""
    return sorted(items, key=lambda i: (-(i.stopped_at.timestamp() if i.stopped_at else 0), i.pk))


def deadline_words(milestone) -> str:
    """When a deadline falls, as a sentence: "2 August 2026", or "Within 19 days after the
    market surveillance authority requires corrective action under Art. 79(2)"."""
    if milestone.date is not None:
        return f"{milestone.date.day} {milestone.date:%B %Y}"
    event = milestone.trigger_label or "the event that starts it"
    return f"Within {milestone.offset_label} after {event}"


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
    """The timeline's sections: open items past a date someone here could have met
    (overdue), open items whose date passed before the organisation existed (in force:
    confirm you comply), coming up, relative clocks, the finished ones, and the ones that
    no longer apply (kept ones stay in their section)."""
    groups: dict[str, list] = {"overdue": [], "to_confirm": [], "upcoming": [], "relative": [],
                               "closed": [], "stopped": []}  # fmt: skip
    for item in items:
        if not item.is_tracked:
            groups["stopped"].append(item)
        elif not item.is_open:
            groups["closed"].append(item)
        elif item.due_date is None:
            groups["relative"].append(item)
        elif item.is_overdue(today):
            groups["overdue"].append(item)
        elif item.due_date < today:
            groups["to_confirm"].append(item)
        else:
            groups["upcoming"].append(item)
    groups["stopped"] = stopped_first(groups["stopped"])
    return groups


# Duties rolled up per milestone and system -----------------------------------------------


def _scope(item: TrackedItem) -> tuple:
    return (item.milestone_id, item.system_id, item.system_name)


@dataclass
class DutyRollup:
    """The duties of one milestone for one system (or the company), and how many are done."""

    scope: tuple
    milestone: object
    label: str  # the system's name, "Whole company", or "<name> (removed)"
    done: int = 0
    not_applicable: int = 0
    total: int = 0  # the tracked duties, not-applicable ones included
    evidenced: int = 0  # duties with at least one piece of evidence

    @property
    def anchor(self) -> str:
        milestone_id, system_id, name = self.scope
        where = system_id or (f"removed-{slugify(name)}" if name else "company")
        return f"duties-{milestone_id}-{where}"

    @property
    def counted(self) -> int:
        """Duties to do: not-applicable ones are not counted."""
        return self.total - self.not_applicable

    @property
    def sentence(self) -> str:
        """The roll-up in words: "CV screener: 9 of 14 duties done before 2 December 2027"."""
        n = self.counted
        text = f"{self.label}: {self.done} of {n} dut{'y' if n == 1 else 'ies'} done"
        if self.milestone.date is not None:
            text += f" before {deadline_words(self.milestone)}"
        else:
            text += " (each counted from its event)"
        if self.not_applicable:
            text += f"; {self.not_applicable} not applicable"
        return text

    @property
    def percent(self) -> int:
        """Done, as a share of the duties to do (floored: 100 means all)."""
        return 100 if not self.counted else (100 * self.done) // self.counted


def duty_rollups(items) -> dict[tuple, DutyRollup]:
    """One roll-up per milestone and system for the tracked duty items, by date, then the
    company's first and the systems by name; keyed by (milestone, system id, system name);
    no query."""
    rows: dict[tuple, DutyRollup] = {}
    for item in items:
        if not item.is_duty or not item.is_tracked:
            continue
        scope = _scope(item)
        row = rows.get(scope)
        if row is None:
            row = rows[scope] = DutyRollup(scope, item.milestone, item.scope_label)
        row.total += 1
        row.done += item.status == TrackedItem.Status.DONE
        row.not_applicable += item.status == TrackedItem.Status.NOT_APPLICABLE
        row.evidenced += bool(getattr(item, "has_evidence", False))
    order = sorted(
        rows.values(),
        key=lambda r: (r.milestone.date is None, r.milestone.date or dt.date.min,
                       r.milestone.key, r.label != WHOLE_COMPANY_LABEL, r.label.casefold()),
    )  # fmt: skip
    return {row.scope: row for row in order}


@dataclass
class ItemGroup:
    """A run of a section's items: one milestone tracked as a whole (`item`), or the duties of
    one milestone for one system, in article order, with their roll-up."""

    item: TrackedItem | None = None
    milestone: object = None
    label: str = ""
    rollup: DutyRollup | None = None
    items: list[TrackedItem] = field(default_factory=list)


def item_groups(items, rollups: dict[tuple, DutyRollup]) -> list[ItemGroup]:
    """A section's items as the timeline shows them: each duty under its milestone and
    system, in article order (the roll-up counts every tracked duty of that pair, whatever
    its section); no query."""
    groups: list[ItemGroup] = []
    by_scope: dict[tuple, ItemGroup] = {}
    for item in items:
        if not item.is_duty:
            groups.append(ItemGroup(item=item))
            continue
        scope = _scope(item)
        group = by_scope.get(scope)
        if group is None:
            group = by_scope[scope] = ItemGroup(
                milestone=item.milestone, label=item.scope_label, rollup=rollups.get(scope)
            )
            groups.append(group)
        group.items.append(item)
    for group in by_scope.values():
        group.items.sort(key=lambda i: (article_order(i.article), i.obligation_id))
    return groups


# The report: every obligation, a table per system ------------------------------------------


@dataclass
class ReportSection:
    """One table of the report: the duties of one system (or the company's duties and the
    milestones tracked as a whole), in date and article order."""

    label: str
    system: object = None  # the AISystem, when the section is one system's
    items: list[TrackedItem] = field(default_factory=list)
    evidence: dict[int, list[str]] = field(default_factory=dict)

    @property
    def rows(self) -> list[tuple[TrackedItem, list[str]]]:
        return [(item, self.evidence.get(item.pk, [])) for item in self.items]

    @property
    def done(self) -> int:
        return sum(item.status == TrackedItem.Status.DONE for item in self.items)


def report_sections(*, items: list[TrackedItem], systems) -> dict:
    """The report's tables from the loaded rows: the whole company first (its duties and the
    milestones tracked as a whole), then each system by name (a removed one by its kept
    name), then what no longer applies. No query of its own (the evidence is read once, by
    `item_evidence_titles`)."""
    tracked = [item for item in items if item.is_tracked]
    company = ReportSection(WHOLE_COMPANY_LABEL)
    per_system = {
        s.pk: ReportSection(s.name, system=s)
        for s in sorted(systems, key=lambda s: (s.name.casefold(), s.pk))
    }
    removed: dict[str, ReportSection] = {}
    for item in tracked:
        if item.system_id in per_system:
            per_system[item.system_id].items.append(item)
        elif item.system_removed:
            label = item.scope_label
            removed.setdefault(label, ReportSection(label)).items.append(item)
        else:
            company.items.append(item)
    sections = [company, *per_system.values(), *(removed[k] for k in sorted(removed))]
    evidence = item_evidence_titles(items)
    for section in sections:
        section.items.sort(key=lambda i: (i.milestone.date is None,
                                          i.milestone.date or dt.date.min,
                                          article_order(i.article), i.pk))  # fmt: skip
        section.evidence = evidence
    stopped = ReportSection("No longer applies", items=stopped_first(
        item for item in items if not item.is_tracked), evidence=evidence)  # fmt: skip
    return {"sections": sections, "stopped": stopped, "total": len(tracked)}


# An item's history ------------------------------------------------------------------------

HISTORY_LABELS = {
    "status": "Status",
    "owner": "Owner",
    "target_date": "Target date",
    "notes": "Notes",
    "not_applicable_reason": "Why it does not apply",
    "applies": "Selected by the rules",
    "reasons": "Why it applies",
    "stopped_at": "No longer applies since",
    "stopped_reason": "Why it no longer applies",
    "kept_at": "Kept on purpose since",
    "kept_by": "Kept on purpose by",
    "changed_in_catalogue": "Date moved in the catalogue, not yet seen",
    "system_name": "AI system",
}
# What makes the item that item never changes (a removed system empties `system` in the
# database, with no history row; `system_name` keeps its name and its renames).
HISTORY_SKIPPED = ["id", "organisation", "milestone", "obligation", "system"]
# The fields an item can start with (from the work of the milestone item it took over).
STARTING_FIELDS = ("status", "owner", "target_date", "notes", "not_applicable_reason")


@dataclass(frozen=True)
class FieldChange:
    """One field of one history entry: its label, and the old and new values in words."""

    field: str
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    """One save of an item: when, by whom (None: Jalon itself), and what changed."""

    when: dt.datetime
    user: object
    created: bool
    changes: list[FieldChange]
    note: str = ""  # why it was saved, when Jalon says (work carried over, say)


def _words(field: str, value, users: dict) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if field == "status":
        return str(dict(TrackedItem.Status.choices).get(value, value))
    if field in ("owner", "kept_by"):
        user = users.get(value)
        return user.get_username() if user is not None else f"a former account (#{value})"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return date_format(timezone.localtime(value), "j F Y, H:i")
    if isinstance(value, dt.date):
        return date_format(value, "j F Y")
    if field == "reasons":
        return " ".join(r.get("text", "") for r in value if isinstance(r, dict)) or "—"
    if isinstance(value, list):
        return " ".join(map(str, value))
    return str(value)


def _changes(newer, older, users: dict) -> list[FieldChange]:
    delta = newer.diff_against(older, excluded_fields=HISTORY_SKIPPED)
    order = list(HISTORY_LABELS)
    return [
        FieldChange(c.field, HISTORY_LABELS.get(c.field, c.field.replace("_", " ")),
                    _words(c.field, c.old, users), _words(c.field, c.new, users))
        for c in sorted(delta.changes, key=lambda c: (order.index(c.field)
                                                      if c.field in order else len(order)))
    ]  # fmt: skip


def item_history(*, item: TrackedItem, limit: int = 20) -> list[HistoryEntry]:
    """The latest `limit` saves of an item, newest first, each with what it changed (field,
    old, new); saves that changed nothing are left out. Two queries however long the history:
    the rows with their authors, and the people they name as owner."""
    rows = list(
        item.history.select_related("history_user").order_by("-history_date", "-history_id")[
            : limit + 1
        ]
    )
    named = {pk for row in rows for pk in (row.owner_id, row.kept_by_id) if pk is not None}
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=named)} if named else {}
    entries = []
    for index, newer in enumerate(rows[:limit]):
        older = rows[index + 1] if index + 1 < len(rows) else None
        note = newer.history_change_reason or ""
        if older is None:
            created = newer.history_type == "+"
            first = [
                FieldChange(name, HISTORY_LABELS[name], "—", _words(name, value, users))
                for name in STARTING_FIELDS
                if (value := getattr(newer, TrackedItem._meta.get_field(name).attname))
                not in (None, "", [])
                or name == "status"
            ]
            entries.append(
                HistoryEntry(newer.history_date, newer.history_user, created, first, note)
            )
            continue
        changes = _changes(newer, older, users)
        if changes:
            entries.append(
                HistoryEntry(newer.history_date, newer.history_user, False, changes, note)
            )
    return entries
