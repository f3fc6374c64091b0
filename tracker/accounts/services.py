"""The accounts app's writes: sign up, send and resend the verification link, verify.

Signing up never says whether an address has an account: a new address gets an account and
a verification link, a known one gets an email telling its owner someone tried, and both
answer the same page. An address counts as verified only once someone opens the link sent to
it and presses the button (GET does nothing: mail scanners follow links).
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from tracker.accounts import emails, signals
from tracker.accounts.models import EmailVerification
from tracker.accounts.tokens import verification_token
from tracker.outbox import services as outbox

USERNAME_MAX = 40


def _lock_address(email: str) -> None:
    """Serialise signups for one address (PostgreSQL), so two at once make one account."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"signup:{email}"])


def username_for(email: str) -> str:
    """A free username from the address's local part ("ada", else "ada-3f9c2a")."""
    User = get_user_model()
    base = slugify(email.split("@")[0])[:USERNAME_MAX] or "user"
    candidate = base
    while User._default_manager.filter(username__iexact=candidate).exists():
        candidate = f"{base}-{secrets.token_hex(3)}"
    return candidate


def account_signup(*, email: str, password: str, language: str = "en", next_url: str = ""):
    """Create an account for a new address and send it a verification link; for an address
    that has an account, create nothing and tell its owner. The new user, or None."""
    User = get_user_model()
    email = User._default_manager.normalize_email(email.strip())
    with transaction.atomic():
        _lock_address(email.lower())
        existing = User._default_manager.filter(email__iexact=email).order_by("pk").first()
        if existing is not None:
            make_password(password)  # the time a new account's password hash would take
            _account_exists_send(user=existing, email=email, language=language)
            return None
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    user = User._default_manager.create_user(
                        username=username_for(email), email=email, password=password
                    )
                break
            except IntegrityError:  # someone took the username meanwhile: draw another
                continue
        else:
            raise RuntimeError("no free username")
        EmailVerification.objects.create(user=user, email=email, language=language)
        verification_link_send(user=user, next_url=next_url, force=True)
        return user


def _account_exists_send(*, user, email: str, language: str) -> None:
    record = EmailVerification.objects.filter(user=user).first()
    language = record.language if record else language
    subject, text = emails.render_email("account_exists", language, {
        "email": user.email,
        "login_url": emails.absolute(reverse("login")),
        "reset_url": emails.absolute(reverse("password_reset")),
    })  # fmt: skip
    outbox.send(
        to=user.email, kind="account_exists", subject=subject, text=text,
        headers=emails.headers(language),
    )  # fmt: skip


def verification_link_send(
    *, user, next_url: str = "", language: str | None = None, force: bool = False,
    now: dt.datetime | None = None,
) -> bool:  # fmt: skip
    """Queue a verification link for the user's current address; False (nothing sent) when
    the address is verified already, or a link went out less than
    EMAIL_VERIFICATION_RESEND_AFTER ago (unless `force`)."""
    if not user.email:
        return False
    now = now or timezone.now()
    record, _created = EmailVerification.objects.get_or_create(
        user=user, defaults={"email": user.email, "language": language or "en"}
    )
    if record.proves(user.email):
        return False
    if record.email.lower() != user.email.lower():
        # The address changed since: what was verified (or sent) was for another one.
        EmailVerification.objects.filter(pk=record.pk).update(
            email=user.email, verified_at=None, link_sent_at=None
        )
    # One conditional UPDATE claims the right to send, so two clicks at once send one link.
    recent = now - settings.EMAIL_VERIFICATION_RESEND_AFTER
    window = Q() if force else Q(link_sent_at__isnull=True) | Q(link_sent_at__lte=recent)
    if not EmailVerification.objects.filter(window, pk=record.pk).update(link_sent_at=now):
        return False
    language = language or record.language
    token = verification_token(user=user, email=user.email, next_url=next_url)
    subject, text = emails.render_email("verify_email", language, {
        "email": user.email,
        "link": emails.absolute(reverse("verify_email", kwargs={"token": token})),
        "days": settings.EMAIL_VERIFICATION_MAX_AGE.days,
    })  # fmt: skip
    outbox.send(
        to=user.email, kind="verify_email", subject=subject, text=text,
        headers=emails.headers(language),
    )  # fmt: skip
    return True


def email_verify(*, user, email: str, now: dt.datetime | None = None) -> bool:
    """Mark `email` verified for the user if it is still the account's address; False if not."""
    if not user.email or user.email.lower() != email.lower():
        return False
    now = now or timezone.now()
    record, newly = EmailVerification.objects.get_or_create(
        user=user, defaults={"email": user.email, "verified_at": now}
    )
    if not newly and not record.proves(user.email):
        record.email, record.verified_at = user.email, now
        record.save(update_fields=["email", "verified_at"])
        newly = True
    if newly:
        user.email_verification = record
        signals.address_verified.send(sender=EmailVerification, user=user)
    return True
