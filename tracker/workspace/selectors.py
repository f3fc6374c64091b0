"""Reads for the workspace, each scoped to one organisation and a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import F, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.dateformat import format as date_format

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


def items_all_for(*, organisation) -> QuerySet[TrackedItem]:
    """Every item of the organisation, the ones that no longer apply included, by date; one
    query (what `is_overdue` and the pages read is joined)."""
    return organisation.items.select_related(
        "milestone", "milestone__regulation", "owner", "organisation", "kept_by"
    ).order_by(F("milestone__date").asc(nulls_last=True), "milestone__key")


def items_for(*, organisation) -> QuerySet[TrackedItem]:
    """The items on the timeline: the rules select them, or a member keeps them on purpose."""
    return items_all_for(organisation=organisation).tracked()


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


# An item's history ------------------------------------------------------------------------

HISTORY_LABELS = {
    "status": "Status",
    "owner": "Owner",
    "target_date": "Target date",
    "notes": "Notes",
    "evidence_links": "Evidence links",
    "not_applicable_reason": "Why it does not apply",
    "applies": "Selected by the rules",
    "reasons": "Why it applies",
    "stopped_at": "No longer applies since",
    "stopped_reason": "Why it no longer applies",
    "kept_at": "Kept on purpose since",
    "kept_by": "Kept on purpose by",
    "changed_in_catalogue": "Date moved in the catalogue, not yet seen",
}
HISTORY_SKIPPED = ["id", "organisation", "milestone"]  # never change


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
        if older is None:
            created = newer.history_type == "+"
            first = [FieldChange("status", "Status", "—", _words("status", newer.status, users))]
            if newer.owner_id:
                first.append(FieldChange("owner", "Owner", "—", _words("owner", newer.owner_id,
                                                                        users)))  # fmt: skip
            entries.append(HistoryEntry(newer.history_date, newer.history_user, created, first))
            continue
        changes = _changes(newer, older, users)
        if changes:
            entries.append(HistoryEntry(newer.history_date, newer.history_user, False, changes))
    return entries
