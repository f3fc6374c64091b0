"""Which EU AI Act milestones apply to a company, and why.

Pure Python, no Django: plain dataclasses in (`CompanyFacts`, `SystemFacts`), plain dataclasses
out (`Applicability`, `Reason`). `RULES` is the whole legal reasoning, one small rule per legal
test, read top to bottom; each cites the article it rests on and yields milestone keys of the
EU AI Act pack (fixtures/eu-ai-act.yaml).

The law is data. The rules hold no legal date: every date a rule turns on (the Art. 111
cut-offs) or names in a reason comes from `dates`, the catalogue's dates by milestone key at
the time of asking, so an editor's amendment changes the answer with no code change.
`tests/test_applicability.py` fails if a date appears in this module.

Facts are per AI system, as the Regulation's roles are (Art. 3(3)-(7)): a company may provide
one system and deploy another. A system with no role recorded is deployed by the company:
anyone using an AI system under its authority in a professional capacity is its deployer
(Art. 3(4)). Art. 25 re-qualification makes a deployer, importer or distributor the provider of
a high-risk system.

Deliberately left out: duties of Member States, the Commission, the AI Office, the AI Board and
notified bodies; Annex X large-scale IT systems (Art. 111(1)); and event-driven options a company
rarely meets (notified-body suspension, real-world testing, sandboxes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

ROLES = (
    "provider",
    "deployer",
    "importer",
    "distributor",
    "authorised_representative",
    "product_manufacturer",
)
RISKS = (
    "prohibited",
    "high_risk_annex_iii",
    "high_risk_annex_i",
    "annex_iii_not_high_risk",
    "other",
)
# Annex III: area number and point letter, as written in the Annex ("4a": point 4(a)).
ANNEX_III_POINTS = (
    "1a", "1b", "1c", "2a", "3a", "3b", "3c", "3d", "4a", "4b", "5a", "5b", "5c", "5d",
    "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c", "7d", "8a", "8b",
)  # fmt: skip
ANNEX_III_AREAS = {
    "1": "biometrics",
    "2": "critical infrastructure",
    "3": "education and vocational training",
    "4": "employment and workers management",
    "5": "essential private and public services",
    "6": "law enforcement",
    "7": "migration, asylum and border control",
    "8": "administration of justice and democratic processes",
}
ANNEX_I_SECTIONS = ("A", "B")
ART50 = (
    "interacts",
    "emotion_recognition",
    "biometric_categorisation",
    "synthetic_content",
    "deep_fake",
    "public_interest_text",
)
ART25 = ("own_name", "substantial_modification", "changed_purpose")

# The catalogue milestones whose dates the rules turn on. Their dates are read, never copied.
PROHIBITIONS = "ai-act-prohibitions-apply"
GENERAL_APPLICATION = "ai-act-general-application"  # also the Art. 111(4) cut-off for 50(2)
ANNEX_III_APPLY = "ai-act-high-risk-annex-iii-apply"
ANNEX_I_APPLY = "ai-act-high-risk-annex-i-apply"
LEGACY_ANNEX_III = "ai-act-legacy-high-risk-cutoff"  # Art. 111(2) as replaced
LEGACY_ANNEX_I = "ai-act-legacy-high-risk-cutoff-annex-i"
PUBLIC_AUTHORITY_BACKSTOP = "ai-act-public-authority-high-risk-compliance"
GPAI_APPLY = "ai-act-gpai-obligations-apply"  # also the Art. 111(3) cut-off
LEGACY_GPAI = "ai-act-legacy-gpai-compliance"
ART50_2_GRACE = "ai-act-omnibus-art50-2-grace-period-ends"
CUTOFFS = (
    PROHIBITIONS,
    GENERAL_APPLICATION,
    LEGACY_ANNEX_III,
    LEGACY_ANNEX_I,
    PUBLIC_AUTHORITY_BACKSTOP,
    GPAI_APPLY,
    LEGACY_GPAI,
    ART50_2_GRACE,
)

Dates = Mapping[str, "date | None"]


class CatalogueIncomplete(Exception):
    """The catalogue lacks a milestone whose date a rule needs."""

    def __init__(self, keys: list[str]):
        self.keys = keys
        super().__init__(f"the catalogue has no date for: {', '.join(keys)}")


@dataclass(frozen=True)
class SystemFacts:
    """One AI system or model, and the company's roles for it."""

    key: str
    name: str
    roles: frozenset[str] = frozenset()
    risk: str = "other"
    annex_iii_point: str = ""
    annex_i_section: str = ""
    art50: frozenset[str] = frozenset()
    gpai_model: bool = False
    systemic_risk: bool = False
    open_source: bool = False
    placed_on_market: date | None = None
    intended_for_public_authorities: bool = False
    art25: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        problems = [
            *(f"unknown role {r!r}" for r in sorted(set(self.roles) - set(ROLES))),
            *(f"unknown Art. 50 feature {f!r}" for f in sorted(set(self.art50) - set(ART50))),
            *(f"unknown Art. 25 trigger {t!r}" for t in sorted(set(self.art25) - set(ART25))),
        ]
        if self.risk not in RISKS:
            problems.append(f"unknown risk {self.risk!r}")
        if self.annex_iii_point and self.annex_iii_point not in ANNEX_III_POINTS:
            problems.append(f"unknown Annex III point {self.annex_iii_point!r}")
        if self.annex_i_section and self.annex_i_section not in ANNEX_I_SECTIONS:
            problems.append(f"unknown Annex I section {self.annex_i_section!r}")
        if self.systemic_risk and not self.gpai_model:
            problems.append("systemic risk is a property of a general-purpose AI model")
        if problems:
            raise ValueError(f"{self.name}: " + "; ".join(problems))

    @property
    def acting_roles(self) -> frozenset[str]:
        """The roles recorded, or deployer when none is (Art. 3(4))."""
        return self.roles or frozenset({"deployer"})


