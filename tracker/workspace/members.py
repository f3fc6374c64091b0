"""Writes for membership: invitations bound to their address, roles, ownership, leaving.

An organisation always keeps an owner. Every write that can remove or demote an owner first
locks the organisation's row (SELECT ... FOR UPDATE), then reads the memberships again and
counts the owners. Two owners removing each other at the same moment are therefore served one
after the other, and the second finds that it would leave nobody in charge (or that it is no
longer a member at all). Locking the owners' rows instead would not do: each transaction would
lock a different set, and a count locks nothing.

An invitation works only for the address it was sent to, once that address is verified on the
account that opens it. Sending is limited: an owner with a verified address, at most
INVITATIONS_PER_HOUR invitation emails per organisation, one resend per invitation every
RESEND_INTERVAL. The outbox's rows are the record of what was sent (their topic names the
organisation and the invitation), so revoking an invitation, which deletes it, does not reset
the count.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Min
from django.urls import reverse
from django.utils import timezone

from tracker.accounts.verification import email_verified
from tracker.outbox import services as outbox
from tracker.outbox.models import Message
from tracker.workspace.models import Invitation, Membership, Organisation
from tracker.workspace.notifications import INVITATION, owner_reminders_sync, workspace_message

SALT = "jalon.invitation"
VALID_FOR = 14 * 24 * 3600
INVITATIONS_PER_HOUR = 30
RESEND_INTERVAL = dt.timedelta(minutes=10)

OWNER = Membership.Role.OWNER
RANK = {Membership.Role.VIEWER: 0, Membership.Role.EDITOR: 1, Membership.Role.OWNER: 2}

# Why a signed-in account may not accept an invitation (the invitation page explains each).
WRONG_ACCOUNT = "wrong_account"
UNVERIFIED = "unverified"
REFUSALS = {
    WRONG_ACCOUNT: "This invitation was sent to another address than your account's. Sign in "
    "with the account that uses the invited address, or sign up with it.",
    UNVERIFIED: "Verify your email address first: the invitation works only once the invited "
    "address is verified on your account.",
}
LAST_OWNER = "An organisation needs an owner: make someone else owner first."
NOT_A_MEMBER = "You are no longer a member of this organisation."


@dataclass(frozen=True)
class InvitationSent:
    """An invitation and what the outbox did with its email."""

    invitation: Invitation
    held_back: str = ""  # why the outbox kept the email back (its per-address cap); "" if queued


def invitation_token(invitation: Invitation) -> str:
    """A signed link token; each call gives a fresh one, valid for VALID_FOR from now."""
    return signing.dumps(invitation.pk, salt=SALT, compress=True)


def invitation_from_token(token: str) -> Invitation | None:
    """The open invitation a token names, or None if forged, expired, used or revoked."""
    try:
        pk = signing.loads(token, salt=SALT, max_age=VALID_FOR)
    except signing.BadSignature:
        return None
    if not isinstance(pk, int):
        return None
    return (
        Invitation.objects.select_related("organisation", "invited_by")
        .filter(pk=pk, accepted_at=None)
        .first()
    )


def invitation_refusal(*, invitation: Invitation, user) -> str:
    """Why `user` may not accept `invitation` (WRONG_ACCOUNT, UNVERIFIED), or ""."""
    address = (getattr(user, "email", "") or "").strip().casefold()
    if not address or address != invitation.email.strip().casefold():
        return WRONG_ACCOUNT
    if not email_verified(user):
        return UNVERIFIED
    return ""


def _topic(invitation: Invitation) -> str:
    return f"invitation:{invitation.organisation_id}:{invitation.pk}"


def _minutes(delta: dt.timedelta) -> str:
    n = max(1, math.ceil(delta.total_seconds() / 60))
    return f"{n} minute{'s' if n != 1 else ''}"


def _lock(organisation_id: int) -> Organisation:
    """The organisation's row, locked until the transaction ends: writes that could leave it
    without an owner, or past its invitation limit, run one at a time."""
    return Organisation.objects.select_for_update().get(pk=organisation_id)


def _owners(organisation: Organisation) -> int:
    return Membership.objects.filter(organisation=organisation, role=OWNER).count()


def _reread(membership: Membership, organisation: Organisation) -> Membership | None:
    """The membership as it is now, after the lock (another request may have changed it)."""
    return (
        Membership.objects.select_related("user")
        .filter(pk=membership.pk, organisation=organisation)
        .first()
    )


def _acting_owner(by, organisation: Organisation, what: str) -> Membership:
    """The acting person's membership, re-read; PermissionDenied unless they are an owner."""
    if isinstance(by, Membership):
        actor = _reread(by, organisation)
    else:
        actor = Membership.objects.filter(organisation=organisation, user=by).first()
    if actor is None:
        raise PermissionDenied(NOT_A_MEMBER)
    if actor.role != OWNER:
        raise PermissionDenied(f"Only owners can {what}.")
    return actor


