import datetime as dt

from django import template
from django.utils.dateformat import format as date_format

from tracker.catalogue.models import Milestone, MilestoneChange

register = template.Library()

_FORMATS = {"day": "j F Y", "month": "F Y", "year": "Y"}


@register.filter
def precise_date(value: dt.date | None, precision: str = "day") -> str:
    """A date as precise as its source: '2 August 2026', 'August 2026' or '2026'."""
    if value is None:
        return ""
    return date_format(value, _FORMATS.get(precision, _FORMATS["day"]))


@register.filter
def countdown(days: int | None) -> str:
    """'today', 'tomorrow', 'in 12 days', or '' for past or undated milestones."""
    if days is None or days < 0:
        return ""
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return f"in {days:,} days"


_PERIODS = {1: "monthly", 12: "yearly"}
_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 9: "nine", 10: "ten"}


@register.filter
def period_words(every_months: int | None) -> str:
    """'yearly', 'every two years', 'every six months': a recurring milestone's period."""
    if not every_months:
        return ""
    if every_months in _PERIODS:
        return _PERIODS[every_months]
    years, months = divmod(every_months, 12)
    n, unit = (years, "years") if not months else (every_months, "months")
    return f"every {_NUMBERS.get(n, n)} {unit}"


@register.filter
def recurrence_words(milestone: Milestone, today: dt.date | None = None) -> str:
    """'yearly since 2025', 'every four years from 2028', 'yearly from 2025 to 2027': how a
    recurring milestone recurs, from its first date, its period and its last occurrence."""
    if milestone.kind != Milestone.Kind.RECURRING or milestone.date is None:
        return ""
    period, first = period_words(milestone.every_months), milestone.date.year
    today = today or dt.date.today()
    if milestone.until and milestone.until < today:
        return f"{period} from {first} to {milestone.until.year}"
    since = "since" if milestone.date <= today else "from"
    until = f", until {precise_date(milestone.until)}" if milestone.until else ""
    return f"{period} {since} {first}{until}"


# How the change log names a milestone's fields, in the order the page shows them.
FIELD_LABELS = {
    "regulation": "regulation",
    "key": "address",
    "title": "title",
    "summary": "summary",
    "kind": "kind of deadline",
    "date": "date",
    "date_precision": "date precision",
    "original_date": "original date",
    "every_months": "recurrence",
    "until": "last occurrence",
    "offset_days": "days after the event",
    "offset_hours": "hours after the event",
    "trigger": "starting event",
    "trigger_label": "starting event",
    "category": "category",
    "status": "status",
    "confidence": "confidence",
    "indicative": "indicative date",
    "legal_basis": "legal basis",
    "source_url": "source",
    "source_title": "source title",
    "verified_on": "verification date",
    "explainer": "what this means",
    "roles": "who it concerns",
    "scopes": "risk scope",
}
# Fields the date and status sentences already cover.
_SAID_ELSEWHERE = {"date", "original_date", "status"}


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name.replace("_", " "))


def field_order(name: str) -> tuple[int, str]:
    """Sort key: the page's order of fields, whatever order the database kept the JSON in."""
    order = list(FIELD_LABELS)
    return (order.index(name) if name in order else len(order), name)


def changed_fields(change: MilestoneChange) -> list[str]:
    """The labels of the fields a change touched beyond its date and status, deduplicated."""
    names = sorted((n for n in change.changes or {} if n not in _SAID_ELSEWHERE), key=field_order)
    return list(dict.fromkeys(field_label(n) for n in names))


def status_label(value: str) -> str:
    try:
        return Milestone.Status(value).label.lower()
    except ValueError:
        return value.replace("_", " ")


def date_changed(change: MilestoneChange) -> bool:
    """A move, or a date set or removed: not the date a details change merely restates."""
    return change.date_moved or (
        change.kind == MilestoneChange.Kind.MOVED and change.old_date != change.new_date
    )


def status_changed(change: MilestoneChange) -> bool:
    return bool(change.new_status) and change.old_status != change.new_status


def _date(change: MilestoneChange, value: dt.date | None) -> str:
    return precise_date(value, change.milestone.date_precision)


@register.filter
def change_words(change: MilestoneChange) -> str:
    """A recorded change in plain words: 'Date moved from 2 August 2026 to 2 December 2027 by
    Regulation (EU) 2026/1744', 'Status: proposed → adopted', 'Details changed: title'."""
    if change.kind == MilestoneChange.Kind.CREATED:
        return "New in the catalogue"
    parts = []
    old, new = _date(change, change.old_date), _date(change, change.new_date)
    if change.date_moved:
        parts.append(f"Date moved from {old} to {new}")
    elif date_changed(change):
        parts.append(f"Date set to {new}" if new else f"Date removed (was {old})")
    if parts and change.amending_act:
        parts[-1] += f" by {change.amending_act}"
    if status_changed(change):
        was = status_label(change.old_status) if change.old_status else "none"
        parts.append(f"Status: {was} → {status_label(change.new_status)}")
    if fields := changed_fields(change):
        parts.append(f"{'Also changed' if parts else 'Details changed'}: {', '.join(fields)}")
    return "; ".join(parts) or change.get_kind_display()


@register.filter
def change_headline(change: MilestoneChange) -> str:
    """The short form a feed entry's title ends with: 'date moved to 2 December 2027'."""
    if change.kind == MilestoneChange.Kind.CREATED:
        return "new in the catalogue"
    if date_changed(change):
        if change.new_date:
            return f"date moved to {_date(change, change.new_date)}"
        return "date removed"
    if status_changed(change):
        return f"status changed to {status_label(change.new_status)}"
    fields = changed_fields(change)
    return f"details changed: {', '.join(fields)}" if fields else "details changed"
