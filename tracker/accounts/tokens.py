"""Signed links for verifying an address: who, which address, where to go next; 3 days."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing

SALT = "jalon.accounts.verify-email"


@dataclass(frozen=True)
class VerificationLink:
    user: object
    email: str
    next_url: str


def verification_token(*, user, email: str, next_url: str = "") -> str:
    payload = {"u": user.pk, "e": email.lower()}
    if next_url:
        payload["n"] = next_url
    return signing.dumps(payload, salt=SALT, compress=True)


def verification_from_token(token: str) -> VerificationLink | None:
    """The link's account and address; None when forged, expired, or the account is gone."""
    try:
        payload = signing.loads(
            token, salt=SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE.total_seconds()
        )
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("e"), str):
        return None
    User = get_user_model()
    user = User._default_manager.filter(pk=payload.get("u"), is_active=True).first()
    if user is None:
        return None
    return VerificationLink(user=user, email=payload["e"], next_url=str(payload.get("n") or ""))