@dataclass(frozen=True)
class CompanyFacts:
    """Who the company is under the AI Act, and its inventory."""

    established_in_eu: bool = True
    public_body: bool = False
    provides_public_services: bool = False
    systems: tuple[SystemFacts, ...] = ()

    def __post_init__(self) -> None:
        keys = [s.key for s in self.systems]
        if len(keys) != len(set(keys)):
            raise ValueError("system keys must be unique")

    @property
    def roles(self) -> frozenset[str]:
        """Every role the company holds, re-qualification included (Art. 25(1))."""
        requalified = {"provider"} if any(_requalified(s) for s in self.systems) else set()
        return frozenset().union(requalified, *(s.acting_roles for s in self.systems))


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
class Context:
    """What a rule may look at: the company, and the catalogue's dates by key."""

    company: CompanyFacts
    dates: Dates = field(default_factory=dict)

    def day(self, key: str) -> str:
        """A catalogue date in words ('2 December' and the year), read when asked."""
        when = self.dates[key]
        return f"{when.day} {_MONTHS[when.month - 1]} {when.year}"


@dataclass(frozen=True)
class Rule:
    """One legal test. Exactly one of `on_company` and `on_system` says how it matches."""

    id: str
    article: str
    description: str
    yields: tuple[str, ...]  # every milestone key the rule can produce
    on_company: Callable[[Context], Finding | None] | None = None
    on_system: Callable[[Context, SystemFacts], Finding | None] | None = None

    def __post_init__(self) -> None:
        if (self.on_company is None) == (self.on_system is None):
            raise ValueError(f"{self.id}: give exactly one of on_company and on_system")

    def apply(self, context: Context) -> list[tuple[str, Reason]]:
        """(milestone key, reason) for each match of this rule in the company's facts."""
        if self.on_company is not None:
            found = [("", self.on_company(context))]
        else:
            assert self.on_system is not None  # refused by __post_init__
            found = [(s.key, self.on_system(context, s)) for s in context.company.systems]
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
# Reading the facts
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
PLACING_OR_USING = ("provider", "deployer", "importer", "distributor", "product_manufacturer")
DOWNSTREAM = ("deployer", "importer", "distributor")  # may become the provider (Art. 25(1))


def _words(roles) -> str:
    held = [_ROLE_WORDS[r] for r in ROLES if r in roles]
    if not held:
        return ""
    text = held[0] if len(held) == 1 else ", ".join(held[:-1]) + " and " + held[-1]
    return text[0].upper() + text[1:]


def _company_as(context: Context, *roles: str) -> str:
    """'Provider and deployer': the company's roles among `roles`, over all its systems."""
    return _words(set(roles) & context.company.roles)


def _name(system: SystemFacts) -> str:
    return f"“{system.name}”"


def _is_high_risk(system: SystemFacts) -> bool:
    """High-risk with the Chapter III duties: Annex III, or Annex I Section A (Art. 2(2))."""
    return system.risk == "high_risk_annex_iii" or (
        system.risk == "high_risk_annex_i" and system.annex_i_section != "B"
    )


def _annex_i(system: SystemFacts) -> bool:
    return system.risk == "high_risk_annex_i"


def _risk(system: SystemFacts) -> str:
    if system.risk in ("high_risk_annex_iii", "annex_iii_not_high_risk"):
        point = system.annex_iii_point
        where = f"point {point[0]}({point[1]})" if point else "an area"
        area = ANNEX_III_AREAS.get(point[:1], "")
        if system.risk == "annex_iii_not_high_risk":
            return f"in Annex III {where} ({area}) but assessed as not high-risk under Art. 6(3)"
        return f"high-risk under Annex III {where}" + (f" ({area})" if area else "")
    if system.risk == "high_risk_annex_i":
        section = f" Section {system.annex_i_section}" if system.annex_i_section else ""
        return f"high-risk under Art. 6(1), a safety component of an Annex I{section} product"
    if system.gpai_model:
        systemic = " with systemic risk" if system.systemic_risk else ""
        licence = " released under a free and open-source licence" if system.open_source else ""
        return f"a general-purpose AI model{systemic}{licence}"
    return "an AI system"


