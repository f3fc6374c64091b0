"""What Jalon knows about an account beyond Django's user: whether its address is proven."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class EmailVerification(models.Model):
    """The address a person proved they read, and when. Reminders, password resets and
    invitations go only to a verified address; changing the address unverifies it."""

    class Language(models.TextChoices):
        EN = "en", "English"
        FR = "fr", "Français"
        DE = "de", "Deutsch"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_verification"
    )
    email = models.EmailField(help_text="The address that was verified (or is to be).")
    verified_at = models.DateTimeField(null=True, blank=True)
    link_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last verification link was queued."
    )
    language = models.CharField(
        max_length=2, choices=Language.choices, default=Language.EN,
        help_text="The language of the account's emails (verification, password reset).",
    )  # fmt: skip

    def __str__(self) -> str:
        state = "verified" if self.verified_at else "not verified"
        return f"{self.email} ({state})"

    def proves(self, email: str) -> bool:
        """True when this record says `email` (the account's current address) is verified."""
        return bool(self.verified_at and email and self.email.lower() == email.lower())
