"""The law watch: what the EU's official sources said about the acts the catalogue tracks."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import models
from django.db.models import Q

from tracker.catalogue.models import Regulation

# "Regulation (EU) 2026/1744", "Commission Implementing Regulation (EU) 2025/2345", "Directive
# (EU) 2019/790", "Council Decision (EU) 2024/12": the act's own name at the start of a title.
ACT_NAME = re.compile(
    r"^(?P<name>(?:Corrigendum to\s+)?(?:[A-Z][a-z]+\s+){0,3}"
    r"(?:Regulation|Directive|Decision)\s*\((?:EU|EC|EU,\s*Euratom)\)\s*(?:No\s*)?\d{2,4}/\d+)"
)
CELEX = re.compile(r"^[0-9CE]\d{4}[A-Z]{1,2}\d{4}(?:[A-Z]?\(\d+\))?(?:-\d{8})?$")
CELEX_ACT = re.compile(r"^3(?P<year>\d{4})(?P<type>[RLD])(?P<number>\d{4})$")
CELEX_TYPES = {"R": "Regulation", "L": "Directive", "D": "Decision"}


class LawWatchRun(models.Model):
    """One run of the law watch: when, what each source answered, how many findings were new."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "OK"
        PARTIAL = "partial", "Partly failed (a source or a record)"
        FAILED = "failed", "All sources failed"

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    found = models.PositiveIntegerField(default=0, help_text="Findings, old and new.")
    new = models.PositiveIntegerField(default=0, help_text="Findings that became candidates.")
    sources = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per source: {name: {ok, found, new, skipped, error}}.",
    )
    error = models.TextField(blank=True, help_text="What failed, one line per source or record.")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Law watch run {self.started_at:%Y-%m-%d %H:%M} ({self.get_status_display()})"


class LawChangeCandidate(models.Model):
    """Something an official source said about a tracked act, waiting for an editor's decision."""

    class Source(models.TextChoices):
        SPARQL = "sparql", "Publications Office (SPARQL)"
        FEED = "feed", "EUR-Lex feed"

    class Kind(models.TextChoices):
        AMENDS = "amends", "Amends"
        CORRECTS = "corrects", "Corrects (corrigendum)"
        REPEALS = "repeals", "Repeals"
        CONSOLIDATED = "consolidated", "Consolidated version"
        PROCEDURE = "procedure", "Procedure document"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        NEW = "new", "New"
        DISMISSED = "dismissed", "Dismissed"
        USED = "used", "Opened as an amendment"

    regulation = models.ForeignKey(
        Regulation, on_delete=models.CASCADE, related_name="law_change_candidates"
    )
    source = models.CharField(max_length=6, choices=Source.choices)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    external_id = models.CharField(
        max_length=500, help_text="The act's CELEX, its CELLAR work URI, or the feed entry's id."
    )
    title = models.CharField(max_length=1000)
    link = models.URLField(max_length=1000, blank=True)
    published_on = models.DateField(null=True, blank=True)
    raw = models.JSONField(
        default=dict, blank=True, help_text="The SPARQL binding or feed entry as received."
    )
    may_affect = models.TextField(
        "what it may affect", blank=True, help_text="Derived from the record when it was found."
    )
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.NEW)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    run = models.ForeignKey(
        LawWatchRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="candidates",
        help_text="The run that found it first.",
    )

    class Meta:
        ordering = ["-first_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["regulation", "external_id"], name="lawchangecandidate_one_per_act"
            ),
            models.CheckConstraint(
                name="lawchangecandidate_decision_has_a_time",
                condition=Q(status="new") | Q(decided_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.title[:120]

    @property
    def celex(self) -> str:
        """The found act's CELEX number, when the record has one."""
        return self.external_id if CELEX.match(self.external_id) else ""

    @property
    def amending_act(self) -> str:
        """How the "Record an amendment" form names the act: from the title, else the CELEX."""
        match = ACT_NAME.match(self.title.strip())
        if match:
            return " ".join(match["name"].split())
        celex = CELEX_ACT.match(self.celex)
        if celex:
            kind = CELEX_TYPES[celex["type"]]
            return f"{kind} (EU) {celex['year']}/{int(celex['number'])}"
        return self.title[:200]
