"""Is this account's address proven? The questions other apps ask the accounts app.

- `email_verified(user)`: may this person receive reminders, password resets, invitations
  they send? (Uses the verification loaded with the user when there is one: no query.)
- `verified_users(queryset)`: the users of a queryset whose current address is verified, for
  a batch (owner reminders, digests) in one query.
- `verified_filter(prefix)`: the same as a Q, for querysets of rows pointing at a user
  (`Membership.objects.filter(verified_filter("user__"))`).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import F, Q, QuerySet

from tracker.accounts.models import EmailVerification


def _loaded_verification(user):
    """(True, record or None) when the user was loaded with its verification
    (`select_related("email_verification")`); else (False, None)."""
    relation = get_user_model().email_verification.related  # the reverse one-to-one
    if relation.is_cached(user):
        return True, relation.get_cached_value(user)
    return False, None


def email_verified(user) -> bool:
    """True when the user's current address is the one they verified."""
    if not getattr(user, "is_authenticated", False) or not user.email:
        return False
    loaded, record = _loaded_verification(user)
    if loaded:
        return record is not None and record.proves(user.email)
    return EmailVerification.objects.filter(
        user=user, email__iexact=user.email, verified_at__isnull=False
    ).exists()


def verification_state(user) -> EmailVerification | None:
    """The user's verification record (possibly for an older address), or None."""
    loaded, record = _loaded_verification(user)
    if loaded:
        return record
    return EmailVerification.objects.filter(user=user).first()


def verified_filter(prefix: str = "") -> Q:
    """Q for rows whose user (reached through `prefix`, e.g. "user__") has a verified address."""
    return Q(
        **{
            f"{prefix}email_verification__verified_at__isnull": False,
            f"{prefix}email_verification__email__iexact": F(f"{prefix}email"),
        }
    ) & ~Q(**{f"{prefix}email": ""})


def verified_users(queryset: QuerySet) -> QuerySet:
    """The users of `queryset` whose current address is verified."""
    return queryset.filter(verified_filter())
