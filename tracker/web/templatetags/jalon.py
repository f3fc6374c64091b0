import datetime as dt

from django import template
from django.utils.dateformat import format as date_format

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
