"""Rules for subscriber preferences, shared by the web form and the API serializer."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from django.core.exceptions import ValidationError
from django.utils import timezone as django_timezone
from django.utils.formats import date_format

from tracker.catalogue.models import LIVE_STATUSES, Milestone
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


def local_today(zone_name: str | None) -> dt.date:
    """Today where the subscriber lives (the site's zone when theirs is not a valid name)."""
    if zone_name in timezones():
        return django_timezone.now().astimezone(ZoneInfo(zone_name)).date()
    return django_timezone.localdate()


def validate_future_milestones(
    milestones: Iterable[Milestone], *, today: dt.date, keep: Iterable[int] = ()
) -> None:
    """A milestone chosen one by one must still have a date ahead: a past one can never
    produce a reminder. `keep` names milestones already followed, which stay allowed."""
    kept = set(keep)
    problems = []
    for milestone in milestones:
        if milestone.pk in kept:
            continue
        if milestone.kind == Milestone.Kind.RELATIVE:
            problems.append(
                f"“{milestone.title}” counts from an event, not a calendar date, so it cannot "
                "be followed by email."
            )
        elif milestone.status not in LIVE_STATUSES:
            problems.append(
                f"“{milestone.title}” is {milestone.get_status_display().lower()}: it no "
                "longer produces reminders."
            )
        elif milestone.next_date(today) is None:
            when = date_format(milestone.date, "j F Y") if milestone.date else ""
            problems.append(
                f"“{milestone.title}” is in the past ({when}) and has no date ahead: choose "
                "a deadline still to come."
            )
    if problems:
        raise ValidationError(problems)


DIGEST_MIN_LEAD_DAYS = 7


def validate_digest_choice(*, weekly_digest: bool, lead_days: list[int] | None) -> None:
    """A weekly digest lists what falls due within the longest lead time: shorter than a week,
    a deadline could fall between two digests and never be mentioned."""
    if weekly_digest and lead_days and max(lead_days) < DIGEST_MIN_LEAD_DAYS:
        raise ValidationError(
            f"A weekly digest needs a lead time of at least {DIGEST_MIN_LEAD_DAYS} days, "
            "or a deadline could fall between two digests."
        )


def choice_errors(data: dict, *, keep: Iterable[int] = ()) -> dict[str, ValidationError]:
    """The checks across fields that the subscribe and manage forms, the admin and the API all
    make, by field: milestones with a date ahead (`keep`: those already followed) and a weekly
    digest only with a lead time long enough. Fields `data` lacks (invalid) are not checked."""
    errors = {}
    if "milestones" in data:
        try:
            validate_future_milestones(
                data["milestones"], today=local_today(data.get("timezone")), keep=keep
            )
        except ValidationError as exc:
            errors["milestones"] = exc
    if "lead_days" in data:
        try:
            validate_digest_choice(
                weekly_digest=data.get("weekly_digest", False), lead_days=data["lead_days"]
            )
        except ValidationError as exc:
            errors["weekly_digest"] = exc
    return errors
