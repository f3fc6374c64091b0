"""The organisation workspace: who the company is under the AI Act, its AI systems, and the
obligations it tracks. Every row belongs to one organisation."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from tracker.catalogue.models import Milestone
from tracker.workspace.clocks import incident_deadline


class CompanyRole(models.TextChoices):
    PROVIDER = "provider", "Provider"
    DEPLOYER = "deployer", "Deployer"
    IMPORTER = "importer", "Importer"
    DISTRIBUTOR = "distributor", "Distributor"
    AUTHORISED_REPRESENTATIVE = "authorised_representative", "Authorised representative"
    PRODUCT_MANUFACTURER = "product_manufacturer", "Product manufacturer"


class Organisation(models.Model):
    """A company using Jalon, with its roles under the AI Act."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    roles = models.JSONField(default=list, blank=True, help_text="CompanyRole values.")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A person's place in an organisation: owner, editor or viewer."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        EDITOR = "editor", "Editor"
        VIEWER = "viewer", "Viewer"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=6, choices=Role.choices, default=Role.VIEWER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organisation} ({self.role})"

    @property
    def can_edit(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.EDITOR)


class Invitation(models.Model):
    """An invitation, sent by email, to join an organisation with a role."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=6, choices=Membership.Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.email} to {self.organisation} as {self.role}"


class AISystem(models.Model):
    """An AI system or model in the organisation's inventory."""

    class RiskClass(models.TextChoices):
        PROHIBITED = "prohibited", "Prohibited practice (Art. 5)"
        HIGH_RISK_ANNEX_III = "high_risk_annex_iii", "High-risk, Annex III"
        HIGH_RISK_ANNEX_I = "high_risk_annex_i", "High-risk, safety component of an Annex I product"
        TRANSPARENCY = "transparency", "Transparency duties (Art. 50)"
        MINIMAL = "minimal", "Minimal risk"

    class AnnexIIIArea(models.TextChoices):
        NONE = "", "—"
        BIOMETRICS = "biometrics", "1. Biometrics"
        CRITICAL_INFRASTRUCTURE = "critical_infrastructure", "2. Critical infrastructure"
        EDUCATION = "education", "3. Education and vocational training"
        EMPLOYMENT = "employment", "4. Employment and workers management"
        ESSENTIAL_SERVICES = "essential_services", "5. Essential private and public services"
        LAW_ENFORCEMENT = "law_enforcement", "6. Law enforcement"
        MIGRATION = "migration", "7. Migration, asylum and border control"
        JUSTICE = "justice", "8. Administration of justice and democratic processes"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="systems")
    name = models.CharField(max_length=120)
    purpose = models.TextField(blank=True)
    risk_class = models.CharField(max_length=20, choices=RiskClass.choices)
    annex_iii_area = models.CharField(
        max_length=24, choices=AnnexIIIArea.choices, blank=True, default=""
    )
    is_gpai_model = models.BooleanField("General-purpose AI model", default=False)
    gpai_systemic_risk = models.BooleanField("GPAI model with systemic risk", default=False)
    generative = models.BooleanField(
        "Generates synthetic audio, image, video or text", default=False
    )
    placed_on_market = models.DateField(
        "Placed on the market or put into service", null=True, blank=True
    )
    used_by_public_authority = models.BooleanField(default=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="aisystem_annex_iii_area_only_for_annex_iii",
                condition=Q(risk_class="high_risk_annex_iii") | Q(annex_iii_area=""),
            ),
            models.CheckConstraint(
                name="aisystem_systemic_risk_only_for_gpai",
                condition=Q(is_gpai_model=True) | Q(gpai_systemic_risk=False),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TrackedItem(models.Model):
    """One obligation that applies to the organisation, and how it is going."""

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        NOT_APPLICABLE = "not_applicable", "Not applicable"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="items")
    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_STARTED)
    not_applicable_reason = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="owned_items",
    )  # fmt: skip
    target_date = models.DateField(null=True, blank=True, help_text="Defaults to the legal date.")
    notes = models.TextField(blank=True)
    evidence_links = models.JSONField(default=list, blank=True)
    reasons = models.JSONField(default=list, help_text="Why it applies: rule, article, text.")
    applies = models.BooleanField(
        default=True,
        help_text="False when the profile no longer makes it apply (kept for history).",
    )
    changed_in_catalogue = models.BooleanField(
        default=False, help_text="The milestone's date moved since the owner last looked."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["milestone__date", "milestone__key"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "milestone"], name="item_unique"),
            models.CheckConstraint(
                name="item_not_applicable_has_a_reason",
                condition=~Q(status="not_applicable") | ~Q(not_applicable_reason=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.milestone} ({self.organisation})"

    @property
    def due_date(self) -> dt.date | None:
        return self.target_date or self.milestone.date

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.NOT_STARTED, self.Status.IN_PROGRESS)


class Incident(models.Model):
    """A serious incident (Art. 73): the reporting clock starts when the company became aware."""

    class Kind(models.TextChoices):
        GENERAL = "general", "Serious incident (15 days, Art. 73(2))"
        CRITICAL_INFRASTRUCTURE = (
            "critical_infrastructure",
            "Serious disruption of critical infrastructure (2 days, Art. 73(3))",
        )
        WIDESPREAD = "widespread", "Widespread infringement (2 days, Art. 73(3))"
        DEATH = "death", "Death of a person (10 days, Art. 73(4))"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="incidents"
    )
    system = models.ForeignKey(AISystem, on_delete=models.PROTECT, related_name="incidents")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    aware_at = models.DateTimeField(help_text="When the company became aware of it.")
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    reported_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-aware_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.system}"

    def report_by(self, tz: str) -> dt.datetime:
        """The Art. 73 reporting deadline, counted in the time zone `tz`."""
        return incident_deadline(kind=self.kind, aware_at=self.aware_at, tz=tz)


class OwnerReminders(models.Model):
    """The reminder-engine subscription that carries an owner's reminders for one organisation:
    its milestones are the open items the person owns there."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    subscription = models.OneToOneField(
        "reminders.Subscription", on_delete=models.CASCADE, related_name="owner_link"
    )

    class Meta:
        verbose_name_plural = "owner reminders"
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="owner_reminders_unique")
        ]

    def __str__(self) -> str:
        return f"Reminders for {self.user} in {self.organisation}"
