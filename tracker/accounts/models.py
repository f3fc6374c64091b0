"""What Jalon knows about an account beyond Django's user: whether its address is proven."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class EmailVerification(models.Model):
    """The address a person proved they read, and when. Reminders, password resets and
    invitations go only to a verified address; changing the address unverifies it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_verification"
    )
    email = models.EmailField(help_text="The address that was verified.")
    verified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        state = "verified" if self.verified_at else "not verified"
        return f"{self.email} ({state})"
