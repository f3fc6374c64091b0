"""The reminder engine: subscriptions, the reminders planned for them, and the outbox."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from tracker.catalogue.models import Milestone, Regulation, Role, Scope

DEFAULT_LEAD_DAYS = [90, 30, 7, 1]


def default_lead_days() -> list[int]:
    return list(DEFAULT_LEAD_DAYS)


class Language(models.TextChoices):
    EN = "en", "English"
    FR = "fr", "Français"
    DE = "de", "Deutsch"


class Subscription(models.Model):
    """An email address (no account) following milestones, active once confirmed."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        ACTIVE = "active", "Active"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"

    email = models.EmailField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.EN)
    timezone = models.CharField(max_length=64, default="Europe/Brussels")
    send_hour = models.PositiveSmallIntegerField(
        default=9, help_text="Local hour (0-23) at which reminders arrive."
    )
    lead_days = models.JSONField(
        default=default_lead_days,
        help_text="Days before a deadline to remind, e.g. [90, 30, 7, 1].",
    )
    # What to follow: a regulation, narrowed by roles, scopes and categories, and/or chosen
    # milestones. An empty filter means "all of it".
    regulation = models.ForeignKey(
        Regulation, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    roles = models.ManyToManyField(Role, blank=True, related_name="+")
    scopes = models.ManyToManyField(Scope, blank=True, related_name="+")
    categories = models.JSONField(default=list, blank=True)
    milestones = models.ManyToManyField(Milestone, blank=True, related_name="subscriptions")
    move_notices = models.BooleanField(
        default=True,
        help_text="Send a notice when a followed date moves (owners hear from the workspace).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    problem = models.TextField(
        blank=True,
        help_text="Why the engine set it aside (its reminders wait); saving it here clears it.",
    )
    problem_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["email"], name="subscription_email_idx"),
            models.Index(
                fields=["created_at"],
                name="subscription_pending_idx",
                condition=Q(status="pending"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                name="subscription_send_hour_is_an_hour", condition=Q(send_hour__lte=23)
            ),
            models.CheckConstraint(
                name="subscription_language_is_known",
                condition=Q(language__in=Language.values),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_status_display()})"


class Message(models.Model):
    """One email in the outbox: rendered once, claimed before sending, never sent twice."""

    class Kind(models.TextChoices):
        REMINDERS = "reminders", "Deadline reminders"
        DATE_MOVED = "date_moved", "Date moved notice"
        CONFIRMATION = "confirmation", "Subscription confirmation"
        TEST = "test", "Test email from the admin"
        OVERDUE_DIGEST = "overdue_digest", "Weekly digest of overdue items"
        INCIDENT_CLOCK = "incident_clock", "Incident reporting reminder"
        ITEM_MOVED = "item_moved", "Tracked item's date moved"
        INVITATION = "invitation", "Invitation to an organisation"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    to_email = models.EmailField()
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
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="message_queued_idx",
                condition=Q(status="queued"),
            ),
            models.Index(
                fields=["lease_until"], name="message_sending_idx", condition=Q(status="sending")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.to_email} ({self.get_status_display()})"


class Reminder(models.Model):
    """One planned reminder: this occurrence of this milestone, this many days ahead."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        QUEUED = "queued", "In a message"
        CANCELLED = "cancelled", "Cancelled"
        SKIPPED = "skipped", "Skipped (milestone passed)"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="reminders"
    )
    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="reminders")
    occurrence = models.DateField(help_text="The deadline this reminder is about.")
    lead_days = models.PositiveSmallIntegerField()
    due_at = models.DateTimeField(help_text="When to send: the subscriber's local hour, in UTC.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="reminders"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "milestone", "occurrence", "lead_days"],
                name="reminder_unique_per_occurrence_and_lead",
            )
        ]
        indexes = [
            # The sweep reads only what is due: its cost follows the due rows, not the table.
            models.Index(fields=["due_at"], name="reminder_due_idx", condition=Q(status="pending"))
        ]

    def __str__(self) -> str:
        return f"{self.milestone} on {self.occurrence}, {self.lead_days} days ahead"
