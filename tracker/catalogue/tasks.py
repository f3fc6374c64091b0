"""Celery tasks of the catalogue: thin wrappers around its services."""

from celery import shared_task
from django.utils import timezone

from tracker.catalogue.events import changes_publish_pending


@shared_task(acks_late=True, ignore_result=True)
def changes_publish_pending_task() -> int:
    """Every minute: offer again the changes a consumer never acknowledged."""
    return changes_publish_pending(now=timezone.now())
