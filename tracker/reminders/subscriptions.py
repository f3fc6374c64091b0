"""Writes for the subscription lifecycle: request, confirm, change, expire.

Every email goes through the outbox (a Message row) and is dispatched after commit, so a
broker outage delays it but never loses it. Date moves arrive from the catalogue as change
events: see `changes.py`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from tracker.catalogue.models import Milestone, Regulation, Role, Scope
from tracker.reminders.emails import subscriber_message
from tracker.reminders.models import Message, Reminder, Subscription
from tracker.reminders.services import messages_dispatch_on_commit, reminders_plan
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


def _apply(subscription: Subscription, preferences: Preferences) -> None:
    subscription.regulation = preferences.regulation
    subscription.categories = sorted(set(preferences.categories))
    subscription.lead_days = sorted(set(preferences.lead_days), reverse=True)
    subscription.language = preferences.language
    subscription.timezone = preferences.timezone
    subscription.send_hour = preferences.send_hour
    subscription.save()
    subscription.roles.set(preferences.roles)
    subscription.scopes.set(preferences.scopes)
    subscription.milestones.set(preferences.milestones)


def _local_today(subscription: Subscription) -> dt.date:
    return timezone.now().astimezone(ZoneInfo(subscription.timezone)).date()


@transaction.atomic
def subscription_request(*, email: str, preferences: Preferences) -> Subscription:
    """Record a pending subscription and send its confirmation link (double opt-in).

    The caller answers the same way whether or not the address is known: each request is
    its own pending subscription, and nothing is said about others.
    """
    local, _, domain = email.strip().rpartition("@")
    subscription = Subscription(email=f"{local}@{domain.lower()}")
    _apply(subscription, preferences)
    token = subscription_token(subscription=subscription, purpose=CONFIRM)
    confirm_url = settings.SITE_URL + reverse("reminders:confirm", kwargs={"token": token})
    message = subscriber_message(
        Message.Kind.CONFIRMATION,
        subscription=subscription,
        context={"confirm_url": confirm_url},
        now=timezone.now(),
        list_headers=False,  # not on the list until confirmed
    )
    message.save()
    messages_dispatch_on_commit([message.pk])
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
    reminders_plan(subscription=subscription, today=_local_today(subscription))
    return True


@transaction.atomic
def subscription_update(*, subscription: Subscription, preferences: Preferences) -> None:
    """Change what a subscriber follows; pending reminders are planned again from scratch."""
    _apply(subscription, preferences)
    subscription.reminders.filter(status=Reminder.Status.PENDING).delete()
    reminders_plan(subscription=subscription, today=_local_today(subscription))


def subscriptions_expire(*, now: dt.datetime) -> int:
    """Delete subscriptions never confirmed within CONFIRM_WITHIN; returns how many."""
    stale = Subscription.objects.filter(
        status=Subscription.Status.PENDING, created_at__lt=now - CONFIRM_WITHIN
    )
    return stale.delete()[1].get("reminders.Subscription", 0)
