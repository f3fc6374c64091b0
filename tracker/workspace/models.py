"""The organisation workspace: who the company is under the AI Act, its AI systems, and the
obligations it tracks. Every row belongs to one organisation."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from simple_history.models import HistoricalRecords

from tracker.catalogue.fields import ListField, validate_strings
from tracker.catalogue.models import Milestone, Obligation
from tracker.workspace.clocks import incident_deadline


class CompanyRole(models.TextChoices):
    PROVIDER = "provider", "Provider"
    DEPLOYER = "deployer", "Deployer"
    IMPORTER = "importer", "Importer"
    DISTRIBUTOR = "distributor", "Distributor"
    AUTHORISED_REPRESENTATIVE = "authorised_representative", "Authorised representative"
    PRODUCT_MANUFACTURER = "product_manufacturer", "Product manufacturer"


class Organisation(models.Model):
    """A company using Jalon, and the facts about it that the AI Act turns on."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    established_in_eu = models.BooleanField(
        "Established in the EU", default=True,
        help_text="A provider established outside the Union appoints an authorised "
        "representative in it (Art. 22(1), Art. 54(1)).",
    )  # fmt: skip
    public_body = models.BooleanField(
        "A body governed by public law", default=False,
        help_text="Deployers that are bodies governed by public law assess the impact of "
        "high-risk systems on fundamental rights (Art. 27(1)).",
    )  # fmt: skip
    provides_public_services = models.BooleanField(
        "A private entity providing public services", default=False,
        help_text="Such deployers assess the impact of high-risk systems on fundamental "
        "rights too (Art. 27(1)).",
    )  # fmt: skip
    review_notes = models.JSONField(
        default=list, blank=True,
        help_text="What changed in how Jalon reads the facts, for the owners to review.",
    )  # fmt: skip
    catalogue_version = models.PositiveIntegerField(
        default=0, help_text="The catalogue version the tracked items were last computed on."
    )
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


ANNEX_III_POINTS = [
    ("1a", "1(a) Remote biometric identification"),
    ("1b", "1(b) Biometric categorisation by sensitive attributes"),
    ("1c", "1(c) Emotion recognition"),
    ("2a", "2(a) Safety component of critical infrastructure"),
    ("3a", "3(a) Access or admission to education"),
    ("3b", "3(b) Evaluating learning outcomes"),
    ("3c", "3(c) Assessing the level of education"),
    ("3d", "3(d) Monitoring students during tests"),
    ("4a", "4(a) Recruitment and selection"),
    ("4b", "4(b) Decisions on work relationships, tasks, monitoring"),
    ("5a", "5(a) Eligibility for public assistance benefits"),
    ("5b", "5(b) Creditworthiness and credit scoring"),
    ("5c", "5(c) Life and health insurance risk and pricing"),
    ("5d", "5(d) Emergency calls and first response dispatch"),
    ("6a", "6(a) Law enforcement: risk of becoming a victim"),
    ("6b", "6(b) Law enforcement: polygraphs and similar tools"),
    ("6c", "6(c) Law enforcement: reliability of evidence"),
    ("6d", "6(d) Law enforcement: risk of offending"),
    ("6e", "6(e) Law enforcement: profiling"),
    ("7a", "7(a) Migration: polygraphs and similar tools"),
    ("7b", "7(b) Migration: risk assessment of persons"),
    ("7c", "7(c) Migration: asylum, visa and residence applications"),
    ("7d", "7(d) Migration: detecting or identifying persons"),
    ("8a", "8(a) Justice: assisting judicial authorities"),
    ("8b", "8(b) Influencing elections or referenda"),
]


