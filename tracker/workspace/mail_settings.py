"""What each person hears from the workspace, and the links that stop it.

Every recurring workspace email (the weekly overdue digest, the daily incident clock, the
moved-date notice) carries RFC 8058 List-Unsubscribe headers and a footer with two links: one
that stops that kind of email at once (signed, no sign-in, so a mail client can POST to it),
and one to the person's settings page, where everything can be turned back on. Owner deadline
reminders belong to the reminder engine (tracker.reminders.personal) and stop through its own
unsubscribe link.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse

from tracker.workspace.models import Membership, Organisation, OwnerReminders

SALT = "jalon.workspace.mail-stop"
# Which OwnerReminders flag each stoppable kind of email obeys.
STOPPABLE = {"overdue_digest": "overdue_digest", "incident_clock": "incident_clock",
             "item_moved": "item_moved", "evidence_expiry": "evidence_expiry"}  # fmt: skip


def owner_key(*, organisation_id: int, user_id: int) -> str:
    """The name of a person's deadline reminders for one organisation, in the reminder engine."""
    return f"workspace:{organisation_id}:{user_id}"


def settings_url(organisation: Organisation) -> str:
    return settings.SITE_URL + reverse("workspace:my_reminders", kwargs={"slug": organisation.slug})


def stop_url(*, kind: str, user_id: int, organisation_id: int | None) -> str:
    """A link that stops `kind` for this person (in one organisation, or in all of them)."""
    token = signing.dumps({"k": kind, "u": user_id, "o": organisation_id}, salt=SALT)
    return settings.SITE_URL + reverse("workspace:mail_stop", kwargs={"token": token})


def stop_from_token(token: str) -> dict | None:
    """{"k": kind, "u": user id, "o": organisation id or None}, or None for a bad token."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    return data if isinstance(data, dict) and data.get("k") in STOPPABLE else None


def mail_stop(*, kind: str, user_id: int, organisation_id: int | None) -> int:
    """Stop one kind of workspace email for a person; repeating it is harmless."""
    field = STOPPABLE[kind]
    memberships = Membership.objects.filter(user_id=user_id)
    if organisation_id is not None:
        memberships = memberships.filter(organisation_id=organisation_id)
    organisations = list(memberships.values_list("organisation_id", flat=True))
    for org_id in organisations:
        OwnerReminders.objects.update_or_create(
            organisation_id=org_id, user_id=user_id, defaults={field: False}
        )
    return len(organisations)


def mail_settings(*, organisation, user) -> OwnerReminders:
    """The person's settings in one organisation (unsaved defaults when they never changed any)."""
    found = OwnerReminders.objects.filter(organisation=organisation, user=user).first()
    return found or OwnerReminders(organisation=organisation, user=user)


def mail_settings_save(*, organisation, user, **flags: bool) -> None:
    OwnerReminders.objects.update_or_create(organisation=organisation, user=user, defaults=flags)


def turned_off(kind: str, *, organisation_ref: str, user_ref: str) -> Exists:
    """An Exists() for querysets: has this person turned `kind` off in this organisation?"""
    return Exists(
        OwnerReminders.objects.filter(
            Q(**{STOPPABLE[kind]: False}),
            organisation_id=OuterRef(organisation_ref), user_id=OuterRef(user_ref),
        )
    )  # fmt: skip
