"""Celery tasks of the reminder engine: thin wrappers that take primary keys."""

import logging

from celery import shared_task
from django.utils import timezone

from tracker.reminders.services import (
    message_send,
    messages_ready,
    reminders_plan_all,
    reminders_sweep,
)
from tracker.reminders.subscriptions import subscriptions_expire


@shared_task(acks_late=True, ignore_result=True)
def reminders_sweep_task() -> dict:
    """Every minute: recover stalled sends, turn due reminders into messages, dispatch."""
    now = timezone.now()
    report = reminders_sweep(now=now)  # committed on return
    ready = messages_ready(now=now)
    dispatch(ready)
    return {"recovered": report.recovered, "skipped": report.skipped, "dispatched": len(ready)}


@shared_task(acks_late=True, ignore_result=True)
def message_send_task(message_id: int) -> str:
    """Send one message if this worker wins its claim."""
    return message_send(message_id=message_id)


@shared_task(acks_late=True, ignore_result=True)
def reminders_plan_all_task() -> int:
    """Daily: plan what came into view (next recurring occurrences, new milestones)."""
    return reminders_plan_all(now=timezone.now())


@shared_task(acks_late=True, ignore_result=True)
def subscriptions_expire_task() -> int:
    """Daily: forget subscriptions that were never confirmed."""
    return subscriptions_expire(now=timezone.now())


log = logging.getLogger(__name__)


def dispatch(message_ids: list[int]) -> None:
    """Put send tasks on the broker; if it is down, the rows wait for the next sweep."""
    for message_id in message_ids:
        try:
            message_send_task.apply_async((message_id,), retry=False)
        except Exception:  # broker unreachable: nothing is lost, the sweep re-offers the row
            log.warning(
                "broker unavailable; message %s will be dispatched by a later sweep",
                message_id,
                exc_info=True,
            )
            return
