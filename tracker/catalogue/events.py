"""The catalogue announces its changes; the apps that follow it listen.

A `MilestoneChange` row is written in the transaction that changed the milestone. After
commit, each consumer named in `settings.CATALOGUE_CHANGE_CONSUMERS` gets a task (by name:
the catalogue imports none of them). A consumer runs `change_consume`, which records a
`ChangeReceipt` before and after its work, so a redelivered or repeated task does nothing
twice and a failure shows in the admin. `changes_publish_pending` (beat, every minute) offers
again what a lost task never acknowledged.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from tracker.catalogue.models import ChangeReceipt, MilestoneChange

log = logging.getLogger(__name__)

REPUBLISH_AFTER = dt.timedelta(minutes=2)  # a task not acknowledged by then was lost
LEASE = dt.timedelta(minutes=15)  # a consumer still running after this has died
KEEP_TRYING_FOR = dt.timedelta(days=7)
MAX_ATTEMPTS = 5


def retry_after(attempts: int) -> dt.timedelta:
    """4, 8, 16, 32 minutes after the first, second... failure."""
    return dt.timedelta(minutes=2 ** (attempts + 1))


def change_publish(*, change_id: int, consumers: list[str] | None = None) -> None:
    """Hand a change to its consumers' tasks. A broker outage loses nothing: the row waits."""
    for consumer, task_name in settings.CATALOGUE_CHANGE_CONSUMERS.items():
        if consumers is not None and consumer not in consumers:
            continue
        task = import_string(task_name)  # named in settings, as Django names its backends
        try:
            task.apply_async((change_id,), retry=False)
        except Exception:  # broker unreachable: changes_publish_pending offers it again
            log.warning("broker unavailable; change %s waits for a later pass", change_id)
            return


def change_publish_on_commit(*, change_id: int) -> None:
    transaction.on_commit(lambda: change_publish(change_id=change_id))


def changes_publish_pending(*, now: dt.datetime) -> int:
    """Offer again every recent change that some consumer has not finished; returns how many
    (change, consumer) pairs were offered."""
    offered = 0
    recent = MilestoneChange.objects.filter(
        recorded_at__lt=now - REPUBLISH_AFTER, recorded_at__gte=now - KEEP_TRYING_FOR
    )
    for consumer in settings.CATALOGUE_CHANGE_CONSUMERS:
        settled = ChangeReceipt.objects.filter(change=OuterRef("pk"), consumer=consumer).filter(
            Q(status=ChangeReceipt.Status.DONE)
            | Q(attempts__gte=MAX_ATTEMPTS)
            | Q(status=ChangeReceipt.Status.RUNNING, started_at__gte=now - LEASE)
            | Q(status=ChangeReceipt.Status.FAILED, retry_at__gt=now)
        )
        for change_id in recent.filter(~Exists(settled)).values_list("pk", flat=True)[:500]:
            change_publish(change_id=change_id, consumers=[consumer])
            offered += 1
    return offered


def change_consume(
    *, change_id: int, consumer: str, handler: Callable[[MilestoneChange], dict]
) -> ChangeReceipt | None:
    """Run `handler` once for a change and record the outcome on the consumer's receipt.

    The handler must be idempotent (a worker killed mid-way runs it again on redelivery) and
    returns a dict of counts, with an optional "errors" list of items that failed alone.
    """
    change = MilestoneChange.objects.select_related("milestone").filter(pk=change_id).first()
    if change is None:
        return None
    receipt, _ = ChangeReceipt.objects.get_or_create(change=change, consumer=consumer)
    if receipt.status == ChangeReceipt.Status.DONE:
        return receipt
    receipt.status, receipt.started_at = ChangeReceipt.Status.RUNNING, timezone.now()
    receipt.attempts += 1
    receipt.save(update_fields=["status", "started_at", "attempts"])
    try:
        outcome = handler(change)
    except Exception as exc:  # recorded where an admin sees it; the next pass tries again
        log.exception("consumer %s failed on change %s", consumer, change_id)
        receipt.status = ChangeReceipt.Status.FAILED
        receipt.errors = [f"{type(exc).__name__}: {exc}"]
        receipt.retry_at = timezone.now() + retry_after(receipt.attempts)
    else:
        receipt.status = ChangeReceipt.Status.DONE
        receipt.errors = outcome.pop("errors", [])
        receipt.outcome = outcome
    receipt.finished_at = timezone.now()
    receipt.save(update_fields=["status", "errors", "outcome", "finished_at", "retry_at"])
    return receipt


def catalogue_version() -> int:
    """The catalogue's version: the number of its latest recorded change (0 before any)."""
    latest = MilestoneChange.objects.order_by("-pk").values_list("pk", flat=True).first()
    return latest or 0