def _market(system: SystemFacts) -> str:
    if system.placed_on_market is None:
        return "not yet on the market"
    d = system.placed_on_market
    return f"placed on the market on {d.day} {_MONTHS[d.month - 1]} {d.year}"


def _apply_key(system: SystemFacts) -> str:
    return ANNEX_I_APPLY if _annex_i(system) else ANNEX_III_APPLY


def _legacy_key(system: SystemFacts) -> str:
    return LEGACY_ANNEX_I if _annex_i(system) else LEGACY_ANNEX_III


def _significant_change(system: SystemFacts) -> bool:
    """A substantial modification or a new intended purpose is a significant change in design
    (Art. 111(2), Art. 25(1)(b)-(c)): the transition no longer shelters the system."""
    return bool({"substantial_modification", "changed_purpose"} & system.art25)


def _is_legacy(context: Context, system: SystemFacts) -> bool:
    """On the market before the Chapter III date of its class, unchanged since (Art. 111(2))."""
    placed = system.placed_on_market
    return (
        placed is not None
        and placed < context.dates[_legacy_key(system)]
        and not _significant_change(system)
    )


def _requalified(system: SystemFacts) -> bool:
    """Art. 25(1): a downstream operator becomes the provider of a high-risk system."""
    return (
        _is_high_risk(system)
        and "provider" not in system.acting_roles
        and bool(set(DOWNSTREAM) & system.acting_roles)
        and bool(system.art25)
    )


def _provider_roles(system: SystemFacts) -> set[str]:
    """The roles that make the company the system's provider: its own, a product manufacturer
    placing it under its own name (Art. 25(3)), or re-qualification (Art. 25(1))."""
    roles = {"provider"} & system.acting_roles
    if _annex_i(system) and "product_manufacturer" in system.acting_roles:
        roles.add("product_manufacturer")
    if _requalified(system):
        roles.add("provider")
    return roles


def _as(system: SystemFacts, *roles: str) -> str:
    return _words(set(roles) & system.acting_roles)


def _as_provider(system: SystemFacts) -> str:
    if _requalified(system):
        downstream = _words(set(DOWNSTREAM) & system.acting_roles).lower()
        return f"Provider (re-qualified from {downstream}, Art. 25(1))"
    return _words(_provider_roles(system))


def _role_note(system: SystemFacts) -> str:
    return "" if system.roles else " (no role recorded: using it makes the company its deployer)"


def _will_comply(context: Context, system: SystemFacts) -> bool:
    """A high-risk system the Regulation reaches: not sheltered, or bound by the backstop."""
    return _is_high_risk(system) and (
        not _is_legacy(context, system) or system.intended_for_public_authorities
    )


def _when_reached(context: Context, system: SystemFacts) -> str:
    if _is_legacy(context, system):
        return f"from {context.day(PUBLIC_AUTHORITY_BACKSTOP)} at the latest (Art. 111(2))"
    return f"from {context.day(_apply_key(system))}"


def _is_ai_system(system: SystemFacts) -> bool:
    """Art. 50 binds providers and deployers of AI systems, not of models; and a banned
    practice cannot be made lawful by labelling it."""
    return not system.gpai_model and system.risk != "prohibited"


# ---------------------------------------------------------------------------------------------
# General duties: every operator, whatever its systems
# ---------------------------------------------------------------------------------------------


def _timeline(context: Context) -> Finding | None:
    who = _company_as(context, *ROLES)
    if not who:
        return None
    return Finding(
        (GENERAL_APPLICATION,),
        f"{who} of AI systems: the Regulation applies in general from "
        f"{context.day(GENERAL_APPLICATION)}; most obligations not listed separately apply "
        "from then.",
    )


def _literacy(context: Context) -> Finding | None:
    who = _company_as(context, "provider", "deployer", "product_manufacturer")
    if not who:
        return None
    return Finding(
        ("ai-act-ai-literacy-applies",),
        f"{who} of AI systems: must take measures to support the AI literacy of its staff and "
        "others operating AI systems on its behalf (Art. 4 as replaced by Regulation (EU) "
        "2026/1744).",
    )


def _prohibitions(context: Context) -> Finding | None:
    who = _company_as(context, *PLACING_OR_USING)
    if not who:
        return None
    return Finding(
        (PROHIBITIONS,),
        f"{who} of AI systems: may not place on the market, put into service or use AI systems "
        f"for the practices banned by Art. 5, banned since {context.day(PROHIBITIONS)}.",
    )


def _new_prohibitions(context: Context) -> Finding | None:
    who = _company_as(context, *PLACING_OR_USING)
    if not who:
        return None
    return Finding(
        ("ai-act-omnibus-new-prohibitions-apply",),
        f"{who} of AI systems: the practices added to Art. 5(1), points (ba) and (bb), by "
        "Regulation (EU) 2026/1744 (non-consensual intimate imagery, child sexual abuse "
        "material) are banned for every operator that places on the market, puts into service "
        "or uses such a system.",
    )


