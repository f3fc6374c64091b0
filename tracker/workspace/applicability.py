"""Which EU AI Act milestones apply to a company, and why.

Pure Python, no Django: plain dataclasses in (`CompanyFacts`, `SystemFacts`), plain dataclasses
out (`Applicability`, `Reason`). The workspace converts its models and stores the reasons.

`RULES` is the whole legal reasoning, one small rule per legal test, read top to bottom. A rule
looks either at the company (its roles) or at one system at a time (with the company's roles),
cites the article it rests on, and yields milestone keys of the EU AI Act pack
(fixtures/eu-ai-act.yaml). Dates belong to the catalogue, which admins amend; the rules only
hold the cut-off dates their branches turn on (Art. 111), and a test checks those against it.

Deliberately left out: duties of Member States, the Commission, the AI Office, the AI Board and
notified bodies; Commission guidance and legislative-procedure dates; Annex X large-scale IT
systems (run by EU agencies and Member States, Art. 111(1)); and event-driven options a company
rarely meets (notified-body suspension, real-world testing, sandboxes, reassessment requests).

The company's roles apply to every system in its inventory (the facts carry no per-system role),
so a company that provides one system and deploys another gets both readings of each; every
reason names the role it rests on. Someone who puts their name on, or substantially modifies, a
high-risk system becomes its provider (Art. 25): the app records that by giving the role.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

ROLES = (
    "provider",
    "deployer",
    "importer",
    "distributor",
    "authorised_representative",
    "product_manufacturer",
)
RISK_CLASSES = ("prohibited", "high_risk_annex_iii", "high_risk_annex_i", "transparency", "minimal")
# Annex III points 1 to 8, with the values the workspace stores.
ANNEX_III_AREAS = (
    "biometrics",
    "critical_infrastructure",
    "education",
    "employment",
    "essential_services",
    "law_enforcement",
    "migration",
    "justice",
)

# Cut-offs that decide which branch of a transitional rule a system is in. The dates that apply
# come from the catalogue; a test checks these against it.
PROHIBITIONS_FROM = date(2025, 2, 2)  # Art. 113, third paragraph, point (a)
GPAI_CUTOFF = date(2025, 8, 2)  # Art. 111(3): older models have until 2 August 2027
# Art. 111(2). Regulation (EU) 2026/1744 moved the high-risk dates but is not known to have moved
# this cut-off; the catalogue keeps the original date (ai-act-legacy-high-risk-cutoff) and so do
# we, saying so in the reason.
HIGH_RISK_CUTOFF = date(2026, 8, 2)
ART50_2_CUTOFF = date(2026, 8, 2)  # Art. 111(4) as inserted by Regulation (EU) 2026/1744


@dataclass(frozen=True)
class SystemFacts:
    """One AI system or model in the company's inventory."""

    key: str
    name: str
    risk_class: str
    annex_iii_area: str = ""
    is_gpai_model: bool = False
    gpai_systemic_risk: bool = False
    generative: bool = False
    placed_on_market: date | None = None
    used_by_public_authority: bool = False

    def __post_init__(self) -> None:
        if self.risk_class not in RISK_CLASSES:
            raise ValueError(f"{self.key}: unknown risk class {self.risk_class!r}")
        if self.annex_iii_area and self.risk_class != "high_risk_annex_iii":
            raise ValueError(f"{self.key}: an Annex III area needs risk class high_risk_annex_iii")
        if self.annex_iii_area and self.annex_iii_area not in ANNEX_III_AREAS:
            raise ValueError(f"{self.key}: unknown Annex III area {self.annex_iii_area!r}")
        if self.gpai_systemic_risk and not self.is_gpai_model:
            raise ValueError(f"{self.key}: systemic risk is a property of a GPAI model")


