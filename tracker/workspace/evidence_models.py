"""Evidence pieces (files or links) that cover tracked obligations. Imported by models.py.

A piece belongs to one organisation and covers any number of its tracked items, so one
certificate or one policy can stand for several duties of several systems at once. A file is
kept in the "evidence" storage (settings.STORAGES: local files or an S3-compatible bucket)
under a random name, and reaches only the organisation's members, through the workspace's
download view; see docs/evidence.md.

The models here name the workspace's other models by string: models.py imports this module
at its end, so importing models.py from here would make a cycle.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

__all__ = [
    "EVIDENCE_EXPIRY_MAX",
    "EVIDENCE_EXPIRY_MESSAGE",
    "EVIDENCE_EXPIRY_MIN",
    "EVIDENCE_URL_MAX",
    "Evidence",
    "evidence_storage",
    "evidence_upload_to",
]

EVIDENCE_URL_MAX = 500
# An expiry date such as 0202 or 9999 is a typo: refused with this message.
EVIDENCE_EXPIRY_MIN = dt.date(2000, 1, 1)
EVIDENCE_EXPIRY_MAX = dt.date(2100, 12, 31)
EVIDENCE_EXPIRY_MESSAGE = "Choose an expiry date between 1 January 2000 and 31 December 2100."


def evidence_storage():
    """Where evidence files are kept: STORAGES["evidence"] (see config/settings.py)."""
    return storages["evidence"]


def evidence_upload_to(instance, filename: str) -> str:
    """A random name that tells nothing about the organisation, the piece or the file (not even
    its extension); the name the file was uploaded with is kept in `file_name`."""
    return f"evidence/{secrets.token_urlsafe(24)}"


# Kept by name so that the services write one history record per change, the row and what it
# covers together (simple-history would otherwise record each save and each change of `covers`
# apart): see evidence.py, `_record`.
EVIDENCE_HISTORY = HistoricalRecords(m2m_fields=["covers"])


class Evidence(models.Model):
    """A document or a link showing that obligations are met, for one organisation."""

    class Kind(models.TextChoices):
        FILE = "file", "File"
        LINK = "link", "Link"

    organisation = models.ForeignKey(
        "workspace.Organisation", on_delete=models.CASCADE, related_name="evidence"
    )
    title = models.CharField(max_length=200)
    file = models.FileField(
        upload_to=evidence_upload_to, storage=evidence_storage, blank=True, max_length=200
    )
    file_name = models.CharField(
        max_length=255, blank=True, help_text="The name it was uploaded with, for the download."
    )
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    content_type = models.CharField(
        max_length=100, blank=True, help_text="Of the type the content was recognised as."
    )
    sha256 = models.CharField(
        "SHA-256", max_length=64, blank=True,
        help_text="The file's fingerprint when it was uploaded: shows it was not altered since.",
    )  # fmt: skip
    link = models.URLField(
        max_length=EVIDENCE_URL_MAX, blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
    )  # fmt: skip
    expires_on = models.DateField(
        null=True, blank=True, help_text="When it lapses (a certificate, a yearly audit...).",
        validators=[MinValueValidator(EVIDENCE_EXPIRY_MIN, EVIDENCE_EXPIRY_MESSAGE),
                    MaxValueValidator(EVIDENCE_EXPIRY_MAX, EVIDENCE_EXPIRY_MESSAGE)],
    )  # fmt: skip
    expiry_set_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When the expiry date was last set: reminders whose day had already passed "
        "then are not sent.",
    )  # fmt: skip
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text="Reminded before it expires.",
    )  # fmt: skip
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    covers = models.ManyToManyField("workspace.TrackedItem", blank=True, related_name="evidence")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = EVIDENCE_HISTORY

    class Meta:
        verbose_name_plural = "evidence"
        ordering = [models.F("expires_on").asc(nulls_last=True), "title", "pk"]
        constraints = [
            models.CheckConstraint(
                name="evidence_is_a_file_or_a_link",
                condition=(Q(file="") & ~Q(link="")) | (~Q(file="") & Q(link="")),
            ),
            models.CheckConstraint(
                name="evidence_file_keeps_its_name", condition=Q(file="") | ~Q(file_name="")
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_on"],
                name="evidence_expiring",
                condition=Q(expires_on__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def kind(self) -> str:
        return self.Kind.FILE if self.file else self.Kind.LINK

    @property
    def is_file(self) -> bool:
        return bool(self.file)

    @property
    def is_expired(self) -> bool:
        """Lapsed before today (in the site's time zone)."""
        return self.expires_on is not None and self.expires_on < timezone.localdate()

    def days_left(self, today: dt.date) -> int | None:
        """Days until it lapses (0: today, negative: it has), or None without an expiry."""
        return None if self.expires_on is None else (self.expires_on - today).days

    def clean(self) -> None:
        if bool(self.file) == bool(self.link):
            raise ValidationError("A piece of evidence is either an uploaded file or a link.")
