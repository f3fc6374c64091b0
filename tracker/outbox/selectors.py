"""Reads for the outbox."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from tracker.outbox.models import Message

OVERDUE_AFTER = dt.timedelta(minutes=10)


def operations_by_day(*, now: dt.datetime, days: int) -> list[dict]:
    """Per day of creation: sent, failed, queued, and queued past their time (one query)."""
    overdue = Q(status=Message.Status.QUEUED, next_attempt_at__lt=now - OVERDUE_AFTER)
    return list(
        Message.objects.filter(created_at__gte=now - dt.timedelta(days=days))
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            sent=Count("pk", filter=Q(status=Message.Status.SENT)),
            failed=Count("pk", filter=Q(status=Message.Status.FAILED)),
            queued=Count(
                "pk", filter=Q(status__in=[Message.Status.QUEUED, Message.Status.SENDING])
            ),
            overdue=Count("pk", filter=overdue),
        )
        .order_by("-day")
    )
