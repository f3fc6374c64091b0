"""Signed links for subscribers, who have no account: confirm and unsubscribe."""

from __future__ import annotations

from django.core import signing

from tracker.reminders.models import Subscription

CONFIRM = "confirm"
MANAGE = "manage"
UNSUBSCRIBE = "unsubscribe"
DAY = 24 * 3600
# Unsubscribe links must keep working from any old email (RFC 8058); confirm links expire with
# the unconfirmed subscription; every email carries a fresh manage link.
MAX_AGE = {CONFIRM: 7 * DAY, MANAGE: 90 * DAY, UNSUBSCRIBE: None}


def subscription_token(*, subscription: Subscription, purpose: str) -> str:
    return signing.dumps(subscription.pk, salt=f"jalon.subscription.{purpose}", compress=True)


def subscription_from_token(*, token: str, purpose: str) -> Subscription | None:
    """The subscription a token names, or None when it is forged, expired or gone."""
    try:
        pk = signing.loads(token, salt=f"jalon.subscription.{purpose}", max_age=MAX_AGE[purpose])
    except signing.BadSignature:  # includes SignatureExpired
        return None
    subscription = Subscription.objects.filter(pk=pk).first()
    if subscription is not None and subscription.merged_into_id:  # merged: the address's one
        return Subscription.objects.filter(pk=subscription.merged_into_id).first()
    return subscription
