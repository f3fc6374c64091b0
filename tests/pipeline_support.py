"""Helpers for the tests that run the real pipeline: workers and beats in other processes.

Those processes must see the test database, so these tests run in the PostgreSQL pass.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.db import connection
from django.utils import timezone

from tracker.catalogue.models import Milestone, Regulation
from tracker.reminders.models import Reminder, Subscription


def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("runs in the PostgreSQL pass (JALON_TEST_DB=postgres)")


def worker_env(*, redis_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    """The environment of a Celery process pointed at the test database, Redis and SMTP."""
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DATABASE_CONN_MAX_AGE": "0",
        "REDIS_URL": redis_url,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        **extra,
    }


def due_reminders(count: int, first: int = 0) -> list[str]:
    """`count` active subscribers, each with one reminder due a minute ago; their addresses."""
    regulation, _ = Regulation.objects.get_or_create(
        key="eu-ai-act",
        defaults={
            "short_name": "EU AI Act",
            "title": "AI Act",
            "source_url": "https://example.org",
        },
    )
    milestone, _ = Milestone.objects.get_or_create(
        regulation=regulation, key="soon", defaults=dict(
            title="Soon", date=timezone.localdate() + dt.timedelta(days=7),
            category="application", status="in_force", confidence="high",
            legal_basis="Art. 113", source_url="https://example.org",
            verified_on=dt.date(2026, 11, 27),
        ),
    )  # fmt: skip
    addresses = []
    for n in range(first, first + count):
        subscription = Subscription.objects.create(
            email=f"s{n}@example.org", status="active", regulation=regulation
        )
        Reminder.objects.create(
            subscription=subscription, milestone=milestone, occurrence=milestone.date,
            lead_days=7, due_at=timezone.now() - dt.timedelta(minutes=1),
        )  # fmt: skip
        addresses.append(subscription.email)
    return sorted(addresses)