class AISystem(models.Model):
    """An AI system or model in the organisation's inventory, with the company's roles for it."""

    class RiskClass(models.TextChoices):
        PROHIBITED = "prohibited", "Prohibited practice (Art. 5)"
        HIGH_RISK_ANNEX_III = "high_risk_annex_iii", "High-risk, Annex III (Art. 6(2))"
        HIGH_RISK_ANNEX_I = (
            "high_risk_annex_i",
            "High-risk, safety component of an Annex I product (Art. 6(1))",
        )
        ANNEX_III_NOT_HIGH_RISK = (
            "annex_iii_not_high_risk",
            "In an Annex III area, assessed as not high-risk (Art. 6(3))",
        )
        OTHER = "other", "Other (not high-risk, not prohibited)"

    class AnnexISection(models.TextChoices):
        NONE = "", "—"
        A = "A", "Section A (toys, lifts, radio equipment, medical devices...)"
        B = "B", "Section B (vehicles, aviation, marine, rail, machinery...)"

    class Art50(models.TextChoices):
        INTERACTS = "interacts", "Interacts directly with people (Art. 50(1))"
        EMOTION_RECOGNITION = "emotion_recognition", "Emotion recognition (Art. 50(3))"
        BIOMETRIC_CATEGORISATION = (
            "biometric_categorisation",
            "Biometric categorisation (Art. 50(3))",
        )
        SYNTHETIC_CONTENT = (
            "synthetic_content",
            "Generates synthetic audio, image, video or text (Art. 50(2))",
        )
        DEEP_FAKE = "deep_fake", "Generates or manipulates deep fakes (Art. 50(4))"
        PUBLIC_INTEREST_TEXT = (
            "public_interest_text",
            "Generates text published to inform the public (Art. 50(4))",
        )

    class Art25(models.TextChoices):
        OWN_NAME = "own_name", "We put our name or trademark on it (Art. 25(1)(a))"
        SUBSTANTIAL_MODIFICATION = (
            "substantial_modification",
            "We substantially modified it (Art. 25(1)(b))",
        )
        CHANGED_PURPOSE = (
            "changed_purpose",
            "We changed its intended purpose so that it is high-risk (Art. 25(1)(c))",
        )

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="systems")
    name = models.CharField(max_length=120)
    purpose = models.TextField(blank=True)
    roles = models.JSONField(
        default=list, blank=True, help_text="CompanyRole values: the company's roles for it."
    )
    risk_class = models.CharField(max_length=24, choices=RiskClass.choices)
    annex_iii_point = models.CharField(
        "Annex III point", max_length=2, choices=ANNEX_III_POINTS, blank=True, default=""
    )
    annex_i_section = models.CharField(
        "Annex I section", max_length=1, choices=AnnexISection.choices, blank=True, default=""
    )
    art50 = models.JSONField("Art. 50 features", default=list, blank=True)
    is_gpai_model = models.BooleanField("General-purpose AI model", default=False)
    gpai_systemic_risk = models.BooleanField("GPAI model with systemic risk", default=False)
    open_source = models.BooleanField(
        "Released under a free and open-source licence (GPAI models, Art. 53(2))", default=False
    )
    placed_on_market = models.DateField(
        "Placed on the market or put into service", null=True, blank=True
    )
    intended_for_public_authorities = models.BooleanField(
        "Intended to be used by public authorities (Art. 111(2))", default=False
    )
    art25 = models.JSONField("Art. 25 triggers", default=list, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="aisystem_annex_iii_point_only_for_annex_iii",
                condition=Q(risk_class__in=["high_risk_annex_iii", "annex_iii_not_high_risk"])
                | Q(annex_iii_point=""),
            ),
            models.CheckConstraint(
                name="aisystem_annex_i_section_only_for_annex_i",
                condition=Q(risk_class="high_risk_annex_i") | Q(annex_i_section=""),
            ),
            models.CheckConstraint(
                name="aisystem_systemic_risk_only_for_gpai",
                condition=Q(is_gpai_model=True) | Q(gpai_systemic_risk=False),
            ),
        ]

    def __str__(self) -> str:
        return self.name


