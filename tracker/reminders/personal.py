"""Personal reminders, for other apps: the one way in to the reminder engine from outside.

An app names a person's reminders with a key of its own ("workspace:<organisation>:<user>"),
says which milestones they follow and, per milestone, the person's own target date when they
set one: reminders then count down to that date (and say the legal date too). The person's
lead times, zone and hour, and whether they want the reminders at all, are set here as well.
The engine keeps the rows; the caller never writes them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from tracker.reminders.models import DEFAULT_LEAD_DAYS, Reminder, Subscription
from tracker.reminders.services import reminders_plan


@dataclass(frozen=True)
class PersonalSettings:
    enabled: bool = True
    lead_days: tuple[int, ...] = tuple(DEFAULT_LEAD_DAYS)
    timezone: str = "Europe/Brussels"
    send_hour: int = 9
    stopped_at: dt.datetime | None = None  # when the person used the unsubscribe link


def personal_settings(*, key: str) -> PersonalSettings:
    return personal_settings_many(keys=[key])[key]


def personal_settings_many(*, keys: list[str]) -> dict[str, PersonalSettings]:
    """`personal_settings` for many keys in one query; a key never set gets the defaults."""
    found = {key: PersonalSettings() for key in keys}
    for subscription in Subscription.objects.filter(owner_key__in=keys):
        found[subscription.owner_key] = PersonalSettings(
            enabled=subscription.status == Subscription.Status.ACTIVE,
            lead_days=tuple(subscription.lead_days),
            timezone=subscription.timezone,
            send_hour=subscription.send_hour,
            stopped_at=subscription.unsubscribed_at,
        )
    return found


def _replan(subscription: Subscription) -> None:
    # Cancelled rows (from an unsubscribe) would block the same reminders planned again.
    subscription.reminders.filter(
        status__in=[Reminder.Status.PENDING, Reminder.Status.CANCELLED]
    ).delete()
    today = timezone.now().astimezone(ZoneInfo(subscription.timezone)).date()
    reminders_plan(subscription=subscription, today=today)


def _subscription(key: str, email: str, manage_url: str) -> Subscription:
    subscription, _ = Subscription.objects.get_or_create(
        owner_key=key,
        defaults={"email": email, "status": Subscription.Status.ACTIVE,
                  "confirmed_at": timezone.now(), "move_notices": False,
                  "manage_url": manage_url},
    )  # fmt: skip
    return subscription


@transaction.atomic
def personal_follow(
    *, key: str, email: str, targets: dict[int, dt.date | None], manage_url: str
) -> None:
    """Follow exactly these milestones (id -> the person's target date, or None for the
    legal date) and plan their reminders. An empty dict stops them all; nothing is created
    for a person who follows nothing."""
    subscription = Subscription.objects.select_for_update().filter(owner_key=key).first()
    if subscription is None:
        if not targets or not email:
            return
        subscription = _subscription(key, email, manage_url)
    subscription.email, subscription.manage_url = email or subscription.email, manage_url
    subscription.targets = {
        str(pk): day.isoformat() for pk, day in sorted(targets.items()) if day is not None
    }
    subscription.save(update_fields=["email", "manage_url", "targets"])
    subscription.milestones.set(list(targets))
    _replan(subscription)


@transaction.atomic
def personal_configure(
    *, key: str, email: str, manage_url: str, enabled: bool, lead_days: list[int], tz: str,
    send_hour: int,
) -> None:  # fmt: skip
    """Set the person's lead times, zone and hour, and turn their reminders on or off (on
    again after they used an email's unsubscribe link, too)."""
    subscription = _subscription(key, email, manage_url)
    subscription.email, subscription.manage_url = email or subscription.email, manage_url
    subscription.lead_days, subscription.timezone = lead_days, tz
    subscription.send_hour = send_hour
    if enabled:
        subscription.status, subscription.unsubscribed_at = Subscription.Status.ACTIVE, None
    elif subscription.status != Subscription.Status.UNSUBSCRIBED:
        subscription.status = Subscription.Status.UNSUBSCRIBED
        subscription.unsubscribed_at = timezone.now()
    subscription.problem, subscription.problem_at = "", None
    subscription.save()
    _replan(subscription)
