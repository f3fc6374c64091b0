"""Celery tasks of the law watch: thin wrappers around the services."""

from celery import shared_task
from django.utils import timezone

from tracker.lawwatch.services import law_watch_run


@shared_task(acks_late=True, ignore_result=True)
def law_watch_task() -> dict:
    """Daily: ask the EU's official sources about the tracked acts; findings wait for an editor."""
    return law_watch_run(now=timezone.now()).as_dict()
