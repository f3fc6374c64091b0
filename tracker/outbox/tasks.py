"""Celery tasks of the outbox."""

from celery import shared_task

from tracker.outbox.services import messages_send


@shared_task(acks_late=True, ignore_result=True)
def messages_send_task(message_ids: list[int]) -> dict:
    """Send the messages this worker wins, over one SMTP connection."""
    return messages_send(message_ids=message_ids)
