"""The outbox: every email Jalon sends is a row here first, claimed before it is sent."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Message(models.Model):
    """One email: rendered once by the app that asks for it, claimed before sending, sent once.

    The outbox knows nothing of its clients: `kind` is their own label ("reminders",
    "overdue_digest"...), `stream` names what a recipient can stop ("subscription:42"), and
    `topic` what the email is about ("milestone:17"), so a client can cancel what a later
    event made untrue.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=40)
    to_email = models.EmailField()
    stream = models.CharField(max_length=80, blank=True, default="")
    topic = models.CharField(max_length=80, blank=True, default="")
    dedupe_key = models.CharField(
        max_length=120, null=True, blank=True, unique=True,
        help_text="Set on periodic emails so that planning one twice cannot send it twice.",
    )  # fmt: skip
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    recoveries = models.PositiveSmallIntegerField(
        default=0, help_text="Times a worker died while sending it and the sweep put it back."
    )
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When a send task was last put on the broker."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "reminders_message"  # the table predates this app; moving it gains nothing
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="message_queued_idx",
                condition=Q(status="queued"),
            ),
            models.Index(
                fields=["lease_until"], name="message_sending_idx", condition=Q(status="sending")
            ),
            models.Index(fields=["to_email", "created_at"], name="message_recipient_idx"),
            models.Index(
                fields=["stream"], name="message_stream_idx", condition=Q(status="queued")
            ),
            models.Index(fields=["topic"], name="message_topic_idx", condition=Q(status="queued")),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to_email} ({self.get_status_display()})"
