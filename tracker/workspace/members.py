"""Writes for membership: invitations by email, accepting them, leaving and removing."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from tracker.outbox import services as outbox
from tracker.workspace.models import Invitation, Membership, Organisation
from tracker.workspace.notifications import INVITATION, owner_reminders_sync, workspace_message

SALT = "jalon.invitation"
VALID_FOR = 14 * 24 * 3600


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps(invitation.pk, salt=SALT, compress=True)


def invitation_from_token(token: str) -> Invitation | None:
    """The open invitation a token names, or None if forged, expired, used or gone."""
    try:
        pk = signing.loads(token, salt=SALT, max_age=VALID_FOR)
    except signing.BadSignature:
        return None
    return Invitation.objects.select_related("organisation").filter(pk=pk, accepted_at=None).first()


@transaction.atomic
def invitation_send(*, organisation: Organisation, email: str, role: str, by) -> Invitation:
    """Invite someone by email; the link works for 14 days, once."""
    invitation = Invitation.objects.create(
        organisation=organisation, email=email.strip(), role=role, invited_by=by
    )
    url = settings.SITE_URL + reverse(
        "workspace:invitation", kwargs={"token": invitation_token(invitation)}
    )
    message = workspace_message(
        INVITATION,
        to_email=invitation.email,
        context={"invitation": invitation, "url": url},
        now=timezone.now(),
    )
    outbox.send_many([message])
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user) -> Membership:
    """Join with the invited role (an existing member keeps the higher of the two roles)."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ValidationError("This invitation has already been used.")
    membership, created = Membership.objects.get_or_create(
        organisation=invitation.organisation, user=user, defaults={"role": invitation.role}
    )
    order = [Membership.Role.VIEWER, Membership.Role.EDITOR, Membership.Role.OWNER]
    if not created and order.index(invitation.role) > order.index(membership.role):
        membership.role = invitation.role
        membership.save(update_fields=["role"])
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return membership


@transaction.atomic
def membership_end(*, membership: Membership, by: Membership) -> None:
    """Leave (by yourself) or remove (by an owner); an organisation keeps at least one owner."""
    if by.pk != membership.pk and by.role != Membership.Role.OWNER:
        raise PermissionDenied("Only owners can remove members.")
    owners = Membership.objects.select_for_update().filter(
        organisation=membership.organisation, role=Membership.Role.OWNER
    )
    if membership.role == Membership.Role.OWNER and owners.count() == 1:
        raise ValidationError("An organisation needs an owner: make someone else owner first.")
    membership.organisation.items.filter(owner=membership.user).update(owner=None)
    owner_reminders_sync(organisation=membership.organisation, user=membership.user)
    membership.delete()
