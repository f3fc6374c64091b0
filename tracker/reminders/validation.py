"""Rules for subscriber preferences, shared by the web form and the API serializer."""

from __future__ import annotations

import re
from functools import cache
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError

from tracker.reminders.models import Subscription

MAX_LEAD_DAYS = 730
MAX_LEAD_TIMES = 10
# How long a followed list may be (milestones chosen one by one, roles, scopes, categories):
# far above what the catalogue holds, low enough that no request makes thousands of lookups.
MAX_CHOSEN = 300


def validate_address_free(email: str, *, exclude_pk: int | None = None) -> None:
    """The public list has one subscription per address (the database holds it too)."""
    taken = Subscription.objects.public_list().filter(email__iexact=email.strip())
    taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError("This address already has a subscription.")


def validate_list_length(items) -> None:
    """Checked on the raw input, before each item is looked up."""
    if isinstance(items, (list, tuple)) and len(items) > MAX_CHOSEN:
        raise ValidationError(f"At most {MAX_CHOSEN} items.")


@cache
def timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_timezone(value: str) -> str:
    if value not in timezones():
        raise ValidationError(f"“{value}” is not a time zone name such as Europe/Brussels.")
    return value


def parse_lead_days(value: str | list) -> list[int]:
    """'90, 30, 7, 1' or [90, 30, 7, 1] -> [90, 30, 7, 1]; whole days between 0 and 730."""
    message = "Lead times are whole numbers of days, such as 90, 30, 7, 1."
    if not isinstance(value, (str, list, tuple)):
        raise ValidationError(message)
    items = re.split(r"[,\s]+", value.strip()) if isinstance(value, str) else list(value)
    items = [item for item in items if item != ""]
    if not items:
        raise ValidationError("Give at least one lead time, in whole days (for example 30, 7).")
    if any(isinstance(item, (float, bool)) for item in items):
        raise ValidationError(message)
    try:
        days = [int(item) for item in items]
    except (TypeError, ValueError):
        raise ValidationError(message) from None
    if any(d < 0 or d > MAX_LEAD_DAYS for d in days):
        raise ValidationError(f"Each lead time is between 0 and {MAX_LEAD_DAYS} days.")
    if len(set(days)) > MAX_LEAD_TIMES:
        raise ValidationError(f"At most {MAX_LEAD_TIMES} lead times.")
    return sorted(set(days), reverse=True)