def _penalties(context: Context) -> Finding | None:
    who = _company_as(context, *ROLES)
    if not who:
        return None
    return Finding(
        ("ai-act-penalties-apply",),
        f"{who} of AI systems: operators can be fined under the national penalty rules for "
        "breaching the Regulation.",
    )


def _corrective_action(context: Context) -> Finding | None:
    who = _company_as(context, *ROLES)
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


def _prohibited_system(context: Context, system: SystemFacts) -> Finding | None:
    if system.risk != "prohibited":
        return None
    return Finding(
        (PROHIBITIONS,),
        f"{_as(system, *ROLES)} of {_name(system)}{_role_note(system)}, recorded as a "
        f"prohibited practice: banned since {context.day(PROHIBITIONS)} whenever it was placed "
        "on the market (Art. 111 gives Art. 5 no transition); it must not be placed on the "
        "market, put into service or used.",
    )


# ---------------------------------------------------------------------------------------------
# High-risk systems (Chapter III) and the Art. 111(2) transition
# ---------------------------------------------------------------------------------------------


def _section_b(context: Context, system: SystemFacts) -> Finding | None:
    if system.risk != "high_risk_annex_i" or system.annex_i_section != "B":
        return None
    return Finding(
        (GENERAL_APPLICATION,),
        f"{_as(system, *ROLES)} of {_name(system)}, {_risk(system)}: for Section B products "
        "only Art. 6(1), Art. 60a and Arts. 102-112 apply (Art. 2(2) as replaced by Regulation "
        "(EU) 2026/1744); its AI requirements come through the product's own sector act.",
    )


def _hr_provider(context: Context, system: SystemFacts) -> Finding | None:
    who = _as_provider(system)
    if not _is_high_risk(system) or _is_legacy(context, system) or not who:
        return None
    return Finding(
        (_apply_key(system),),
        f"{who} of {_name(system)}, {_risk(system)}, {_market(system)}: needs risk management, "
        "data governance, technical documentation, logging, transparency to deployers, human "
        "oversight, accuracy and robustness, a quality management system, conformity "
        "assessment, CE marking and registration (Arts. 9-17, 43, 47-49) from "
        f"{context.day(_apply_key(system))}.",
    )


def _hr_requalified(context: Context, system: SystemFacts) -> Finding | None:
    if not _requalified(system) or _is_legacy(context, system):
        return None
    triggers = {
        "own_name": "puts its name or trademark on it",
        "substantial_modification": "substantially modifies it",
        "changed_purpose": "changes its intended purpose so that it is high-risk",
    }
    done = " and ".join(triggers[t] for t in ART25 if t in system.art25)
    key = (
        "ai-act-requalified-provider-annex-i" if _annex_i(system) else "ai-act-requalified-provider"
    )
    return Finding(
        (key,),
        f"{_as(system, *DOWNSTREAM)} of {_name(system)}, {_risk(system)}, that {done}: becomes "
        "its provider and takes on the provider's obligations (Art. 25(1)); the initial "
        "provider no longer counts as its provider for them (Art. 25(2)).",
    )


def _hr_deployer(context: Context, system: SystemFacts) -> Finding | None:
    if not _is_high_risk(system) or _is_legacy(context, system):
        return None
    if "deployer" not in system.acting_roles:
        return None
    return Finding(
        (_apply_key(system),),
        f"Deployer of {_name(system)}{_role_note(system)}, {_risk(system)}: must use it as "
        "instructed, assign human oversight, monitor it, keep its logs at least six months, "
        "inform workers' representatives before using it at work and the people it decides "
        f"about (Art. 26) from {context.day(_apply_key(system))}.",
    )


def _fria_needed(context: Context, system: SystemFacts) -> str:
    """Why Art. 27(1) asks this deployer for a fundamental rights impact assessment, or ''."""
    if system.risk != "high_risk_annex_iii" or system.annex_iii_point.startswith("2"):
        return ""  # only Annex III systems; point 2 (critical infrastructure) is excluded
    if system.annex_iii_point in ("5b", "5c"):
        point = system.annex_iii_point
        return f"it is used under Annex III point {point[0]}({point[1]})"
    company = context.company
    if company.public_body:
        return "the company is a body governed by public law"
    if company.provides_public_services:
        return "the company is a private entity providing public services"
    return ""


def _fria(context: Context, system: SystemFacts) -> Finding | None:
    # A legacy system is reached by the backstop (its own milestone), not by the class date.
    if "deployer" not in system.acting_roles or not _is_high_risk(system):
        return None
    if _is_legacy(context, system):
        return None
    why = _fria_needed(context, system)
    if not why:
        return None
    return Finding(
        ("ai-act-fria", "ai-act-fria-notification"),
        f"Deployer of {_name(system)}, {_risk(system)}: {why}, so it must assess the system's "
        "impact on fundamental rights before first use (Art. 27(1)) and notify the market "
        f"surveillance authority of the results (Art. 27(3)), from "
        f"{context.day(ANNEX_III_APPLY)}.",
    )


