"""Is this account's address proven? The one question other apps ask the accounts app."""

from __future__ import annotations

from tracker.accounts.models import EmailVerification


def email_verified(user) -> bool:
    """True when the user's current address is the one they verified."""
    if not getattr(user, "is_authenticated", False) or not user.email:
        return False
    return EmailVerification.objects.filter(
        user=user, email__iexact=user.email, verified_at__isnull=False
    ).exists()
