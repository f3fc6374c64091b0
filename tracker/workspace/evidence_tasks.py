"""Celery tasks of the evidence pieces (listed in CELERY_IMPORTS: autodiscovery reads only
tasks.py modules). Thin: the rule lives in tracker/workspace/evidence.py."""

from celery import shared_task
from django.utils import timezone

from tracker.workspace.evidence import evidence_expiry_reminders


@shared_task(acks_late=True, ignore_result=True)
def evidence_expiry_reminders_task() -> int:
    """Hourly: owners of evidence about to lapse are reminded, at their own lead times."""
    return evidence_expiry_reminders(now=timezone.now())