def _hr_importer(context: Context, system: SystemFacts) -> Finding | None:
    if not _is_high_risk(system) or _is_legacy(context, system) or _requalified(system):
        return None
    if "importer" not in system.acting_roles:
        return None
    return Finding(
        (_apply_key(system),),
        f"Importer of {_name(system)}, {_risk(system)}: before placing it on the market, must "
        "check its conformity assessment, documentation, CE marking and authorised "
        "representative, and add its own name and address (Art. 23).",
    )


def _hr_distributor(context: Context, system: SystemFacts) -> Finding | None:
    if not _is_high_risk(system) or _is_legacy(context, system) or _requalified(system):
        return None
    if "distributor" not in system.acting_roles:
        return None
    return Finding(
        (_apply_key(system),),
        f"Distributor of {_name(system)}, {_risk(system)}: before making it available, must "
        "check its CE marking, declaration of conformity and instructions, and that the "
        "provider and importer met their duties (Art. 24).",
    )


def _hr_authorised_representative(context: Context, system: SystemFacts) -> Finding | None:
    if not _is_high_risk(system) or _is_legacy(context, system):
        return None
    if "authorised_representative" not in system.acting_roles:
        return None
    return Finding(
        (_apply_key(system),),
        f"Authorised representative for {_name(system)}, {_risk(system)}: must carry out its "
        "mandate for the non-EU provider: check the declaration and documentation, keep them "
        "for the authorities, cooperate with them and see to registration (Art. 22(3)).",
    )


def _hr_appoint_representative(context: Context, system: SystemFacts) -> Finding | None:
    who = _as_provider(system)
    if context.company.established_in_eu or not who or not _is_high_risk(system):
        return None
    if _is_legacy(context, system):
        return None
    key = (
        "ai-act-authorised-representative-high-risk-annex-i"
        if _annex_i(system)
        else "ai-act-authorised-representative-high-risk"
    )
    return Finding(
        (key,),
        f"{who} of {_name(system)}, {_risk(system)}, established outside the Union: must "
        "appoint, by written mandate, an authorised representative established in the Union "
        f"before making it available there (Art. 22(1)), from {context.day(_apply_key(system))}.",
    )


def _hr_legacy(context: Context, system: SystemFacts) -> Finding | None:
    if not _is_high_risk(system) or not _is_legacy(context, system):
        return None
    cutoff = _legacy_key(system)
    public = ""
    if system.intended_for_public_authorities:
        public = (
            " It is intended to be used by public authorities, so its providers and deployers "
            f"must comply by {context.day(PUBLIC_AUTHORITY_BACKSTOP)} in any case."
        )
    return Finding(
        (cutoff,),
        f"{_as(system, *ROLES)} of {_name(system)}{_role_note(system)}, {_risk(system)}, "
        f"{_market(system)}, before {context.day(cutoff)}, the date Chapter III applies to its "
        "class: the Regulation reaches it only if its design changes significantly after that "
        "date, and then it must comply in full (Art. 111(2) as replaced by Regulation (EU) "
        f"2026/1744).{public}",
    )


def _hr_legacy_public_authority(context: Context, system: SystemFacts) -> Finding | None:
    if not (_is_high_risk(system) and _is_legacy(context, system)):
        return None
    who = _words(({"deployer"} & system.acting_roles) | _provider_roles(system))
    if not system.intended_for_public_authorities or not who:
        return None
    return Finding(
        (PUBLIC_AUTHORITY_BACKSTOP,),
        f"{who} of {_name(system)}, {_risk(system)}, intended to be used by public authorities "
        f"and {_market(system)}: must take the steps to comply with the Regulation by "
        f"{context.day(PUBLIC_AUTHORITY_BACKSTOP)} even without a significant change "
        "(Art. 111(2)).",
    )


def _hr_incidents(context: Context, system: SystemFacts) -> Finding | None:
    if not _will_comply(context, system):
        return None
    provider = _as_provider(system)
    deployer = "deployer" in system.acting_roles
    if not provider and not deployer:
        return None
    who = provider or "Deployer"
    duty = (
        "must report serious incidents to the market surveillance authority of the Member "
        "State where they occurred, immediately and at the latest within 15 days of awareness, "
        "10 days after a death and 2 days for a widespread infringement or a serious and "
        "irreversible disruption of critical infrastructure (Art. 73(2)-(4))"
    )
    if not provider:
        duty = (
            "must inform the provider immediately of a serious incident, then the importer or "
            "distributor and the market surveillance authority (Art. 26(5)); the reporting "
            "clocks of Art. 73 then run"
        )
    return Finding(
        (
            "ai-act-serious-incident-report-15-days",
            "ai-act-serious-incident-death-10-days",
            "ai-act-widespread-infringement-2-days",
            "ai-act-serious-incident-critical-infrastructure-2-days",
        ),
        f"{who} of {_name(system)}, {_risk(system)}: {duty}, {_when_reached(context, system)}.",
    )


