"""Celery tasks of webhooks: thin wrappers that take primary keys."""

from celery import shared_task
from django.utils import timezone

from tracker.catalogue.events import change_consume
from tracker.webhooks.delivery import deliveries_send, webhooks_sweep
from tracker.webhooks.services import milestone_moved_plan, webhooks_plan


@shared_task(acks_late=True, ignore_result=True)
def webhooks_plan_task() -> dict:
    """Hourly: plan the due-soon, overdue and incident-deadline events (and catch up moves)."""
    return webhooks_plan(now=timezone.now())


@shared_task(acks_late=True, ignore_result=True)
def webhooks_sweep_task() -> dict:
    """Every minute: recover lost deliveries, hand the due ones to workers."""
    return webhooks_sweep(now=timezone.now())


@shared_task(acks_late=True, ignore_result=True)
def webhooks_deliver_task(delivery_ids: list[int]) -> dict:
    """Claim and deliver these rows (each claimed before it is sent)."""
    return deliveries_send(delivery_ids=delivery_ids)


@shared_task(acks_late=True, ignore_result=True)
def milestone_change_consume_task(change_id: int) -> None:
    """After a catalogue change commits: a "date moved" event for each organisation's
    endpoints (settings.CATALOGUE_CHANGE_CONSUMERS)."""
    change_consume(
        change_id=change_id, consumer="webhooks",
        handler=lambda change: milestone_moved_plan(change=change),
    )  # fmt: skip
