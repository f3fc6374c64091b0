"""Celery tasks of the reminder engine: thin wrappers that take primary keys."""

from celery import shared_task
from django.utils import timezone

from tracker.reminders.services import message_send, messages_ready, reminders_sweep


@shared_task(acks_late=True, ignore_result=True)
def reminders_sweep_task() -> dict:
    """Every minute: recover stalled sends, turn due reminders into messages, dispatch."""
    now = timezone.now()
    report = reminders_sweep(now=now)  # committed on return
    ready = messages_ready(now=now)
    for message_id in ready:
        message_send_task.delay(message_id)
    return {"recovered": report.recovered, "skipped": report.skipped, "dispatched": len(ready)}


@shared_task(acks_late=True, ignore_result=True)
def message_send_task(message_id: int) -> str:
    """Send one message if this worker wins its claim."""
    return message_send(message_id=message_id)