def _hr_post_remote_biometric_identification(
    context: Context, system: SystemFacts
) -> Finding | None:
    if "deployer" not in system.acting_roles or not _will_comply(context, system):
        return None
    # Art. 26(10) needs a post-remote biometric identification system used in a criminal
    # investigation: remote biometric identification (Annex III point 1(a)) by a public body
    # is the narrowest profile the facts can tell.
    if system.annex_iii_point != "1a" or not context.company.public_body:
        return None
    return Finding(
        ("ai-act-post-rbi-authorisation-48-hours", "ai-act-post-rbi-annual-report"),
        f"Deployer of {_name(system)}, {_risk(system)}, a public body: if it is a post-remote "
        "biometric identification system used in a targeted criminal investigation, each use "
        "needs an authorisation requested within 48 hours and the use is reported every year "
        "(Art. 26(10)); mark these not applicable if it is not.",
    )


def _not_high_risk(context: Context, system: SystemFacts) -> Finding | None:
    who = _as_provider(system) or _as(system, "provider")
    if system.risk != "annex_iii_not_high_risk" or not who:
        return None
    return Finding(
        ("ai-act-not-high-risk-documentation", "ai-act-not-high-risk-registration"),
        f"{who} of {_name(system)}, {_risk(system)}: must document the assessment before "
        "placing it on the market or putting it into service and give it to the authorities "
        "on request (Art. 6(4)), and register the system in the EU database (Art. 49(2)).",
    )


# ---------------------------------------------------------------------------------------------
# Transparency (Art. 50): cumulative with Chapter III (Art. 50(6))
# ---------------------------------------------------------------------------------------------


def _art50_provider(feature: str, key: str, article: str, duty: str):
    def rule(context: Context, system: SystemFacts) -> Finding | None:
        who = _as_provider(system) or _as(system, "provider", "product_manufacturer")
        if feature not in system.art50 or not _is_ai_system(system) or not who:
            return None
        return Finding((key,), f"{who} of {_name(system)}, {_risk(system)}: {duty} ({article}).")

    return rule


def _art50_deployer(features: tuple[str, ...], key: str, article: str, duty: str):
    def rule(context: Context, system: SystemFacts) -> Finding | None:
        found = [f.replace("_", " ") for f in features if f in system.art50]
        if not found or not _is_ai_system(system) or "deployer" not in system.acting_roles:
            return None
        return Finding(
            (key,),
            f"Deployer of {_name(system)}{_role_note(system)}, which does "
            f"{' and '.join(found)}: {duty} ({article}).",
        )

    return rule


def _art50_grace(context: Context, system: SystemFacts) -> Finding | None:
    who = _as_provider(system) or _as(system, "provider", "product_manufacturer")
    placed = system.placed_on_market
    if "synthetic_content" not in system.art50 or not _is_ai_system(system) or not who:
        return None
    if placed is None or placed >= context.dates[GENERAL_APPLICATION]:
        return None
    return Finding(
        (ART50_2_GRACE,),
        f"{who} of {_name(system)}, {_market(system)}, before "
        f"{context.day(GENERAL_APPLICATION)}: the machine-readable marking of Art. 50(2) is due "
        f"by {context.day(ART50_2_GRACE)} (Art. 111(4) as inserted by Regulation (EU) "
        "2026/1744); the other Art. 50 duties are not deferred.",
    )


# ---------------------------------------------------------------------------------------------
# General-purpose AI models (Chapter V)
# ---------------------------------------------------------------------------------------------


def _gpai_key(context: Context, system: SystemFacts) -> str:
    placed = system.placed_on_market
    legacy = placed is not None and placed < context.dates[GPAI_APPLY]
    return LEGACY_GPAI if legacy else GPAI_APPLY


def _gpai_when(context: Context, system: SystemFacts) -> str:
    if _gpai_key(context, system) == LEGACY_GPAI:
        return (
            f"; {_market(system)}, before {context.day(GPAI_APPLY)}, so the steps to comply are "
            f"due by {context.day(LEGACY_GPAI)} (Art. 111(3))"
        )
    return f", from {context.day(GPAI_APPLY)}"


def _open_source_exempt(system: SystemFacts) -> bool:
    """Art. 53(2), Art. 54(6): open-source models without systemic risk."""
    return system.open_source and not system.systemic_risk


def _gpai_provider(context: Context, system: SystemFacts) -> Finding | None:
    if not system.gpai_model or "provider" not in system.acting_roles:
        return None
    duties = (
        "must keep technical documentation, inform downstream providers, have a copyright "
        "policy and publish a summary of the training content (Art. 53(1))"
    )
    if _open_source_exempt(system):
        duties = (
            "must have a copyright policy and publish a summary of the training content "
            "(Art. 53(1)(c)-(d)); as an open-source model without systemic risk it is exempt "
            "from the documentation duties of Art. 53(1)(a)-(b) (Art. 53(2))"
        )
    return Finding(
        (_gpai_key(context, system), "ai-act-gpai-fines-apply"),
        f"Provider of {_name(system)}, {_risk(system)}: {duties}{_gpai_when(context, system)}; "
        "the Commission can fine providers of general-purpose AI models directly (Art. 101).",
    )


