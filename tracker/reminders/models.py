"""The reminder engine: subscriptions and the reminders planned for them."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from tracker.catalogue.fields import ListField
from tracker.catalogue.models import Milestone, Regulation, Role, Scope

DEFAULT_LEAD_DAYS = [90, 30, 7, 1]
DIGEST_WEEKDAY = 0  # weekly digests go out on Mondays, at the subscriber's local hour


def default_lead_days() -> list[int]:
    return list(DEFAULT_LEAD_DAYS)


class Language(models.TextChoices):
    EN = "en", "English"
    FR = "fr", "Français"
    DE = "de", "Deutsch"


# The public list: subscriptions people made on the site (not another app's personal
# reminders) that were not merged into the address's other one. One per address.
ON_PUBLIC_LIST = Q(owner_key__isnull=True) & ~Q(status="merged")


class SubscriptionQuerySet(models.QuerySet):
    def public_list(self) -> SubscriptionQuerySet:
        return self.filter(ON_PUBLIC_LIST)


class Subscription(models.Model):
    """An email address (no account) following milestones, active once confirmed.

    The public list has one subscription per address. Personal reminders that another app
    asks for through `tracker.reminders.personal` (an owner's reminders in one organisation)
    are subscriptions too, named by their `owner_key`, each with its own settings.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        ACTIVE = "active", "Active"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        MERGED = "merged", "Merged into the address's other subscription"

    email = models.EmailField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.EN)
    timezone = models.CharField(max_length=64, default="Europe/Brussels")
    send_hour = models.PositiveSmallIntegerField(
        default=9, help_text="Local hour (0-23) at which reminders arrive."
    )
    lead_days = ListField(
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
    categories = ListField(blank=True)
    milestones = models.ManyToManyField(Milestone, blank=True, related_name="subscriptions")
    weekly_digest = models.BooleanField(
        default=False,
        help_text="One weekly digest of what falls due within the lead times, instead of "
        "individual reminders.",
    )
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
    owner_key = models.CharField(
        max_length=80, null=True, blank=True, unique=True, editable=False,
        help_text="Set on personal reminders another app asked for; empty on the public list.",
    )  # fmt: skip
    targets = models.JSONField(
        default=dict, blank=True, editable=False,
        help_text="Personal reminders: milestone id -> the owner's own target date.",
    )  # fmt: skip
    manage_url = models.URLField(
        blank=True, editable=False, help_text="Personal reminders: where their settings are."
    )
    requested_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When confirmation was last asked for."
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        editable=False,
    )  # fmt: skip

    objects = SubscriptionQuerySet.as_manager()

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
            models.UniqueConstraint(
                Lower("email"),
                name="subscription_one_per_address",
                condition=ON_PUBLIC_LIST,
                violation_error_message="This address already has a subscription.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_status_display()})"


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
        "outbox.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="reminders"
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


class Digest(models.Model):
    """One weekly digest for a subscriber who chose it: unique per subscriber and week, so
    planning it again, or a second sweep, never makes a second one."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        QUEUED = "queued", "In a message"
        EMPTY = "empty", "Nothing to list that week"
        CANCELLED = "cancelled", "Cancelled"

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="digests")
    week = models.DateField(help_text="The digest day of that week.")
    due_at = models.DateTimeField(help_text="When to send: the subscriber's local hour, in UTC.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    message = models.ForeignKey(
        "outbox.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="digests"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "week"], name="digest_one_per_subscriber_and_week"
            )
        ]
        indexes = [
            models.Index(fields=["due_at"], name="digest_due_idx", condition=Q(status="pending"))
        ]

    def __str__(self) -> str:
        return f"Digest for {self.subscription} on {self.week}"