# Target dates a team can set: a typo such as 9999 or 0202 is refused with this message.
TARGET_DATE_MIN = dt.date(2000, 1, 1)
TARGET_DATE_MAX = dt.date(2100, 12, 31)
TARGET_DATE_MESSAGE = "Choose a target date between 1 January 2000 and 31 December 2100."


WHOLE_COMPANY_LABEL = "Whole company"


class TrackedItemQuerySet(models.QuerySet):
    """The one definition of the item sets every page, email and count uses."""

    def tracked(self) -> TrackedItemQuerySet:
        """On the timeline: the rules select it, or a member keeps tracking it on purpose."""
        return self.filter(Q(applies=True) | Q(kept_at__isnull=False))

    def stopped(self) -> TrackedItemQuerySet:
        """No longer applies, and nobody chose to keep it: the "No longer applies" section."""
        return self.filter(applies=False, kept_at__isnull=True)

    def open(self) -> TrackedItemQuerySet:
        return self.filter(status__in=TrackedItem.OPEN)

    def duties(self) -> TrackedItemQuerySet:
        """Items that track one duty of the catalogue (for a system or the company)."""
        return self.filter(obligation__isnull=False)

    def overdue(self, today: dt.date) -> TrackedItemQuerySet:
        return self.filter(self.overdue_condition(today))

    @staticmethod
    def overdue_condition(today: dt.date) -> Q:
        """Open, and past a date someone here could have met: a target date the team set, or
        a legal date after the organisation was created (TrackedItem.is_overdue in SQL)."""
        founded = TruncDate("organisation__created_at")  # in the current time zone
        return Q(status__in=TrackedItem.OPEN) & (
            Q(target_date__lt=today)
            | Q(target_date__isnull=True, milestone__date__lt=today, milestone__date__gt=founded)
        )


