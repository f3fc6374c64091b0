"""Webhooks: an organisation's endpoints, one outbox row per event and endpoint, and the log
of every attempt to deliver it (docs/webhooks.md)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from tracker.webhooks.network import validate_webhook_url

# The events an endpoint can follow, with the words the pages use.
EVENT_TYPES = {
    "milestone.date_moved": "A milestone’s date moved",
    "obligation.due_soon": "An obligation is due soon (90, 30, 7 and 1 days before)",
    "obligation.overdue": "An obligation is overdue (weekly)",
    "incident.deadline_soon": "An incident’s reporting deadline is less than 24 hours away",
}
TEST_EVENT = "webhook.test"


def all_event_types() -> list[str]:
    return list(EVENT_TYPES)


class Endpoint(models.Model):
    """A URL of an organisation's that hears its events, in one of three formats."""

    class Format(models.TextChoices):
        GENERIC = "generic", "Generic JSON, signed (Standard Webhooks)"
        SLACK = "slack", "Slack incoming webhook"
        TEAMS = "teams", "Microsoft Teams (Workflows / incoming webhook)"

    organisation = models.ForeignKey(
        "workspace.Organisation", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    name = models.CharField(max_length=80)
    url = models.URLField("URL", max_length=500, validators=[validate_webhook_url])
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.GENERIC)
    secret = models.CharField(
        max_length=100, help_text="whsec_ and base64: signs generic deliveries."
    )
    previous_secret = models.CharField(max_length=100, blank=True, default="")
    previous_secret_until = models.DateTimeField(
        null=True, blank=True, help_text="Deliveries are signed with both secrets until then."
    )
    events = models.JSONField(default=all_event_types, help_text="The event types it hears.")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(
        default=0, help_text="Deliveries that ended failed since the last one that succeeded."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        indexes = [
            models.Index(
                fields=["organisation"],
                name="webhook_endpoint_enabled_idx",
                condition=Q(enabled=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.organisation})"

    @property
    def url_masked(self) -> str:
        """The URL's scheme and host only: for Slack and Teams the rest works as a password
        (anyone with it can post to the channel), so members who are not owners see this."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}/…" if parts.hostname else "…"

    def clean(self) -> None:
        events = self.events if isinstance(self.events, list) else None
        if not events:
            raise ValidationError({"events": "Choose at least one event."})
        unknown = [e for e in events if e not in EVENT_TYPES]
        if unknown:
            raise ValidationError(
                {"events": f"Unknown event type(s): {', '.join(map(str, unknown))}."}
            )

    @property
    def signed(self) -> bool:
        return self.format == self.Format.GENERIC


class Delivery(models.Model):
    """One event for one endpoint: queued once (its dedupe key), claimed before each attempt,
    sent with the same webhook-id on every retry."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    webhook_id = models.CharField(max_length=40, unique=True, editable=False)
    event_type = models.CharField(max_length=40)
    payload = models.JSONField(help_text="The event: type, timestamp and data.")
    dedupe_key = models.CharField(max_length=160, unique=True)
    topic = models.CharField(
        max_length=80, blank=True, default="", help_text="What it is about, e.g. milestone:17."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_queued_idx",
                condition=Q(status="queued"),
            ),
            models.Index(
                fields=["lease_until"],
                name="webhook_delivery_sending_idx",
                condition=Q(status="sending"),
            ),
            models.Index(
                fields=["topic"], name="webhook_delivery_topic_idx", condition=Q(status="queued")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint.name} ({self.get_status_display()})"


class DeliveryAttempt(models.Model):
    """One HTTP attempt at a delivery, for the endpoint's log."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="log")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="attempts")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=10, help_text="sent, retry or failed.")
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["endpoint", "-at"], name="webhook_attempt_log_idx")]

    def __str__(self) -> str:
        return f"{self.delivery.event_type} at {self.at:%Y-%m-%d %H:%M} ({self.outcome})"
