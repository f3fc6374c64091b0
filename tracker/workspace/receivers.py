"""What the workspace does when other apps tell it something (connected in apps.py)."""

from __future__ import annotations

import logging

from django.db import transaction

from tracker.accounts.signals import address_verified
from tracker.workspace.models import Membership
from tracker.workspace.notifications import owner_reminders_sync

log = logging.getLogger(__name__)


def _owner_reminders_start(sender, *, user, **kwargs) -> None:
    """A person proved their address: start the owner reminders held back until now, in each
    organisation they belong to. One organisation that fails does not stop the others, nor
    the verification itself (the next change of the person's items syncs it again)."""
    memberships = Membership.objects.filter(user=user).select_related("organisation")
    for membership in memberships:
        try:
            with transaction.atomic():
                owner_reminders_sync(organisation=membership.organisation, user=user)
        except Exception:
            log.exception(
                "Owner reminders for %s in %s not started", user.pk, membership.organisation_id
            )


def connect() -> None:
    address_verified.connect(_owner_reminders_start, dispatch_uid="workspace-owner-reminders")