class TrackedItem(models.Model):
    """One obligation that applies to the organisation, and how it is going: a duty of the
    catalogue for one AI system (or for the company), or a milestone with no duties listed."""

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        TO_CONFIRM = "to_confirm", "In force: confirm you comply"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        NOT_APPLICABLE = "not_applicable", "Not applicable"

    OPEN = (Status.NOT_STARTED, Status.TO_CONFIRM, Status.IN_PROGRESS)

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="items")
    milestone = models.ForeignKey(
        Milestone, on_delete=models.PROTECT, related_name="+",
        help_text="Whose date it is tracked against (for a duty: its own milestone, or the "
        "Art. 111 substitute that applies to the system).",
    )  # fmt: skip
    obligation = models.ForeignKey(
        Obligation, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The duty tracked; empty: the milestone is tracked as a whole.",
    )  # fmt: skip
    system = models.ForeignKey(
        AISystem, null=True, blank=True, on_delete=models.SET_NULL, related_name="items",
        help_text="The AI system the duty is owed for; empty: the company's (or the system "
        "was removed, see the name).",
    )  # fmt: skip
    system_name = models.CharField(
        "AI system", max_length=120, blank=True, default="", db_default="",
        help_text="The system's name, kept when the system is removed from the inventory.",
    )  # fmt: skip
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.NOT_STARTED,
        help_text="“In force: confirm you comply” is where an item starts when its date had "
        "passed before the organisation was created.",
    )  # fmt: skip
    not_applicable_reason = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="owned_items",
    )  # fmt: skip
    target_date = models.DateField(
        null=True, blank=True, help_text="Defaults to the legal date.",
        validators=[MinValueValidator(TARGET_DATE_MIN, TARGET_DATE_MESSAGE),
                    MaxValueValidator(TARGET_DATE_MAX, TARGET_DATE_MESSAGE)],
    )  # fmt: skip
    notes = models.TextField(blank=True)
    reasons = models.JSONField(
        default=list,
        help_text="Why it applies: rule, article, text (kept as they were when it stopped).",
    )
    applies = models.BooleanField(
        default=True,
        help_text="False when the rules no longer select it (kept, with its work and history).",
    )
    stopped_at = models.DateTimeField(
        null=True, blank=True, help_text="When the rules stopped selecting it."
    )
    stopped_reason = models.TextField(
        blank=True, help_text="What changed so that the rules no longer select it."
    )
    kept_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When a member chose to keep tracking it although the rules no longer "
        "select it.",
    )  # fmt: skip
    kept_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    changed_in_catalogue = models.BooleanField(
        default=False, help_text="The milestone's date moved since the owner last looked."
    )
    history = HistoricalRecords()
    objects = TrackedItemQuerySet.as_manager()

    class Meta:
        ordering = ["milestone__date", "milestone__key", "system_name", "obligation_id"]
        # One item per (organisation, milestone, system, obligation), NULLs included: one
        # constraint per shape, so SQLite and PostgreSQL alike refuse a second one. A duty of a
        # removed system (system NULL, its name kept) is no longer a live identity.
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "milestone"],
                condition=Q(obligation__isnull=True),
                name="item_unique_milestone",
            ),
            models.UniqueConstraint(
                fields=["organisation", "milestone", "system", "obligation"],
                condition=Q(obligation__isnull=False, system__isnull=False),
                name="item_unique_system_duty",
            ),
            models.UniqueConstraint(
                fields=["organisation", "milestone", "obligation"],
                condition=Q(obligation__isnull=False, system__isnull=True, system_name=""),
                name="item_unique_company_duty",
            ),
            models.CheckConstraint(
                name="item_system_only_for_a_duty",
                condition=Q(obligation__isnull=False) | Q(system__isnull=True, system_name=""),
            ),
            models.CheckConstraint(
                name="item_not_applicable_has_a_reason",
                condition=~Q(status="not_applicable") | ~Q(not_applicable_reason=""),
            ),
        ]

    def __str__(self) -> str:
        where = f", {self.system_name}" if self.system_name else ""
        return f"{self.title}{where} ({self.organisation})"

    @property
    def is_duty(self) -> bool:
        return self.obligation_id is not None

    @property
    def title(self) -> str:
        """The duty's title, or the milestone's when it is tracked as a whole."""
        return self.obligation.title if self.is_duty else self.milestone.title

    @property
    def article(self) -> str:
        """The duty's article, or the milestone's legal basis."""
        return self.obligation.article if self.is_duty else self.milestone.legal_basis

    @property
    def system_removed(self) -> bool:
        """A duty of a system since removed from the inventory (its name is kept)."""
        return self.system_id is None and bool(self.system_name)

    @property
    def scope_label(self) -> str:
        """Whom the duty is owed for: the system's name, or the whole company ("" for a
        milestone tracked as a whole)."""
        if not self.is_duty:
            return ""
        if self.system_removed:
            return f"{self.system_name} (removed)"
        return self.system_name or WHOLE_COMPANY_LABEL

    @property
    def due_date(self) -> dt.date | None:
        return self.target_date or self.milestone.date

    def due_on(self, today: dt.date) -> dt.date | None:
        """The date it is next due as of `today`: the team's target date, else the milestone's
        next legal date (a recurring duty's next occurrence), else its date (calendar feeds,
        webhooks)."""
        return self.target_date or self.milestone.next_date(today) or self.milestone.date

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @property
    def is_tracked(self) -> bool:
        return self.applies or self.kept_at is not None

    @property
    def is_kept(self) -> bool:
        """Tracked on purpose although the rules no longer select it."""
        return not self.applies and self.kept_at is not None

    @property
    def in_force_before_us(self) -> bool:
        """Its legal date had passed when the organisation was created: nobody here could have
        met it, so it asks for a confirmation, not an apology."""
        founded = timezone.localdate(self.organisation.created_at)
        return self.milestone.date is not None and self.milestone.date <= founded

    def is_overdue(self, today: dt.date) -> bool:
        """Open and past a date someone here could have met (a target date the team set, or a
        legal date after the organisation was created); TrackedItemQuerySet.overdue in SQL."""
        if not self.is_open or self.due_date is None or self.due_date >= today:
            return False
        return self.target_date is not None or not self.in_force_before_us

    def is_in_force_to_confirm(self, today: dt.date) -> bool:
        """Open, its date passed before the organisation existed: confirm you comply."""
        return (
            self.is_open
            and self.due_date is not None
            and self.due_date < today
            and not self.is_overdue(today)
        )


