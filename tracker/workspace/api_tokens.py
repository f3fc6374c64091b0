"""Personal API tokens: a person's key to the workspace API for one organisation.

A token is shown once, when it is made (`jalon_<prefix>_<random>`), and stored only as the
SHA-256 of the whole secret: the database never holds a usable token. A request presents the
secret, its hash is looked up by a unique index (so a wrong guess costs one indexed query and
no comparison leaks timing), and the token answers for its person with exactly that person's
role in the token's organisation; a read-only token never writes.

A token stops working when it is revoked, when it expires, or when its person is no longer a
member of its organisation (leaving or being removed). Joining again does not revive it: only
a membership that began before the token was made counts.

Writes are services (`token_create`, `token_revoke`); reads are selectors (`tokens_for`,
`token_get`, `token_authenticate`). This module is imported by models.py for the model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.utils import timezone

__all__ = ["ApiToken"]  # what models.py takes from here

# How long a token lives unless its maker says otherwise, and at most.
DEFAULT_DAYS = 90
MAX_DAYS = 365
# Tokens one person may make in an hour (all organisations together).
CREATE_LIMIT = 10
CREATE_WINDOW = dt.timedelta(hours=1)
# last_used_at is written at most this often per token (one UPDATE, not one per request).
LAST_USED_EVERY = dt.timedelta(minutes=1)
SECRET_START = "jalon_"  # noqa: S105 (the start of every token, not a secret)

VIEWERS_READ_ONLY_TOKENS = "Viewers can only make read-only tokens."
TOO_MANY = (
    f"You have made {CREATE_LIMIT} tokens in the last hour, the most allowed. "
    "Try again later, or revoke and reuse one you already have."
)


class ApiToken(models.Model):
    """One personal API token (the secret itself is never stored)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    organisation = models.ForeignKey(
        "workspace.Organisation", on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for.")
    prefix = models.CharField(
        max_length=20, unique=True, help_text="The start of the secret, shown in lists."
    )
    secret_hash = models.CharField(
        max_length=64, unique=True, help_text="SHA-256 of the whole secret, in hex."
    )
    read_only = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        indexes = [
            models.Index(fields=["user", "organisation", "-created_at"], name="api_token_user_org"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="api_token_expires_after_creation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def scope_label(self) -> str:
        return "Read-only" if self.read_only else "Read and write"

    @property
    def last_day(self) -> dt.date:
        """The last day it works (it stops at the midnight that ends it, in the site's zone)."""
        return (timezone.localtime(self.expires_at) - dt.timedelta(microseconds=1)).date()

    def is_active(self, now: dt.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def expiry_bounds(today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day a new token may be valid until (inclusive)."""
    return today + dt.timedelta(days=1), today + dt.timedelta(days=MAX_DAYS)


def default_expiry(today: dt.date) -> dt.date:
    return today + dt.timedelta(days=DEFAULT_DAYS)


def _end_of_day(day: dt.date) -> dt.datetime:
    """A token "valid until 3 March" works through that whole day, in the site's zone."""
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)
    return timezone.make_aware(midnight, timezone.get_current_timezone())


def expiry_validate(expires_on: dt.date | None, today: dt.date) -> None:
    """The one expiry rule, for the form and the service alike."""
    first, last = expiry_bounds(today)
    if expires_on is None:
        raise ValidationError({"expires_on": "Choose when the token expires."})
    if expires_on < first:
        raise ValidationError({"expires_on": "Choose a date after today."})
    if expires_on > last:
        raise ValidationError(
            {"expires_on": f"A token lives at most {MAX_DAYS} days: choose {last:%-d %B %Y} "
                           "or earlier."}
        )  # fmt: skip


@dataclass(frozen=True)
class NewToken:
    """A token just made, with its secret: the only time the secret exists outside a client."""

    token: ApiToken
    secret: str


def token_create(
    *, membership, name: str, expires_on: dt.date | None, read_only: bool,
    now: dt.datetime | None = None,
) -> NewToken:  # fmt: skip
    """Make a token for the member in their organisation. Viewers may only make read-only
    tokens; a person makes at most CREATE_LIMIT tokens an hour."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    name = (name or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Give the token a name, such as the script that will use it."
    try:
        expiry_validate(expires_on, today)
    except ValidationError as exc:
        errors |= {k: v[0] for k, v in exc.message_dict.items()}
    if not read_only and not membership.can_edit:
        errors["read_only"] = VIEWERS_READ_ONLY_TOKENS
    if errors:
        raise ValidationError(errors)
    recent = ApiToken.objects.filter(user_id=membership.user_id, created_at__gt=now - CREATE_WINDOW)
    if recent.count() >= CREATE_LIMIT:
        raise ValidationError(TOO_MANY, code="rate_limited")
    prefix = f"{SECRET_START}{secrets.token_hex(4)}"
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user_id=membership.user_id, organisation_id=membership.organisation_id, name=name,
        prefix=prefix, secret_hash=secret_hash(secret), read_only=read_only, created_at=now,
        expires_at=_end_of_day(expires_on),
    )  # fmt: skip
    return NewToken(token=token, secret=secret)


def token_revoke(*, token: ApiToken, now: dt.datetime | None = None) -> bool:
    """Revoke a token (the caller found it among the person's own). True if this call did."""
    now = now or timezone.now()
    done = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    if done:
        token.revoked_at = now
    return bool(done)


# Reads ------------------------------------------------------------------------------------


def tokens_for(*, user, organisation) -> models.QuerySet[ApiToken]:
    """The person's own tokens for the organisation, newest first (one query)."""
    return ApiToken.objects.filter(user=user, organisation=organisation).order_by(
        "-created_at", "-pk"
    )


def token_get(*, user, organisation, pk: int) -> ApiToken:
    """One of the person's own tokens for the organisation, or 404 (anyone else's too)."""
    token = tokens_for(user=user, organisation=organisation).filter(pk=pk).first()
    if token is None:
        raise Http404
    return token


def token_authenticate(*, secret: str, now: dt.datetime | None = None) -> ApiToken | None:
    """The live token with this secret, with its user and organisation, or None: unknown,
    revoked, expired, its person inactive or no longer a member since before it was made.
    One query; and at most once a minute per token one UPDATE of last_used_at."""
    now = now or timezone.now()
    if not secret.startswith(SECRET_START) or len(secret) > 200:
        return None
    digest = secret_hash(secret)
    membership = apps.get_model("workspace", "Membership")  # models.py imports this module
    member = membership.objects.filter(
        user_id=OuterRef("user_id"), organisation_id=OuterRef("organisation_id"),
        joined_at__lte=OuterRef("created_at"),
    )  # fmt: skip
    token = (
        ApiToken.objects.select_related("user", "organisation")
        .filter(
            secret_hash=digest, revoked_at__isnull=True, expires_at__gt=now, user__is_active=True
        )
        .filter(Exists(member))
        .first()
    )
    if token is None or not hmac.compare_digest(token.secret_hash, digest):
        return None
    if token.last_used_at is None or token.last_used_at <= now - LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_EVERY)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token