def _may_send(*, organisation: Organisation, by, now: dt.datetime) -> None:
    """Refuse, with the reason, an invitation email the sender or the organisation may not
    send now: the sender's address must be verified; INVITATIONS_PER_HOUR per organisation."""
    if not email_verified(by):
        raise ValidationError(
            "Verify your email address before you invite anyone: invitations go out in your name.",
            code="sender_unverified",
        )
    window = Message.objects.filter(
        kind=INVITATION,
        topic__startswith=f"invitation:{organisation.pk}:",
        created_at__gt=now - dt.timedelta(hours=1),
    ).aggregate(n=Count("pk"), first=Min("created_at"))
    if window["n"] >= INVITATIONS_PER_HOUR:
        wait = window["first"] + dt.timedelta(hours=1) - now
        raise ValidationError(
            f"This organisation has sent {window['n']} invitations in the last hour, the most "
            f"it may. Try again in {_minutes(wait)}.",
            code="rate_limited",
        )


def _email(*, invitation: Invitation, by, now: dt.datetime) -> str:
    """Queue the invitation email with a fresh link; why the outbox held it back, or ""."""
    url = settings.SITE_URL + reverse(
        "workspace:invitation", kwargs={"token": invitation_token(invitation)}
    )
    message = workspace_message(
        INVITATION,
        to_email=invitation.email,
        context={"invitation": invitation, "inviter": by, "url": url},
        now=now,
        topic=_topic(invitation),
    )
    stored = outbox.send_many([message])
    if stored and stored[0].status == Message.Status.CANCELLED:
        return stored[0].last_error
    return ""


@transaction.atomic
def invitation_send(*, organisation: Organisation, email: str, role: str, by) -> InvitationSent:
    """Invite someone by email (an owner with a verified address); the link works for 14 days,
    once, and only for that address."""
    now = timezone.now()
    organisation = _lock(organisation.pk)  # the hourly count and the insert, one at a time
    _acting_owner(by, organisation, "invite")
    email = email.strip()
    if organisation.memberships.filter(user__email__iexact=email).exists():
        raise ValidationError(f"{email} is already a member.", code="member")
    if organisation.invitations.filter(email__iexact=email, accepted_at=None).exists():
        raise ValidationError(
            f"{email} is already invited: resend or revoke that invitation below.",
            code="pending",
        )
    _may_send(organisation=organisation, by=by, now=now)
    invitation = Invitation.objects.create(
        organisation=organisation, email=email, role=role, invited_by=by
    )
    return InvitationSent(invitation, _email(invitation=invitation, by=by, now=now))