def _gpai_systemic(context: Context, system: SystemFacts) -> Finding | None:
    if not system.systemic_risk or "provider" not in system.acting_roles:
        return None
    return Finding(
        (_gpai_key(context, system), "ai-act-gpai-systemic-risk-notification"),
        f"Provider of {_name(system)}, {_risk(system)}: must notify the Commission within two "
        "weeks of the model meeting the high-impact threshold (Art. 52(1)), evaluate the model, "
        "assess and mitigate systemic risks, report serious incidents to the AI Office and "
        f"ensure cybersecurity (Art. 55){_gpai_when(context, system)}.",
    )


def _gpai_appoint_representative(context: Context, system: SystemFacts) -> Finding | None:
    if not system.gpai_model or "provider" not in system.acting_roles:
        return None
    if context.company.established_in_eu or _open_source_exempt(system):
        return None
    return Finding(
        ("ai-act-gpai-authorised-representative",),
        f"Provider of {_name(system)}, {_risk(system)}, established outside the Union: must "
        "appoint an authorised representative established in the Union before placing the "
        f"model on the Union market (Art. 54(1)){_gpai_when(context, system)}.",
    )


def _gpai_authorised_representative(context: Context, system: SystemFacts) -> Finding | None:
    if not system.gpai_model or "authorised_representative" not in system.acting_roles:
        return None
    return Finding(
        (_gpai_key(context, system),),
        f"Authorised representative for {_name(system)}, {_risk(system)}: must carry out its "
        "mandate for the non-EU provider: check and keep the technical documentation for the "
        f"AI Office and cooperate with it (Art. 54(3)){_gpai_when(context, system)}.",
    )


# ---------------------------------------------------------------------------------------------
# The rules, in reading order
# ---------------------------------------------------------------------------------------------

HR_APPLY = (ANNEX_III_APPLY, ANNEX_I_APPLY)
INCIDENTS = (
    "ai-act-serious-incident-report-15-days",
    "ai-act-serious-incident-death-10-days",
    "ai-act-widespread-infringement-2-days",
    "ai-act-serious-incident-critical-infrastructure-2-days",
)

