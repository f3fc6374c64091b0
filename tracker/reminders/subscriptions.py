"""Writes for the subscription lifecycle: request, confirm, change, expire.

The public list has one subscription per address. A request never tells the caller whether
the address is known, and never lets a stranger change or flood someone's subscription: a
pending or stopped address gets (at most once a day) a confirmation link for the requested
preferences; an active one gets (at most once a day) a link to its own manage page, and its
preferences stay as they are.

Every email goes through the outbox and is dispatched after commit, so a broker outage delays
it but never loses it. Date moves arrive from the catalogue as change events: see `changes.py`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from tracker.catalogue.models import Milestone, Regulation, Role, Scope
from tracker.outbox import services as outbox
from tracker.reminders.emails import CONFIRMATION, MANAGE_LINK, subscriber_message
from tracker.reminders.models import Digest, Reminder, Subscription
from tracker.reminders.selectors import subscription_summary
from tracker.reminders.services import reminders_plan
from tracker.reminders.tokens import CONFIRM, subscription_token

CONFIRM_WITHIN = dt.timedelta(days=7)


@dataclass(frozen=True)
class Preferences:
    """What a subscriber follows and how they want to hear about it."""

    regulation: Regulation | None = None
    roles: list[Role] = field(default_factory=list)
    scopes: list[Scope] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    milestones: list[Milestone] = field(default_factory=list)
    lead_days: list[int] = field(default_factory=lambda: [90, 30, 7, 1])
    language: str = "en"
    timezone: str = "Europe/Brussels"
    send_hour: int = 9
    weekly_digest: bool = False


def _apply(subscription: Subscription, preferences: Preferences) -> None:
    subscription.regulation = preferences.regulation
    subscription.categories = sorted(set(preferences.categories))
    subscription.lead_days = sorted(set(preferences.lead_days), reverse=True)
    subscription.language = preferences.language
    subscription.timezone = preferences.timezone
    subscription.send_hour = preferences.send_hour
    subscription.weekly_digest = preferences.weekly_digest
    subscription.save()
    subscription.roles.set(preferences.roles)
    subscription.scopes.set(preferences.scopes)
    subscription.milestones.set(preferences.milestones)


def _local_today(subscription: Subscription) -> dt.date:
    return timezone.now().astimezone(ZoneInfo(subscription.timezone)).date()


def _address_subscription(email: str) -> Subscription:
    """The address's one public subscription, locked; a new pending one if it has none."""
    public = Subscription.objects.public_list().select_for_update().annotate(address=Lower("email"))
    if found := public.filter(address=email.lower()).first():
        return found
    try:
        with transaction.atomic():  # a racing request for the same address may win
            return Subscription.objects.create(email=email)
    except IntegrityError:
        return public.get(address=email.lower())


@transaction.atomic
def subscription_request(*, email: str, preferences: Preferences) -> Subscription:
    """Ask the address to confirm these preferences (double opt-in), or, if it is already
    subscribed, send it a link to its own settings. At most one such email a day."""
    local, _, domain = email.strip().rpartition("@")
    subscription = _address_subscription(f"{local}@{domain.lower()}")
    now = timezone.now()
    if subscription.status == Subscription.Status.ACTIVE:
        message = subscriber_message(
            MANAGE_LINK, subscription=subscription, context={"subscription": subscription},
            now=now,
        )  # fmt: skip
        message.dedupe_key = f"manage:{subscription.pk}:{now:%Y-%m-%d}"
        outbox.send_many([message])
        return subscription
    subscription.status, subscription.requested_at = Subscription.Status.PENDING, now
    _apply(subscription, preferences)
    token = subscription_token(subscription=subscription, purpose=CONFIRM)
    confirm_url = settings.SITE_URL + reverse("reminders:confirm", kwargs={"token": token})
    message = subscriber_message(
        CONFIRMATION,
        subscription=subscription,
        context={
            "confirm_url": confirm_url,
            "summary": subscription_summary(
                subscription=subscription, today=_local_today(subscription)
            ),
        },
        now=now,
        list_headers=False,  # not on the list until confirmed
    )
    message.dedupe_key = f"confirm:{subscription.pk}:{now:%Y-%m-%d}"
    outbox.send_many([message])
    return subscription


@transaction.atomic
def subscription_confirm(*, subscription: Subscription) -> bool:
    """Activate a pending subscription and plan its reminders; False if it cannot be."""
    if subscription.status == Subscription.Status.ACTIVE:
        return True
    if subscription.status != Subscription.Status.PENDING:
        return False
    subscription.status = Subscription.Status.ACTIVE
    subscription.confirmed_at = timezone.now()
    subscription.save(update_fields=["status", "confirmed_at"])
    # A deadline nearer than a lead time already missed gets one "coming up" reminder, due
    # now: the next sweep sends it (a row like any other, so it cannot be doubled).
    reminders_plan(subscription=subscription, today=_local_today(subscription))
    return True


@transaction.atomic
def subscription_update(*, subscription: Subscription, preferences: Preferences) -> None:
    """Change what a subscriber follows; pending reminders are planned again from scratch."""
    _apply(subscription, preferences)
    subscription.reminders.filter(status=Reminder.Status.PENDING).delete()
    subscription.digests.filter(status=Digest.Status.PENDING).delete()
    reminders_plan(subscription=subscription, today=_local_today(subscription))


def subscriptions_expire(*, now: dt.datetime) -> int:
    """Delete subscriptions never confirmed within CONFIRM_WITHIN; returns how many."""
    stale = Subscription.objects.filter(
        status=Subscription.Status.PENDING, owner_key__isnull=True
    ).filter(
        Q(requested_at__lt=now - CONFIRM_WITHIN)
        | Q(requested_at__isnull=True, created_at__lt=now - CONFIRM_WITHIN)
    )
    return stale.delete()[1].get("reminders.Subscription", 0)