@transaction.atomic
def invitation_resend(*, invitation: Invitation, by) -> InvitationSent:
    """Send a pending invitation again with a fresh link, at most once per RESEND_INTERVAL."""
    now = timezone.now()
    organisation = _lock(invitation.organisation_id)
    _acting_owner(by, organisation, "resend invitations")
    invitation = Invitation.objects.filter(pk=invitation.pk, accepted_at=None).first()
    if invitation is None:
        raise ValidationError("This invitation was accepted or revoked meanwhile.")
    last = (
        Message.objects.filter(kind=INVITATION, topic=_topic(invitation))
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if last is not None and now - last < RESEND_INTERVAL:
        raise ValidationError(
            f"The invitation to {invitation.email} was sent less than 10 minutes ago. You can "
            f"send it again in {_minutes(last + RESEND_INTERVAL - now)}.",
            code="too_soon",
        )
    _may_send(organisation=organisation, by=by, now=now)
    return InvitationSent(invitation, _email(invitation=invitation, by=by, now=now))


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, by) -> None:
    """Withdraw a pending invitation: its link stops working and an email still queued is
    cancelled."""
    organisation = _lock(invitation.organisation_id)
    _acting_owner(by, organisation, "revoke invitations")
    invitation = Invitation.objects.filter(pk=invitation.pk).first()
    if invitation is None:
        return  # revoked meanwhile: the wish is granted
    if invitation.accepted_at is not None:
        raise ValidationError(
            f"{invitation.email} has already accepted: remove the member instead."
        )
    outbox.messages_cancel(
        Message.objects.filter(kind=INVITATION, topic=_topic(invitation)),
        reason="The invitation was revoked.",
    )
    invitation.delete()


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user) -> Membership:
    """Join with the invited role (an existing member keeps the higher of the two roles), if
    `user` is signed in with the invited address, verified."""
    invitation = Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
    if invitation is None:
        raise ValidationError("This invitation has been revoked.", code="revoked")
    if invitation.accepted_at is not None:
        raise ValidationError("This invitation has already been used.", code="used")
    refusal = invitation_refusal(invitation=invitation, user=user)
    if refusal:
        raise ValidationError(REFUSALS[refusal], code=refusal)
    membership, created = Membership.objects.get_or_create(
        organisation=invitation.organisation, user=user, defaults={"role": invitation.role}
    )
    if not created and RANK[invitation.role] > RANK[membership.role]:
        membership.role = invitation.role
        membership.save(update_fields=["role"])
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return membership


def membership_end_check(*, membership: Membership, by: Membership) -> None:
    """PermissionDenied unless `by` may end `membership`: your own, or anyone's as an owner."""
    if by.pk != membership.pk and by.role != OWNER:
        raise PermissionDenied("Only owners can remove members.")


@transaction.atomic
def membership_end(*, membership: Membership, by: Membership) -> None:
    """Leave (by yourself) or remove (by an owner); an organisation keeps at least one owner.

    The items the person owned here lose their owner, and their reminders for them stop.
    """
    organisation = _lock(membership.organisation_id)
    actor = _reread(by, organisation)
    if actor is None:
        raise PermissionDenied(NOT_A_MEMBER)
    target = _reread(membership, organisation)
    if target is None:
        raise ValidationError(f"{membership.user} is no longer a member.", code="gone")
    membership_end_check(membership=target, by=actor)
    if target.role == OWNER and _owners(organisation) == 1:
        raise ValidationError(LAST_OWNER, code="last_owner")
    organisation.items.filter(owner=target.user).update(owner=None)
    owner_reminders_sync(organisation=organisation, user=target.user)
    target.delete()


@transaction.atomic
def membership_role_change(*, membership: Membership, role: str, by: Membership) -> Membership:
    """An owner gives a member (themselves included) another role; never the last owner's."""
    if role not in Membership.Role.values:
        raise ValidationError(f"“{role}” is not a role.", code="bad_role")
    organisation = _lock(membership.organisation_id)
    _acting_owner(by, organisation, "change roles")
    target = _reread(membership, organisation)
    if target is None:
        raise ValidationError(f"{membership.user} is no longer a member.", code="gone")
    if target.role == role:
        return target
    if target.role == OWNER and _owners(organisation) == 1:
        raise ValidationError(
            f"{target.user} is the only owner: make someone else owner first.",
            code="last_owner",
        )
    target.role = role
    target.save(update_fields=["role"])
    return target


@transaction.atomic
def ownership_transfer(*, to: Membership, by: Membership, then: str) -> Membership:
    """An owner makes another member owner and, in the same step, keeps their own ownership
    (`then` = owner) or steps down to editor or viewer. The new owner's membership."""
    if then not in Membership.Role.values:
        raise ValidationError(f"“{then}” is not a role.", code="bad_role")
    organisation = _lock(by.organisation_id)
    actor = _acting_owner(by, organisation, "transfer ownership")
    target = _reread(to, organisation)
    if target is None:
        raise ValidationError(f"{to.user} is no longer a member.", code="gone")
    if target.pk == actor.pk:
        raise ValidationError("Choose another member to make owner.", code="self")
    if target.role != OWNER:
        target.role = OWNER
        target.save(update_fields=["role"])
    if then != OWNER:
        actor.role = then
        actor.save(update_fields=["role"])
    return target
