"""Celery tasks of the workspace: thin wrappers over its notification services."""

from celery import shared_task
from django.utils import timezone

from tracker.workspace.notifications import incident_reminders, overdue_digests


@shared_task(acks_late=True, ignore_result=True)
def overdue_digests_task() -> int:
    """Weekly: each owner with overdue open items gets one digest."""
    return overdue_digests(now=timezone.now())


@shared_task(acks_late=True, ignore_result=True)
def incident_reminders_task() -> int:
    """Daily: owners of unreported incidents are reminded of the Art. 73 deadline."""
    return incident_reminders(now=timezone.now())
