"""Celery tasks of the workspace: thin wrappers over its notification services."""

import logging

from celery import shared_task
from django.utils import timezone

from tracker.catalogue.events import change_consume
from tracker.workspace.changes import milestone_change_apply, tracking_sync_all
from tracker.workspace.notifications import incident_reminders, overdue_digests

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def overdue_digests_task() -> int:
    """Weekly: each owner with overdue open items gets one digest."""
    return overdue_digests(now=timezone.now())


@shared_task(acks_late=True, ignore_result=True)
def incident_reminders_task() -> int:
    """Daily: owners of unreported incidents are reminded of the Art. 73 deadline."""
    return incident_reminders(now=timezone.now())


@shared_task(acks_late=True, ignore_result=True)
def milestone_change_consume_task(change_id: int) -> None:
    """After a catalogue change commits: flag moved items, tell owners, re-sync what applies."""
    change_consume(change_id=change_id, consumer="workspace", handler=milestone_change_apply)


@shared_task(acks_late=True, ignore_result=True)
def tracking_sync_all_task() -> dict:
    """Daily: every organisation's items in line with the rules shipped in this release."""
    outcome = tracking_sync_all()
    for error in outcome["errors"]:
        log.warning("tracking sync failed for %(organisation)s: %(error)s", error)
    return outcome