RULES: tuple[Rule, ...] = (
    Rule("general-application", "Art. 113", "Any operator: the general date of application.",
         (GENERAL_APPLICATION,), on_company=_timeline),
    Rule("ai-literacy", "Art. 4", "Providers and deployers support AI literacy.",
         ("ai-act-ai-literacy-applies",), on_company=_literacy),
    Rule("prohibitions", "Art. 5; Art. 2(1)", "Every operator: the banned practices.",
         (PROHIBITIONS,), on_company=_prohibitions),
    Rule("new-prohibitions", "Art. 5(1)(ba), (bb), (1a), (1b)",
         "Every operator: the practices banned by Regulation (EU) 2026/1744.",
         ("ai-act-omnibus-new-prohibitions-apply",), on_company=_new_prohibitions),
    Rule("penalties", "Art. 99", "Every operator can be fined.",
         ("ai-act-penalties-apply",), on_company=_penalties),
    Rule("corrective-action", "Art. 79(4)", "Every operator corrects a non-compliant system.",
         ("ai-act-corrective-action-15-working-days",), on_company=_corrective_action),
    Rule("prohibited-system", "Art. 5; Art. 111", "A system recorded as a banned practice.",
         (PROHIBITIONS,), on_system=_prohibited_system),
    Rule("annex-i-section-b", "Art. 2(2)", "Annex I Section B products: sector acts apply.",
         (GENERAL_APPLICATION,), on_system=_section_b),
    Rule("high-risk-provider", "Arts. 6, 8-17, 43, 47-49", "Providers of high-risk systems.",
         HR_APPLY, on_system=_hr_provider),
    Rule("requalified-provider", "Art. 25(1)-(2)", "Downstream operators become providers.",
         ("ai-act-requalified-provider", "ai-act-requalified-provider-annex-i"),
         on_system=_hr_requalified),
    Rule("high-risk-deployer", "Art. 26", "Deployers of high-risk systems.",
         HR_APPLY, on_system=_hr_deployer),
    Rule("fria", "Art. 27(1), (3)", "Public-law and public-service deployers; Annex III 5(b)-(c).",
         ("ai-act-fria", "ai-act-fria-notification"), on_system=_fria),
    Rule("high-risk-importer", "Art. 23", "Importers of high-risk systems.",
         HR_APPLY, on_system=_hr_importer),
    Rule("high-risk-distributor", "Art. 24", "Distributors of high-risk systems.",
         HR_APPLY, on_system=_hr_distributor),
    Rule("high-risk-authorised-representative", "Art. 22(3)",
         "Authorised representatives of non-EU providers.",
         HR_APPLY, on_system=_hr_authorised_representative),
    Rule("appoint-representative", "Art. 22(1)", "Non-EU providers of high-risk systems.",
         ("ai-act-authorised-representative-high-risk",
          "ai-act-authorised-representative-high-risk-annex-i"),
         on_system=_hr_appoint_representative),
    Rule("high-risk-legacy", "Art. 111(2)", "High-risk systems placed before their class date.",
         (LEGACY_ANNEX_III, LEGACY_ANNEX_I), on_system=_hr_legacy),
    Rule("high-risk-legacy-public-authority", "Art. 111(2)",
         "Legacy high-risk systems intended for public authorities.",
         (PUBLIC_AUTHORITY_BACKSTOP,), on_system=_hr_legacy_public_authority),
    Rule("serious-incidents", "Art. 73; Art. 26(5)", "Serious incidents of high-risk systems.",
         INCIDENTS, on_system=_hr_incidents),
    Rule("post-remote-biometric-identification", "Art. 26(10)",
         "Public deployers of remote biometric identification.",
         ("ai-act-post-rbi-authorisation-48-hours", "ai-act-post-rbi-annual-report"),
         on_system=_hr_post_remote_biometric_identification),
    Rule("not-high-risk", "Art. 6(3)-(4); Art. 49(2)",
         "Annex III systems assessed as not high-risk.",
         ("ai-act-not-high-risk-documentation", "ai-act-not-high-risk-registration"),
         on_system=_not_high_risk),
    Rule("transparency-interaction", "Art. 50(1)", "Systems that interact with people.",
         ("ai-act-transparency-interaction",),
         on_system=_art50_provider(
             "interacts", "ai-act-transparency-interaction", "Art. 50(1)",
             "must design it so that people are told they are interacting with an AI system")),
    Rule("transparency-marking", "Art. 50(2)", "Systems that generate synthetic content.",
         ("ai-act-transparency-synthetic-marking",),
         on_system=_art50_provider(
             "synthetic_content", "ai-act-transparency-synthetic-marking", "Art. 50(2)",
             "must mark its synthetic audio, image, video or text output as artificially "
             "generated, in a machine-readable format")),
    Rule("transparency-marking-grace", "Art. 111(4)", "Generative systems placed early.",
         (ART50_2_GRACE,), on_system=_art50_grace),
    Rule("transparency-emotion-biometric", "Art. 50(3)",
         "Deployers of emotion recognition or biometric categorisation.",
         ("ai-act-transparency-emotion-biometric",),
         on_system=_art50_deployer(
             ("emotion_recognition", "biometric_categorisation"),
             "ai-act-transparency-emotion-biometric", "Art. 50(3)",
             "must inform the people exposed to it of its operation")),
    Rule("transparency-deep-fake", "Art. 50(4)",
         "Deployers of deep fakes and public-interest text.",
         ("ai-act-transparency-deep-fake",),
         on_system=_art50_deployer(
             ("deep_fake", "public_interest_text"), "ai-act-transparency-deep-fake",
             "Art. 50(4)",
             "must disclose that the content has been artificially generated or manipulated")),
    Rule("gpai-provider", "Art. 53; Art. 101", "Providers of general-purpose AI models.",
         (GPAI_APPLY, LEGACY_GPAI, "ai-act-gpai-fines-apply"), on_system=_gpai_provider),
    Rule("gpai-systemic", "Art. 52(1); Art. 55", "Providers of models with systemic risk.",
         (GPAI_APPLY, LEGACY_GPAI, "ai-act-gpai-systemic-risk-notification"),
         on_system=_gpai_systemic),
    Rule("gpai-appoint-representative", "Art. 54(1), (6)", "Non-EU providers of GPAI models.",
         ("ai-act-gpai-authorised-representative",), on_system=_gpai_appoint_representative),
    Rule("gpai-authorised-representative", "Art. 54(3)",
         "Authorised representatives of non-EU GPAI providers.",
         (GPAI_APPLY, LEGACY_GPAI), on_system=_gpai_authorised_representative),
)  # fmt: skip

MILESTONE_KEYS = frozenset(key for rule in RULES for key in rule.yields)


def applicable_milestones(company: CompanyFacts, dates: Dates) -> list[Applicability]:
    """Every milestone that applies to the company, each with all its reasons, in key order.

    `dates` maps milestone keys to the catalogue's dates; those in CUTOFFS must be there.
    """
    missing = [key for key in CUTOFFS if dates.get(key) is None]
    if missing:
        raise CatalogueIncomplete(missing)
    context = Context(company=company, dates=dates)
    found: dict[str, list[Reason]] = {}
    for rule in RULES:
        for key, reason in rule.apply(context):
            reasons = found.setdefault(key, [])
            if reason not in reasons:
                reasons.append(reason)
    return [Applicability(key, tuple(found[key])) for key in sorted(found)]