class Incident(models.Model):
    """A serious incident (Art. 73): the reporting clock starts when the company became aware."""

    class Kind(models.TextChoices):
        # The periods live in the catalogue (clocks.KIND_MILESTONES), not in these labels.
        GENERAL = "general", "Serious incident (Art. 73(2))"
        CRITICAL_INFRASTRUCTURE = (
            "critical_infrastructure",
            "Serious and irreversible disruption of critical infrastructure (Art. 73(3))",
        )
        WIDESPREAD = "widespread", "Widespread infringement (Art. 73(3))"
        DEATH = "death", "Death of a person (Art. 73(4))"

    class MemberState(models.TextChoices):
        """The EU-27 by ISO 3166-1 code (Greece is GR); clocks.PLACES has their time zones."""

        AT = "AT", "Austria"
        BE = "BE", "Belgium"
        BG = "BG", "Bulgaria"
        HR = "HR", "Croatia"
        CY = "CY", "Cyprus"
        CZ = "CZ", "Czechia"
        DK = "DK", "Denmark"
        EE = "EE", "Estonia"
        FI = "FI", "Finland"
        FR = "FR", "France"
        DE = "DE", "Germany"
        GR = "GR", "Greece"
        HU = "HU", "Hungary"
        IE = "IE", "Ireland"
        IT = "IT", "Italy"
        LV = "LV", "Latvia"
        LT = "LT", "Lithuania"
        LU = "LU", "Luxembourg"
        MT = "MT", "Malta"
        NL = "NL", "Netherlands"
        PL = "PL", "Poland"
        PT = "PT", "Portugal"
        RO = "RO", "Romania"
        SK = "SK", "Slovakia"
        SI = "SI", "Slovenia"
        ES = "ES", "Spain"
        SE = "SE", "Sweden"

    class Region(models.TextChoices):
        """Regions that keep another time than their Member State's capital (ISO 3166-2)."""

        GUADELOUPE = "FR-971", "Guadeloupe"
        MARTINIQUE = "FR-972", "Martinique"
        FRENCH_GUIANA = "FR-973", "French Guiana"
        REUNION = "FR-974", "Réunion"
        MAYOTTE = "FR-976", "Mayotte"
        SAINT_MARTIN = "FR-MF", "Saint-Martin"
        AZORES = "PT-20", "Azores"
        MADEIRA = "PT-30", "Madeira"
        CANARY_ISLANDS = "ES-CN", "Canary Islands"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="incidents"
    )
    system = models.ForeignKey(AISystem, on_delete=models.PROTECT, related_name="incidents")
    kinds = ListField(
        validators=[validate_strings],
        help_text="Kind values; the shortest reporting period applies.",
    )
    member_state = models.CharField(
        "Member State where it occurred", max_length=2, choices=MemberState.choices, blank=True,
        help_text="Its time and public holidays count. Blank only on incidents recorded before "
        "it was asked: those count in the server's time zone.",
    )  # fmt: skip
    region = models.CharField(
        max_length=6, choices=Region.choices, blank=True,
        help_text="Only where the Member State spans time zones.",
    )  # fmt: skip
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
        constraints = [
            models.CheckConstraint(
                name="incident_region_in_its_member_state",
                condition=Q(region="")
                | (~Q(member_state="") & Q(region__startswith=models.F("member_state"))),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kinds_display} on {self.system}"

    @property
    def kinds_display(self) -> str:
        labels = dict(self.Kind.choices)
        return ", ".join(labels.get(kind, kind) for kind in self.kinds) or "Incident"

    @property
    def place_display(self) -> str:
        """“Finland”, “Réunion (France)”, or "" when the Member State is not recorded."""
        if not self.member_state:
            return ""
        if self.region:
            return f"{self.get_region_display()} ({self.get_member_state_display()})"
        return self.get_member_state_display()

    def clean(self) -> None:
        errors = {}
        kinds = self.kinds if isinstance(self.kinds, list) else [self.kinds]
        if not kinds:
            errors["kinds"] = "Tick at least one kind of incident."
        elif not all(kind in self.Kind.values for kind in kinds):
            errors["kinds"] = "Choose kinds from the list."
        elif len(set(kinds)) != len(kinds):
            errors["kinds"] = "Tick each kind once."
        if self.region and not self.member_state:
            errors["member_state"] = "Choose the Member State of the region."
        elif self.region and self.region.split("-")[0] != self.member_state:
            errors["region"] = (
                f"{self.get_region_display()} is not in {self.get_member_state_display()}."
            )
        # The one check of an awareness time, for the forms, the admin and the services alike:
        # not in the future, and not more than five years back (a sanity floor against a
        # mistyped year, not a legal date).
        now = dt.datetime.now(dt.UTC)
        today = now.date()
        leap_day = (today.month, today.day) == (2, 29)
        floor = today.replace(year=today.year - 5, day=28 if leap_day else today.day)
        if self.aware_at and self.aware_at > now:
            errors["aware_at"] = "You cannot have become aware of it in the future."
        elif self.aware_at and self.aware_at < dt.datetime.combine(floor, dt.time(), dt.UTC):
            errors["aware_at"] = (
                "That is more than 5 years ago: check the year (the earliest accepted is "
                f"{floor.day} {floor:%B %Y})."
            )
        # Someone must hear the clock: an owner, who is a member of the organisation.
        if self.owner_id is None:
            errors["owner"] = (
                "Choose who owns this incident: they are reminded every day until it is reported."
            )
        elif (
            self.organisation_id
            and not Membership.objects.filter(
                organisation_id=self.organisation_id, user_id=self.owner_id
            ).exists()
        ):
            errors["owner"] = "The owner must be a member of the organisation."
        if errors:
            raise ValidationError(errors)

    def clock(self, *, periods=None):
        """The reporting clock (clocks.Clock): the shortest period of its kinds, read from the
        catalogue, counted where it occurred. Pass `periods` to read the catalogue once."""
        return incident_deadline(
            kinds=self.kinds, aware_at=self.aware_at, member_state=self.member_state,
            region=self.region, place_name=self.place_display, periods=periods,
        )  # fmt: skip


class OwnerReminders(models.Model):
    """What one person hears from one organisation besides their deadline reminders (those
    are the reminder engine's, asked for through tracker.reminders.personal): each kind of
    workspace email can be turned off from its List-Unsubscribe link and back on in settings."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    overdue_digest = models.BooleanField(default=True, help_text="Weekly digest of overdue items.")
    incident_clock = models.BooleanField(
        default=True, help_text="Daily reminder of an unreported incident's deadline."
    )
    item_moved = models.BooleanField(default=True, help_text="Notice when an item's date moves.")
    evidence_expiry = models.BooleanField(
        default=True, help_text="Reminder before a piece of evidence I own expires."
    )

    class Meta:
        verbose_name_plural = "owner reminders"
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="owner_reminders_unique")
        ]

    def __str__(self) -> str:
        return f"Reminders for {self.user} in {self.organisation}"


# Evidence and API tokens live in their own modules (the models of one capability, kept apart).
from tracker.workspace.api_tokens import *  # noqa: E402, F403
from tracker.workspace.calendar_feed import *  # noqa: E402, F403
from tracker.workspace.evidence_models import *  # noqa: E402, F403
