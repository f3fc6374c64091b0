"""Celery tasks of the reminder engine: thin wrappers that take primary keys."""

import logging
import time

from celery import shared_task
from django.utils import timezone

from tracker.catalogue.events import change_consume
from tracker.outbox.services import messages_dispatch, messages_ready, messages_send
from tracker.reminders.changes import milestone_change_apply
from tracker.reminders.services import digests_sweep, reminders_plan_all, reminders_sweep
from tracker.reminders.subscriptions import subscriptions_expire

log = logging.getLogger(__name__)

SWEEP_BUDGET_SECONDS = 50  # stay under the beat interval
# Sweeps that may run at once when more is due than one batch: the beat's, and this many it
# asks for. The worker has 2 processes (Procfile): rendering is the sweep's cost, so a second
# sweeper renders while the first does, and the two share the sending.
SWEEP_HELPERS = 1


@shared_task(acks_late=True, ignore_result=True)
def reminders_sweep_task(helpers: int = SWEEP_HELPERS) -> dict:
    """Every minute: recover stalled sends, turn due reminders and weekly digests into
    messages, dispatch.

    Sweeps batch after batch, each committed and dispatched at once so that workers send
    while the next batch is rendered, until nothing more is due or the time budget is spent;
    the next beat tick goes on from there. When the first batch is full, it puts `helpers`
    more sweeps on the broker (which ask for none): overlapping sweeps are safe (each skips
    the rows another has locked), so the rendering spreads over the worker's processes.
    """
    started = time.monotonic()
    totals = {"recovered": 0, "skipped": 0, "dispatched": 0}
    while True:
        now = timezone.now()
        report = reminders_sweep(now=now)  # committed on return
        if report.full and helpers:
            sweep_help(helpers)
            helpers = 0
        digests_sweep(now=now)  # weekly digests due now (planned by the daily walk)
        ready = messages_ready(now=now)
        messages_dispatch(ready)
        totals["recovered"] += report.recovered
        totals["skipped"] += report.skipped
        totals["dispatched"] += len(ready)
        if not report.full or time.monotonic() - started > SWEEP_BUDGET_SECONDS:
            return totals


def sweep_help(count: int) -> None:
    """Ask for `count` more sweeps now; if the broker is down, the next beat tick sweeps on."""
    for _ in range(count):
        try:
            reminders_sweep_task.apply_async(kwargs={"helpers": 0}, retry=False)
        except Exception:  # broker unreachable: the rows wait, nothing is lost
            log.warning("broker unavailable; no helper sweep", exc_info=True)
            return


@shared_task(acks_late=True, ignore_result=True)
def messages_send_task(message_ids: list[int]) -> dict:
    """The send task's name before the outbox had its own app: tasks already on the broker
    during a deploy still run. New ones use tracker.outbox.tasks.messages_send_task."""
    return messages_send(message_ids=message_ids)


@shared_task(acks_late=True, ignore_result=True)
def reminders_plan_all_task() -> int:
    """Daily: plan what came into view (next recurring occurrences, new milestones)."""
    return reminders_plan_all(now=timezone.now())


@shared_task(acks_late=True, ignore_result=True)
def subscriptions_expire_task() -> int:
    """Daily: forget subscriptions that were never confirmed."""
    return subscriptions_expire(now=timezone.now())


@shared_task(acks_late=True, ignore_result=True)
def milestone_change_consume_task(change_id: int) -> None:
    """After a catalogue change commits: re-plan its followers and announce a move."""
    change_consume(change_id=change_id, consumer="reminders", handler=milestone_change_apply)
