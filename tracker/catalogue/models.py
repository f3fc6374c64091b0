"""The legal catalogue: regulations, their dated milestones and the amendments that moved them."""

from __future__ import annotations

import datetime as dt
import re

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from tracker.catalogue.conditions import validate_conditions
from tracker.catalogue.fields import ListField, validate_strings


class Confidence(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    UNVERIFIED = "unverified", "Unverified"


PROCEDURE = re.compile(r"\d{4}/\d{4}\([A-Z]{3}\)")


def validate_procedures(value) -> None:
    """Legislative procedure references as the Legislative Observatory writes them."""
    validate_strings(value)
    for item in value if isinstance(value, list) else []:
        if isinstance(item, str) and not PROCEDURE.fullmatch(item):
            raise ValidationError(
                f"“{item[:40]}” is not a procedure reference such as 2025/0359(COD)."
            )


class Regulation(models.Model):
    """A law or policy agenda whose dated milestones Jalon tracks."""

    key = models.SlugField(max_length=64, unique=True)
    short_name = models.CharField(max_length=80)
    title = models.CharField(max_length=300)
    reference = models.CharField(max_length=120, blank=True)
    source_url = models.URLField(max_length=500)
    summary = models.TextField(blank=True)
    celex = models.CharField(
        max_length=20,
        blank=True,
        help_text="The act's CELEX number (e.g. 32024R1689): the law watch asks EUR-Lex about it.",
    )
    procedures = ListField(
        blank=True,
        validators=[validate_procedures],
        help_text='Legislative procedures the law watch follows, e.g. ["2025/0359(COD)"].',
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["short_name"]

    def __str__(self) -> str:
        return self.short_name


class Role(models.Model):
    """Who a milestone concerns: providers, deployers, Member States..."""

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Scope(models.Model):
    """The risk scope a milestone belongs to: prohibited practices, high-risk, GPAI..."""

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# The vocabulary keys of a role that binds every operator and of a scope that covers every AI
# system (docs/catalogue-format.md): a role or scope filter always includes them.
EVERY_OPERATOR_ROLE = "everyone"
ALL_SYSTEMS_SCOPE = "all"
# The public "what this means" text stays short: it is shown on the timeline.
EXPLAINER_MAX = 600

# Statuses of a date that still binds someone; superseded or withdrawn dates do not.
LIVE_STATUSES = ("planned", "proposed", "adopted", "in_force")


class Milestone(models.Model):
    """One dated obligation or event, with its legal basis and source."""

    class Kind(models.TextChoices):
        FIXED = "fixed", "Fixed date"
        RECURRING = "recurring", "Recurring"
        RELATIVE = "relative", "Relative to an event"

    class Precision(models.TextChoices):
        DAY = "day", "Day"
        MONTH = "month", "Month"
        YEAR = "year", "Year"

    class Category(models.TextChoices):
        ENTRY_INTO_FORCE = "entry_into_force", "Entry into force"
        APPLICATION = "application", "Obligations apply"
        GOVERNANCE = "governance", "Governance"
        GUIDANCE = "guidance", "Guidance and instruments"
        REPORTING = "reporting", "Reporting"
        REVIEW = "review", "Review and evaluation"
        ENFORCEMENT = "enforcement", "Enforcement and penalties"
        INCIDENT = "incident", "Incidents"
        POLICY = "policy", "Policy watch"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        PROPOSED = "proposed", "Proposed"
        ADOPTED = "adopted", "Adopted"
        IN_FORCE = "in_force", "In force"
        SUPERSEDED = "superseded", "Superseded"
        WITHDRAWN = "withdrawn", "Withdrawn"

    regulation = models.ForeignKey(Regulation, on_delete=models.PROTECT, related_name="milestones")
    key = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.FIXED)
    date = models.DateField(
        null=True, blank=True, help_text="The date in force (first occurrence if recurring)."
    )
    date_precision = models.CharField(
        max_length=5, choices=Precision.choices, default=Precision.DAY
    )
    original_date = models.DateField(
        null=True,
        blank=True,
        editable=False,
        help_text="The date before the first amendment; set when an amendment is recorded.",
    )
    every_months = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Recurring milestones: the period in months."
    )
    until = models.DateField(
        null=True, blank=True, help_text="Recurring milestones: the last possible occurrence."
    )
    offset_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Relative milestones: days after the trigger event."
    )
    offset_hours = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Relative milestones counted by the hour (24 h, 48 h): hours after the trigger "
        "event, instead of offset_days.",
    )
    trigger = models.SlugField(
        max_length=64, blank=True, help_text="Relative milestones: the event that starts the clock."
    )
    trigger_label = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=20, choices=Category.choices)
    status = models.CharField(max_length=12, choices=Status.choices)
    confidence = models.CharField(max_length=12, choices=Confidence.choices)
    legal_basis = models.CharField(max_length=200)
    source_url = models.URLField(max_length=500)
    source_title = models.CharField(max_length=300, blank=True)
    verified_on = models.DateField(
        null=True,
        blank=True,
        help_text="When this entry was last checked against its cited source; empty: not verified.",
    )
    indicative = models.BooleanField(
        default=False,
        help_text="The law fixes no day: the date is one the catalogue chose (an anniversary). "
        "Kept out of 'next deadline' headlines.",
    )
    explainer = models.TextField(
        blank=True,
        max_length=EXPLAINER_MAX,
        validators=[MaxLengthValidator(EXPLAINER_MAX)],
        help_text="What this means, in plain language: public, shown on the timeline and the "
        "milestone's page. Only what the entry already says; no new dates or law.",
    )
    editor_note = models.TextField(
        blank=True,
        help_text="For editors: sources, checks, caveats. Never shown on public pages or in the "
        "API.",
    )
    roles = models.ManyToManyField(Role, related_name="milestones")
    scopes = models.ManyToManyField(Scope, related_name="milestones")
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(m2m_fields=[roles, scopes])

    class Meta:
        ordering = [models.F("date").asc(nulls_last=True), "key"]
        indexes = [models.Index(fields=["date"], name="milestone_date_idx")]
        constraints = [
            models.CheckConstraint(
                name="milestone_dated_kinds_have_a_date",
                condition=Q(kind="relative") | Q(date__isnull=False),
            ),
            models.CheckConstraint(
                name="milestone_relative_has_offset_and_no_date",
                condition=~Q(kind="relative")
                | (
                    Q(date__isnull=True)
                    & ~Q(trigger="")
                    & (
                        Q(offset_days__isnull=False, offset_hours__isnull=True)
                        | Q(offset_days__isnull=True, offset_hours__isnull=False)
                    )
                ),
            ),
            models.CheckConstraint(
                name="milestone_recurring_has_a_period",
                condition=~Q(kind="recurring") | Q(every_months__isnull=False, every_months__gt=0),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("web:milestone", kwargs={"key": self.key})

    def clean(self) -> None:
        errors = {}
        if self.kind == self.Kind.RELATIVE:
            if self.date is not None:
                errors["date"] = "A relative milestone has no calendar date."
            if self.offset_days is None and self.offset_hours is None:
                errors["offset_days"] = "A relative milestone needs its offset in days."
            elif self.offset_days is not None and self.offset_hours is not None:
                errors["offset_hours"] = "Give the offset in days or in hours, not both."
            if not self.trigger:
                errors["trigger"] = "A relative milestone needs the event that starts the clock."
            if self.indicative:
                errors["indicative"] = "Only a calendar date can be indicative."
        elif self.date is None:
            errors["date"] = "A fixed or recurring milestone needs a date."
        if self.kind == self.Kind.RECURRING and not self.every_months:
            errors["every_months"] = "A recurring milestone needs its period in months."
        if errors:
            raise ValidationError(errors)

    @property
    def offset(self) -> dt.timedelta | None:
        """How long after the trigger event a relative deadline falls (by the hour or the day)."""
        if self.offset_hours is not None:
            return dt.timedelta(hours=self.offset_hours)
        if self.offset_days is not None:
            return dt.timedelta(days=self.offset_days)
        return None

    @property
    def offset_label(self) -> str:
        """'24 hours', '15 days', '1 day': a relative deadline as the law counts it."""
        if self.offset_hours is not None:
            n, unit = self.offset_hours, "hour"
        elif self.offset_days is not None:
            n, unit = self.offset_days, "day"
        else:
            return ""
        return f"{n} {unit}{'' if n == 1 else 's'}"

    @property
    def is_amended(self) -> bool:
        return self.original_date is not None and self.original_date != self.date

    @property
    def latest_amendment(self) -> Amendment | None:
        """The amendment that set the date in force (uses a prefetch when there is one)."""
        amendments = list(self.amendments.all())
        return amendments[-1] if amendments else None

    def occurrences(self, *, start: dt.date, count: int) -> list[dt.date]:
        """The next `count` dates on or after `start` (one at most unless recurring)."""
        if self.date is None:
            return []
        if self.kind != self.Kind.RECURRING:
            return [self.date] if self.date >= start else []
        found: list[dt.date] = []
        n = 0
        while len(found) < count:
            when = self.date + relativedelta(months=self.every_months * n)
            if self.until and when > self.until:
                break
            if when >= start:
                found.append(when)
            n += 1
        return found

    def previous_date(self, today: dt.date) -> dt.date | None:
        """The last occurrence before `today` (the date itself unless recurring), if any."""
        if self.date is None or self.date >= today:
            return None
        if self.kind != self.Kind.RECURRING:
            return self.date
        last, n = self.date, 1
        while True:
            when = self.date + relativedelta(months=self.every_months * n)
            if when >= today or (self.until and when > self.until):
                return last
            last, n = when, n + 1

    def next_date(self, today: dt.date) -> dt.date | None:
        upcoming = self.occurrences(start=today, count=1)
        return upcoming[0] if upcoming else None


class Amendment(models.Model):
    """A later act that moved a milestone's date; the superseded date stays on record."""

    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="amendments")
    old_date = models.DateField()
    new_date = models.DateField()
    amending_act = models.CharField(max_length=200)
    source_url = models.URLField(max_length=500)
    effective_on = models.DateField(
        null=True, blank=True, help_text="When the amending act entered into force."
    )
    confidence = models.CharField(max_length=12, choices=Confidence.choices)
    note = models.TextField(blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["milestone", "recorded_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["milestone", "old_date", "new_date", "amending_act"],
                name="amendment_unique_per_move",
            ),
            models.CheckConstraint(
                name="amendment_moves_the_date", condition=~Q(old_date=models.F("new_date"))
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amending_act}: {self.old_date} → {self.new_date}"


class MilestoneChange(models.Model):
    """One recorded change of a milestone: the catalogue announces it, its followers consume it.

    Written in the transaction that changed the milestone; the apps that follow the catalogue
    (reminders, workspace) read it after commit and acknowledge it with a `ChangeReceipt`.
    """

    class Kind(models.TextChoices):
        CREATED = "created", "New milestone"
        MOVED = "moved", "Date moved"
        STATUS = "status", "Status changed"
        DETAILS = "details", "Details changed"

    class Origin(models.TextChoices):
        ADMIN = "admin", "Admin change form"
        AMENDMENT = "amendment", "Record an amendment"
        REVERT = "revert", "History revert"
        PACK = "pack", "Pack load"
        CONFLICT = "conflict", "Pack conflict resolved"

    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    origin = models.CharField(max_length=10, choices=Origin.choices)
    changes = models.JSONField(
        default=dict,
        help_text="Each changed field with its old and new value: {field: [old, new]}.",
    )
    old_date = models.DateField(null=True, blank=True)
    new_date = models.DateField(null=True, blank=True)
    old_status = models.CharField(max_length=12, blank=True)
    new_status = models.CharField(max_length=12, blank=True)
    amending_act = models.CharField(max_length=200, blank=True)
    source_url = models.URLField(max_length=500, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["recorded_at"], name="milestonechange_recorded_idx")]

    def __str__(self) -> str:
        return f"{self.milestone}: {self.get_kind_display()} ({self.recorded_at:%Y-%m-%d})"

    @property
    def date_moved(self) -> bool:
        return (
            self.old_date is not None
            and self.new_date is not None
            and (self.old_date != self.new_date)
        )


class ChangeReceipt(models.Model):
    """A follower app's acknowledgement that it consumed a change (or why it could not)."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    change = models.ForeignKey(MilestoneChange, on_delete=models.CASCADE, related_name="receipts")
    consumer = models.CharField(max_length=40)
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.RUNNING)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(
        null=True, blank=True, help_text="After a failure: when the change is offered again."
    )
    outcome = models.JSONField(default=dict, blank=True, help_text="What the consumer did.")
    errors = models.JSONField(
        default=list, blank=True, help_text="Items that failed on their own, with the reason."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["change", "consumer"], name="changereceipt_one_per_consumer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.consumer}: {self.get_status_display()}"


class Obligation(models.Model):
    """One duty a milestone brings: who owes it, for which AI systems, what "done" looks like.

    Its date is its milestone's, never its own, so an amendment of the milestone moves it. Who
    and for which systems is read by the workspace (tracker/workspace/duties.py): `roles` are
    the company's roles for a system; `when` (field: [allowed values], all must match),
    `when_any` (a list of such maps, one must match) and `unless` (a list of such maps, none may
    match) use the workspace's fact names (docs/catalogue-format.md, "Obligations").
    """

    key = models.SlugField(max_length=100, unique=True)
    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, related_name="obligations")
    article = models.CharField(
        max_length=200, help_text='As precise as the text, e.g. "Art. 26(5), first subparagraph".'
    )
    roles = ListField(validators=[validate_strings], help_text='e.g. ["provider"]')
    when = models.JSONField(
        default=dict, blank=True, help_text='e.g. {"risk_class": ["high_risk_annex_iii"]}'
    )
    when_any = ListField(blank=True, help_text="A list of maps like `when`; one must match.")
    unless = ListField(blank=True, help_text="A list of maps like `when`; none may match.")
    title = models.CharField(max_length=200, help_text="Short, plain language; public.")
    done_when = models.TextField(help_text='What "done" looks like, in a few lines; public.')
    text = models.TextField(help_text="The article quoted, or a paraphrase starting “Paraphrase:”.")
    source_url = models.URLField(max_length=500)
    confidence = models.CharField(max_length=12, choices=Confidence.choices)
    verified_on = models.DateField(
        null=True, blank=True,
        help_text="When this entry was last checked against its cited source; empty: not verified.",
    )  # fmt: skip
    note = models.TextField(blank=True, help_text="For editors; never shown to the public.")
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["milestone__date", "key"]

    def __str__(self) -> str:
        return f"{self.article}: {self.title}"

    def clean(self) -> None:
        # The pack loader and the admin form hold an obligation to the same rule (one validator).
        validate_conditions(
            roles=self.roles, when=self.when, when_any=self.when_any, unless=self.unless
        )

    @property
    def is_paraphrase(self) -> bool:
        """The text is the catalogue's words about the article, not a quote of it."""
        return self.text.startswith("Paraphrase:")


class PackRecord(models.Model):
    """What the last load of a pack said about one row: the base that tells the pack's own
    changes from an editor's, so a reload applies only what the pack changed."""

    class Kind(models.TextChoices):
        REGULATION = "regulation", "Regulation"
        ROLE = "role", "Role"
        SCOPE = "scope", "Scope"
        MILESTONE = "milestone", "Milestone"
        OBLIGATION = "obligation", "Obligation"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.CharField(max_length=100)
    pack = models.CharField(max_length=200, help_text="The pack file it came from.")
    values = models.JSONField(default=dict)
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="packrecord_one_per_row")
        ]
        # The catalogue's stamp reads the latest load time on every public page.
        indexes = [models.Index(fields=["loaded_at"], name="packrecord_loaded_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} (from {self.pack})"


class PackFile(models.Model):
    """A pack file as last loaded: an unchanged file is not read into the catalogue again."""

    name = models.CharField(max_length=200, unique=True)
    sha256 = models.CharField(max_length=64)
    loaded_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class PackConflict(models.Model):
    """A field that a pack and an editor both changed since the last load; an editor decides."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        KEPT = "kept", "Kept the catalogue's value"
        TAKEN = "taken", "Took the pack's value"

    kind = models.CharField(max_length=10, choices=PackRecord.Kind.choices)
    key = models.CharField(max_length=100)
    milestone = models.ForeignKey(
        Milestone, null=True, blank=True, on_delete=models.CASCADE, related_name="conflicts"
    )
    field = models.CharField(max_length=40)
    pack = models.CharField(max_length=200)
    pack_value = models.JSONField(null=True)
    pack_source = models.CharField(max_length=500, blank=True)
    current_value = models.JSONField(null=True)
    current_source = models.CharField(
        max_length=500, blank=True, help_text="Who last changed the catalogue's value, and why."
    )
    base_value = models.JSONField(null=True, help_text="The value at the previous load.")
    pack_extra = models.JSONField(
        default=dict, blank=True, help_text="What taking the pack's value also needs (amendments)."
    )
    status = models.CharField(max_length=5, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key", "field"],
                condition=Q(status="open"),
                name="packconflict_one_open_per_field",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}: {self.field}"