@dataclass(frozen=True)
class CompanyFacts:
    """Who the company is under the AI Act, and its inventory."""

    roles: frozenset[str]
    systems: tuple[SystemFacts, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles: {sorted(unknown)}")
        keys = [s.key for s in self.systems]
        if len(keys) != len(set(keys)):
            raise ValueError("system keys must be unique")


@dataclass(frozen=True)
class Reason:
    """Why a milestone applies: the rule, its article, and a sentence naming system and role."""

    rule: str
    article: str
    explanation: str
    system_key: str = ""


@dataclass(frozen=True)
class Applicability:
    """A milestone that applies to the company, with every reason for it."""

    milestone_key: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Finding:
    """What one rule found: the milestones it makes apply, and why in one sentence."""

    milestones: tuple[str, ...]
    explanation: str


@dataclass(frozen=True)
class Rule:
    """One legal test. Exactly one of `on_company` and `on_system` says how it matches."""

    id: str
    article: str
    description: str
    yields: tuple[str, ...]  # every milestone key the rule can produce
    on_company: Callable[[CompanyFacts], Finding | None] | None = None
    on_system: Callable[[CompanyFacts, SystemFacts], Finding | None] | None = None

    def __post_init__(self) -> None:
        if (self.on_company is None) == (self.on_system is None):
            raise ValueError(f"{self.id}: give exactly one of on_company and on_system")

    def apply(self, company: CompanyFacts) -> list[tuple[str, Reason]]:
        """(milestone key, reason) for each match of this rule in the company's facts."""
        on_company, on_system = self.on_company, self.on_system
        if on_company is not None:
            found = [("", on_company(company))]
        elif on_system is not None:
            found = [(s.key, on_system(company, s)) for s in company.systems]
        else:  # refused by __post_init__
            found = []
        out = []
        for system_key, finding in found:
            if finding is None:
                continue
            stray = set(finding.milestones) - set(self.yields)
            if stray:
                raise ValueError(f"{self.id} yielded undeclared milestones {sorted(stray)}")
            reason = Reason(self.id, self.article, finding.explanation, system_key)
            out.extend((key, reason) for key in finding.milestones)
        return out


# ---------------------------------------------------------------------------------------------
# Wording helpers
# ---------------------------------------------------------------------------------------------

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_ROLE_WORDS = {
    "provider": "provider",
    "deployer": "deployer",
    "importer": "importer",
    "distributor": "distributor",
    "authorised_representative": "authorised representative",
    "product_manufacturer": "product manufacturer",
}
PROVIDER_LIKE = ("provider", "product_manufacturer")  # Art. 3(3), Art. 2(1)(e), Art. 25(3)
PLACING_OR_USING = ("provider", "deployer", "importer", "distributor", "product_manufacturer")


def _day(d: date) -> str:
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


def _as(company: CompanyFacts, *roles: str) -> str:
    """'Provider and deployer': the company's roles among `roles`, or '' when it has none."""
    held = [_ROLE_WORDS[r] for r in ROLES if r in roles and r in company.roles]
    if not held:
        return ""
    text = held[0] if len(held) == 1 else ", ".join(held[:-1]) + " and " + held[-1]
    return text[0].upper() + text[1:]


def _name(system: SystemFacts) -> str:
    return f"“{system.name}”"


def _risk(system: SystemFacts) -> str:
    if system.risk_class == "high_risk_annex_iii":
        area = system.annex_iii_area.replace("_", " ")
        return f"high-risk under Annex III ({area})" if area else "high-risk under Annex III"
    if system.risk_class == "high_risk_annex_i":
        return "high-risk under Art. 6(1) (safety component of an Annex I product)"
    if system.is_gpai_model:
        systemic = " with systemic risk" if system.gpai_systemic_risk else ""
        return f"a general-purpose AI model{systemic}"
    if system.generative:
        return "a generative AI system"
    return "an AI system with transparency duties under Art. 50"


def _is_high_risk(system: SystemFacts) -> bool:
    return system.risk_class in ("high_risk_annex_iii", "high_risk_annex_i")


def _is_legacy(system: SystemFacts) -> bool:
    """On the market before the Art. 111(2) cut-off (None means not yet on the market)."""
    return system.placed_on_market is not None and system.placed_on_market < HIGH_RISK_CUTOFF


def _will_comply(system: SystemFacts) -> bool:
    """A high-risk system the Regulation reaches without a significant change in design."""
    return _is_high_risk(system) and (not _is_legacy(system) or system.used_by_public_authority)


def _market(system: SystemFacts) -> str:
    if system.placed_on_market is None:
        return "not yet on the market"
    return f"placed on the market on {_day(system.placed_on_market)}"


def _no_relief(system: SystemFacts) -> str:
    """Why the Art. 111(2) transition does not help a system that is not legacy."""
    if system.placed_on_market is None:
        return ""
    return f", on or after the {_day(HIGH_RISK_CUTOFF)} cut-off of Art. 111(2)"


def _apply_key(system: SystemFacts) -> str:
    if system.risk_class == "high_risk_annex_iii":
        return "ai-act-high-risk-annex-iii-apply"
    return "ai-act-high-risk-annex-i-apply"


def _when_reached(system: SystemFacts) -> str:
    if _is_legacy(system):
        return (
            "once it must comply (by 2 August 2030 at the latest for a legacy system used by "
            "public authorities, Art. 111(2))"
        )
    return "once its high-risk obligations apply"


def _gpai_key(system: SystemFacts) -> str:
    legacy = system.placed_on_market is not None and system.placed_on_market < GPAI_CUTOFF
    return "ai-act-legacy-gpai-compliance" if legacy else "ai-act-gpai-obligations-apply"


def _gpai_deadline(system: SystemFacts) -> str:
    if _gpai_key(system) == "ai-act-legacy-gpai-compliance":
        return (
            f"; {_market(system)}, before {_day(GPAI_CUTOFF)}, so the steps to comply are due by "
            "2 August 2027 (Art. 111(3))"
        )
    return ""


# ---------------------------------------------------------------------------------------------
# General duties: every operator, whatever its systems
# ---------------------------------------------------------------------------------------------


def _timeline(company: CompanyFacts) -> Finding | None:
    who = _as(company, *ROLES)
    if not who:
        return None
    return Finding(
        ("ai-act-general-application",),
        f"{who} of AI systems: the Regulation's general date of application frames the "
        "others; most obligations not listed separately apply from it.",
    )


def _literacy(company: CompanyFacts) -> Finding | None:
    who = _as(company, "provider", "deployer", "product_manufacturer")
    if not who:
        return None
    return Finding(
        ("ai-act-ai-literacy-applies",),
        f"{who} of AI systems: must take measures for a sufficient level of AI literacy of staff "
        "and others operating AI systems on its behalf.",
    )


def _prohibitions(company: CompanyFacts) -> Finding | None:
    who = _as(company, *PLACING_OR_USING)
    if not who:
        return None
    return Finding(
        ("ai-act-prohibitions-apply",),
        f"{who} of AI systems: may not place on the market, put into service or use AI systems "
        f"for the practices banned by Art. 5, banned since {_day(PROHIBITIONS_FROM)}.",
    )


def _new_prohibitions(company: CompanyFacts) -> Finding | None:
    who = _as(company, *PLACING_OR_USING)
    if not who:
        return None
    return Finding(
        ("ai-act-omnibus-new-prohibitions-apply",),
        f"{who} of AI systems: the practices added to Art. 5 by Regulation (EU) 2026/1744 "
        "(AI-generated non-consensual intimate imagery, child sexual abuse material) are banned "
        "too.",
    )


def _penalties(company: CompanyFacts) -> Finding | None:
    who = _as(company, *ROLES)
    if not who:
        return None
    return Finding(
        ("ai-act-penalties-apply",),
        f"{who} of AI systems: operators can be fined under the national penalty rules for "
        "breaching the Regulation.",
    )


def _corrective_action(company: CompanyFacts) -> Finding | None:
    who = _as(company, *ROLES)
    if not who:
        return None
    return Finding(
        ("ai-act-corrective-action-15-working-days",),
        f"{who} of AI systems: if a market surveillance authority finds that a system presenting "
        "a risk does not comply, the operator must correct, withdraw or recall it within the "
        "period set, at most 15 working days.",
    )


# ---------------------------------------------------------------------------------------------
# Prohibited practices (Art. 5)
# ---------------------------------------------------------------------------------------------


def _prohibited_system(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, *ROLES)
    if system.risk_class != "prohibited" or not who:
        return None
    return Finding(
        ("ai-act-prohibitions-apply",),
        f"{who} of {_name(system)}, recorded as a prohibited practice: banned since "
        f"{_day(PROHIBITIONS_FROM)} whenever it was placed on the market (Art. 111 gives Art. 5 "
        "no transition); it must not be placed on the market, put into service or used.",
    )


# ---------------------------------------------------------------------------------------------
# High-risk systems (Chapter III) and the Art. 111(2) transition
# ---------------------------------------------------------------------------------------------


def _hr_iii_provider(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, "provider")
    if system.risk_class != "high_risk_annex_iii" or _is_legacy(system) or not who:
        return None
    return Finding(
        ("ai-act-high-risk-annex-iii-apply",),
        f"{who} of {_name(system)}, {_risk(system)}, {_market(system)}{_no_relief(system)}: "
        "needs risk management, data governance, technical documentation, logging, human "
        "oversight, conformity assessment, CE marking and registration by the Annex III date, as "
        "moved by Regulation (EU) 2026/1744.",
    )


def _hr_iii_deployer(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, "deployer")
    if system.risk_class != "high_risk_annex_iii" or _is_legacy(system) or not who:
        return None
    fria = ""
    if system.used_by_public_authority:
        fria = "; used by a public authority, so it needs a fundamental-rights impact assessment"
    elif system.annex_iii_area == "essential_services":
        fria = (
            "; if it scores creditworthiness or prices life or health insurance, it needs a "
            "fundamental-rights impact assessment"
        )
    if fria:
        fria += " before first use (Art. 27)"
    return Finding(
        ("ai-act-high-risk-annex-iii-apply",),
        f"{who} of {_name(system)}, {_risk(system)}: must use it as instructed, assign human "
        "oversight, monitor it, keep its logs and inform the people it decides about "
        f"(Art. 26){fria}.",
    )


def _hr_i_provider(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, *PROVIDER_LIKE)
    if system.risk_class != "high_risk_annex_i" or _is_legacy(system) or not who:
        return None
    return Finding(
        ("ai-act-high-risk-annex-i-apply",),
        f"{who} of {_name(system)}, {_risk(system)}, {_market(system)}{_no_relief(system)}: "
        "must meet the high-risk requirements within the product's third-party conformity "
        "assessment by the Annex I date, as moved by Regulation (EU) 2026/1744 (a product "
        "manufacturer selling it under its own name is its provider, Art. 25(3)).",
    )


def _hr_i_deployer(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, "deployer")
    if system.risk_class != "high_risk_annex_i" or _is_legacy(system) or not who:
        return None
    return Finding(
        ("ai-act-high-risk-annex-i-apply",),
        f"{who} of {_name(system)}, {_risk(system)}: must use it as instructed, assign human "
        "oversight, monitor it and keep its logs (Art. 26).",
    )


def _hr_importer(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, "importer")
    if not _is_high_risk(system) or _is_legacy(system) or not who:
        return None
    return Finding(
        (_apply_key(system),),
        f"{who} of {_name(system)}, {_risk(system)}: before placing it on the market, must "
        "check its conformity assessment, documentation, CE marking and authorised "
        "representative, and add its own name and address (Art. 23).",
    )


def _hr_distributor(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, "distributor")
    if not _is_high_risk(system) or _is_legacy(system) or not who:
        return None
    return Finding(
        (_apply_key(system),),
        f"{who} of {_name(system)}, {_risk(system)}: before making it available, must check its "
        "CE marking, declaration of conformity and instructions, and that the provider and "
        "importer met their duties (Art. 24).",
    )


def _hr_authorised_representative(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, "authorised_representative")
    if not _is_high_risk(system) or _is_legacy(system) or not who:
        return None
    return Finding(
        (_apply_key(system),),
        f"{who} for {_name(system)}, {_risk(system)}: must carry out its mandate for the non-EU "
        "provider: check the declaration and documentation, keep them for the authorities, "
        "cooperate with them and see to registration (Art. 22).",
    )


def _hr_legacy(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, *ROLES)
    if not _is_high_risk(system) or not _is_legacy(system) or not who:
        return None
    public = ""
    if system.used_by_public_authority:
        public = (
            " It is intended for use by public authorities, so its providers and deployers must "
            "comply by 2 August 2030 in any case."
        )
    return Finding(
        ("ai-act-legacy-high-risk-cutoff",),
        f"{who} of {_name(system)}, {_risk(system)}, {_market(system)}, before the "
        f"{_day(HIGH_RISK_CUTOFF)} cut-off: the Regulation reaches it only if its design changes "
        "significantly from that date, and then it must comply in full. The catalogue keeps the "
        "original cut-off because Regulation (EU) 2026/1744 is not known to have moved it when "
        f"it moved the high-risk dates; check the amended Art. 111(2).{public}",
    )


def _hr_legacy_public_authority(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, "provider", "deployer", "product_manufacturer")
    if not (_is_high_risk(system) and _is_legacy(system) and system.used_by_public_authority):
        return None
    if not who:
        return None
    return Finding(
        ("ai-act-public-authority-high-risk-compliance",),
        f"{who} of {_name(system)}, {_risk(system)}, intended for use by public authorities and "
        f"{_market(system)}, before the {_day(HIGH_RISK_CUTOFF)} cut-off: must take the steps to "
        "comply with the Regulation by 2 August 2030 even without a significant change.",
    )


def _incident_reporters(company: CompanyFacts, system: SystemFacts) -> str:
    roles = ("provider", "deployer")
    if system.risk_class == "high_risk_annex_i":
        roles += ("product_manufacturer",)
    return _as(company, *roles)


def _hr_incidents(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _incident_reporters(company, system)
    if not _will_comply(system) or not who:
        return None
    deployer = ""
    if "deployer" in company.roles:
        deployer = "; a deployer reports itself only when it cannot reach the provider (Art. 26(5))"
    return Finding(
        (
            "ai-act-serious-incident-report-15-days",
            "ai-act-serious-incident-death-10-days",
            "ai-act-widespread-infringement-2-days",
        ),
        f"{who} of {_name(system)}, {_risk(system)}: serious incidents go to the market "
        "surveillance authority within 15 days of awareness, 10 days after a death and 2 days "
        f"for a widespread infringement{deployer}. These apply {_when_reached(system)}.",
    )


def _hr_incidents_critical_infrastructure(
    company: CompanyFacts, system: SystemFacts
) -> Finding | None:
    who = _incident_reporters(company, system)
    if not _will_comply(system) or system.annex_iii_area != "critical_infrastructure" or not who:
        return None
    return Finding(
        ("ai-act-serious-incident-critical-infrastructure-2-days",),
        f"{who} of {_name(system)}, {_risk(system)}: a serious and irreversible disruption of "
        f"critical infrastructure must be reported within 2 days. This applies "
        f"{_when_reached(system)}.",
    )


def _hr_post_remote_biometric_identification(
    company: CompanyFacts, system: SystemFacts
) -> Finding | None:
    who = _as(company, "deployer")
    if not _will_comply(system) or not who:
        return None
    # Conservative: Art. 26(10) needs a post-remote biometric identification system used in a
    # criminal investigation. The facts cannot say that; biometrics used by a public authority
    # is the narrowest profile in which it can be true.
    if system.annex_iii_area != "biometrics" or not system.used_by_public_authority:
        return None
    return Finding(
        ("ai-act-post-rbi-authorisation-48-hours", "ai-act-post-rbi-annual-report"),
        f"{who} of {_name(system)}, {_risk(system)}, used by a public authority: if it is a "
        "post-remote biometric identification system used in a targeted criminal "
        "investigation, each use needs an authorisation requested within 48 hours and the use "
        "is reported every year; mark these not applicable if it is not. They apply "
        f"{_when_reached(system)}.",
    )


# ---------------------------------------------------------------------------------------------
# Transparency (Art. 50)
# ---------------------------------------------------------------------------------------------


def _has_art50_duties(system: SystemFacts) -> bool:
    # A banned practice cannot be made lawful by labelling it, so it gets no Art. 50 item.
    return system.risk_class != "prohibited" and (
        system.risk_class == "transparency" or system.generative
    )


def _transparency_provider(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, *PROVIDER_LIKE)
    if not _has_art50_duties(system) or not who:
        return None
    marking = ""
    if system.generative:
        marking = (
            " and mark its synthetic audio, image, video or text output as AI-generated in a "
            "machine-readable way (Art. 50(2))"
        )
    return Finding(
        ("ai-act-transparency-obligations-apply",),
        f"{who} of {_name(system)}, {_risk(system)}: must tell people when they interact with "
        f"an AI system (Art. 50(1)){marking}.",
    )


def _transparency_deployer(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, "deployer")
    if not _has_art50_duties(system) or not who:
        return None
    return Finding(
        ("ai-act-transparency-obligations-apply",),
        f"{who} of {_name(system)}, {_risk(system)}: must disclose emotion recognition and "
        "biometric categorisation to the people exposed (Art. 50(3)), and deep fakes and "
        "AI-generated text published to inform the public (Art. 50(4)), where its use does "
        "those things.",
    )


def _transparency_grace(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, *PROVIDER_LIKE)
    placed = system.placed_on_market
    if not _has_art50_duties(system) or not system.generative or not who:
        return None
    if placed is None or placed >= ART50_2_CUTOFF:
        return None
    return Finding(
        ("ai-act-omnibus-art50-2-grace-period-ends",),
        f"{who} of {_name(system)}, {_risk(system)}, {_market(system)}, before "
        f"{_day(ART50_2_CUTOFF)}: the machine-readable marking of Art. 50(2) is due by the end "
        "of the grace period of the new Art. 111(4); the other Art. 50 duties are not deferred.",
    )


# ---------------------------------------------------------------------------------------------
# General-purpose AI models (Chapter V)
# ---------------------------------------------------------------------------------------------


def _gpai_provider(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, "provider")
    if not system.is_gpai_model or _gpai_key(system) != "ai-act-gpai-obligations-apply":
        return None
    if not who:
        return None
    return Finding(
        ("ai-act-gpai-obligations-apply",),
        f"{who} of {_name(system)}, {_risk(system)}, {_market(system)}: must keep technical "
        "documentation, inform downstream providers, have a copyright policy and publish a "
        "training-content summary (Art. 53).",
    )


def _gpai_legacy(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, "provider")
    if not system.is_gpai_model or _gpai_key(system) != "ai-act-legacy-gpai-compliance":
        return None
    if not who:
        return None
    return Finding(
        ("ai-act-legacy-gpai-compliance",),
        f"{who} of {_name(system)}, {_risk(system)}, {_market(system)}, before "
        f"{_day(GPAI_CUTOFF)}: must take the steps to comply with the Chapter V obligations by "
        "2 August 2027.",
    )


def _gpai_fines(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, "provider")
    if not system.is_gpai_model or not who:
        return None
    return Finding(
        ("ai-act-gpai-fines-apply",),
        f"{who} of {_name(system)}, {_risk(system)}: the Commission can fine providers of "
        "general-purpose AI models directly.",
    )


def _gpai_systemic_obligations(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, "provider")
    if not system.gpai_systemic_risk or not who:
        return None
    return Finding(
        (_gpai_key(system),),
        f"{who} of {_name(system)}, {_risk(system)}: must also evaluate the model, assess and "
        "mitigate systemic risks, report serious incidents to the AI Office and ensure "
        f"cybersecurity (Art. 55){_gpai_deadline(system)}.",
    )


def _gpai_systemic_notification(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, "provider")
    if not system.gpai_systemic_risk or not who:
        return None
    return Finding(
        ("ai-act-gpai-systemic-risk-notification",),
        f"{who} of {_name(system)}, {_risk(system)}: must notify the Commission within two "
        "weeks of the model meeting the high-impact threshold (presumed above 10^25 training "
        "FLOPs), or of knowing it will.",
    )


def _gpai_authorised_representative(company: CompanyFacts, system: SystemFacts) -> Finding | None:
    who = _as(company, "authorised_representative")
    if not system.is_gpai_model or not who:
        return None
    return Finding(
        (_gpai_key(system),),
        f"{who} for {_name(system)}, {_risk(system)}: must carry out its mandate for the non-EU "
        "provider: check and keep the technical documentation for the AI Office and cooperate "
        f"with it (Art. 54){_gpai_deadline(system)}.",
    )


# ---------------------------------------------------------------------------------------------
# The rules, in the order an officer reads them
# ---------------------------------------------------------------------------------------------

_III, _I = "ai-act-high-risk-annex-iii-apply", "ai-act-high-risk-annex-i-apply"
_GPAI, _GPAI_LEGACY = "ai-act-gpai-obligations-apply", "ai-act-legacy-gpai-compliance"

RULES: tuple[Rule, ...] = (
    Rule(
        "R-GEN-TIMELINE",
        "Art. 113, second paragraph",
        # Entry into force (1 August 2024) is on the public timeline; it asks nothing of a
        # company, so it is not a tracked item.
        "Any operator: the general date of application, as context.",
        ("ai-act-general-application",),
        on_company=_timeline,
    ),
    Rule(
        "R-GEN-LITERACY",
        "Art. 4; Art. 113, third paragraph, point (a)",
        "Providers (and product manufacturers) and deployers: AI literacy duty.",
        ("ai-act-ai-literacy-applies",),
        on_company=_literacy,
    ),
    Rule(
        "R-GEN-PROHIBITIONS",
        "Art. 5; Art. 113, third paragraph, point (a)",
        "Anyone placing on the market, putting into service or using AI systems: Art. 5 bans.",
        ("ai-act-prohibitions-apply",),
        on_company=_prohibitions,
    ),
    Rule(
        "R-GEN-NEW-PROHIBITIONS",
        "Art. 5 as amended by Regulation (EU) 2026/1744",
        "The same operators: the practices the Digital Omnibus added to Art. 5.",
        ("ai-act-omnibus-new-prohibitions-apply",),
        on_company=_new_prohibitions,
    ),
    Rule(
        "R-GEN-PENALTIES",
        "Art. 99; Art. 113, third paragraph, point (b)",
        "Any operator: national fines for infringements.",
        ("ai-act-penalties-apply",),
        on_company=_penalties,
    ),
    Rule(
        "R-GEN-CORRECTIVE-ACTION",
        "Art. 79(2), second subparagraph",
        "Any operator: corrective action within 15 working days when an authority requires it.",
        ("ai-act-corrective-action-15-working-days",),
        on_company=_corrective_action,
    ),
    Rule(
        "R-PROHIBITED",
        "Art. 5(1); Art. 113, third paragraph, point (a)",
        "A system recorded as a prohibited practice: banned, with no transition.",
        ("ai-act-prohibitions-apply",),
        on_system=_prohibited_system,
    ),
    Rule(
        "R-HR-III-PROVIDER",
        "Art. 6(2), Art. 16; Art. 113 as amended by Regulation (EU) 2026/1744",
        "Provider of an Annex III high-risk system not covered by the Art. 111(2) transition.",
        (_III,),
        on_system=_hr_iii_provider,
    ),
    Rule(
        "R-HR-III-DEPLOYER",
        "Art. 26, Art. 27; Art. 113 as amended by Regulation (EU) 2026/1744",
        "Deployer of an Annex III high-risk system not covered by the transition.",
        (_III,),
        on_system=_hr_iii_deployer,
    ),
    Rule(
        "R-HR-I-PROVIDER",
        "Art. 6(1), Art. 16, Art. 25(3); Art. 113, third paragraph, point (c), as amended by "
        "Regulation (EU) 2026/1744",
        "Provider or product manufacturer of an Annex I high-risk system not covered by the "
        "transition.",
        (_I,),
        on_system=_hr_i_provider,
    ),
    Rule(
        "R-HR-I-DEPLOYER",
        "Art. 26; Art. 113, third paragraph, point (c), as amended by Regulation (EU) 2026/1744",
        "Deployer of an Annex I high-risk system not covered by the transition.",
        (_I,),
        on_system=_hr_i_deployer,
    ),
    Rule(
        "R-HR-IMPORTER",
        "Art. 23; Art. 113 as amended by Regulation (EU) 2026/1744",
        "Importer of a high-risk system not covered by the transition.",
        (_III, _I),
        on_system=_hr_importer,
    ),
    Rule(
        "R-HR-DISTRIBUTOR",
        "Art. 24; Art. 113 as amended by Regulation (EU) 2026/1744",
        "Distributor of a high-risk system not covered by the transition.",
        (_III, _I),
        on_system=_hr_distributor,
    ),
    Rule(
        "R-HR-AUTHORISED-REP",
        "Art. 22; Art. 113 as amended by Regulation (EU) 2026/1744",
        "Authorised representative for a high-risk system not covered by the transition.",
        (_III, _I),
        on_system=_hr_authorised_representative,
    ),
    Rule(
        "R-HR-LEGACY",
        "Art. 111(2), first sentence",
        "Any operator of a high-risk system placed on the market before the cut-off: caught "
        "only after a significant change in design.",
        ("ai-act-legacy-high-risk-cutoff",),
        on_system=_hr_legacy,
    ),
    Rule(
        "R-HR-LEGACY-PUBLIC-AUTHORITY",
        "Art. 111(2), second sentence",
        "Provider or deployer of such a system intended for public authorities: comply by 2030.",
        ("ai-act-public-authority-high-risk-compliance",),
        on_system=_hr_legacy_public_authority,
    ),
    Rule(
        "R-HR-INCIDENTS",
        "Art. 73(1) to (4) (OJ numbering); Art. 26(5)",
        "Provider or deployer of a high-risk system the Regulation reaches: incident deadlines.",
        (
            "ai-act-serious-incident-report-15-days",
            "ai-act-serious-incident-death-10-days",
            "ai-act-widespread-infringement-2-days",
        ),
        on_system=_hr_incidents,
    ),
    Rule(
        "R-HR-INCIDENTS-CRITICAL-INFRA",
        "Art. 73(3); Art. 3(49)(b); Annex III, point 2",
        "The same, for an Annex III critical-infrastructure system: the 2-day deadline.",
        ("ai-act-serious-incident-critical-infrastructure-2-days",),
        on_system=_hr_incidents_critical_infrastructure,
    ),
    Rule(
        "R-HR-POST-RBI",
        "Art. 26(10); Annex III, point 1",
        "Deployer of an Annex III biometric system used by a public authority: post-remote "
        "biometric identification authorisation and yearly report.",
        ("ai-act-post-rbi-authorisation-48-hours", "ai-act-post-rbi-annual-report"),
        on_system=_hr_post_remote_biometric_identification,
    ),
    Rule(
        "R-TRANSPARENCY-PROVIDER",
        "Art. 50(1) and (2); Art. 113, second paragraph",
        "Provider of a system with transparency duties or a generative system.",
        ("ai-act-transparency-obligations-apply",),
        on_system=_transparency_provider,
    ),
    Rule(
        "R-TRANSPARENCY-DEPLOYER",
        "Art. 50(3) and (4); Art. 113, second paragraph",
        "Deployer of a system with transparency duties or a generative system.",
        ("ai-act-transparency-obligations-apply",),
        on_system=_transparency_deployer,
    ),
    Rule(
        "R-TRANSPARENCY-GRACE",
        "Art. 50(2); Art. 111(4) as inserted by Regulation (EU) 2026/1744",
        "Provider of a generative system placed on the market before 2 August 2026: marking "
        "grace period.",
        ("ai-act-omnibus-art50-2-grace-period-ends",),
        on_system=_transparency_grace,
    ),
    Rule(
        "R-GPAI-PROVIDER",
        "Art. 53; Art. 113, third paragraph, point (b)",
        "Provider of a GPAI model placed on the market on or after 2 August 2025 (or not yet).",
        (_GPAI,),
        on_system=_gpai_provider,
    ),
    Rule(
        "R-GPAI-LEGACY",
        "Art. 111(3)",
        "Provider of a GPAI model placed on the market before 2 August 2025: comply by 2027.",
        (_GPAI_LEGACY,),
        on_system=_gpai_legacy,
    ),
    Rule(
        "R-GPAI-FINES",
        "Art. 101; Art. 113, third paragraph, point (b)",
        "Provider of any GPAI model: Commission fines.",
        ("ai-act-gpai-fines-apply",),
        on_system=_gpai_fines,
    ),
    Rule(
        "R-GPAI-SYSTEMIC-OBLIGATIONS",
        "Art. 55; Art. 111(3)",
        "Provider of a GPAI model with systemic risk: the extra Art. 55 duties.",
        (_GPAI, _GPAI_LEGACY),
        on_system=_gpai_systemic_obligations,
    ),
    Rule(
        "R-GPAI-SYSTEMIC-NOTIFICATION",
        "Art. 52(1); Art. 51",
        "Provider of a GPAI model with systemic risk: notify the Commission within two weeks.",
        ("ai-act-gpai-systemic-risk-notification",),
        on_system=_gpai_systemic_notification,
    ),
    Rule(
        "R-GPAI-AUTHORISED-REP",
        "Art. 54; Art. 111(3)",
        "Authorised representative for a GPAI model of a non-EU provider.",
        (_GPAI, _GPAI_LEGACY),
        on_system=_gpai_authorised_representative,
    ),
)


def applicable_milestones(company: CompanyFacts) -> list[Applicability]:
    """Every milestone that applies, each with all the reasons, sorted by milestone key."""
    reasons: dict[str, list[Reason]] = {}
    for rule in RULES:
        for key, reason in rule.apply(company):
            reasons.setdefault(key, []).append(reason)
    return [Applicability(key, tuple(reasons[key])) for key in sorted(reasons)]
