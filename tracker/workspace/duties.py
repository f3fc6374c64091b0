"""Which duties of the catalogue apply to each AI system of a company (the matching rule).

Pure: the company's facts (`applicability.CompanyFacts`), what `applicability_milestones`
found for them, and the catalogue's `Obligation` rows (with their milestone joined) in; a list
of `Duty` (system key or "" for the company, the obligation, the milestone it is tracked
against) out. No query, no legal date: the dates stay the milestones'.

An obligation applies to a system when

- its milestone, or the Art. 111 substitute of it that the rules gave that system (`SUBSTITUTES`),
  is among the applicable milestones with a reason naming the system;
- its `roles` meet the roles the company acts in for the system: the roles recorded, or deployer
  when none is (Art. 3(4)), plus provider for a downstream operator that Art. 25(1)
  re-qualifies;
- its conditions hold on the system's facts and the company's: every field of `when` (a
  list-valued fact such as `art50` matches when it shares a value), one map of `when_any` if
  there are any, and no map of `unless`. Field names are the workspace's (`facts.MODEL_FIELDS`,
  `facts.COMPANY_FLAGS`); `annex_i_section` "" means not recorded.

A milestone a company-level rule gives (AI literacy, the prohibitions: a reason with no system)
brings company duties: an obligation that names no system fact is owed once, by the company,
when its roles meet the company's roles and its conditions hold on the company's facts; that
holds even where a system rule gives the milestone too (a system recorded as a prohibited
practice does not make Art. 5 a second duty). An obligation that names system facts is read
per system, each system of the company being reached through the company-level rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tracker.workspace import applicability as law

# Art. 111: where the rules give a system its transitional milestone instead of the class date
# (a high-risk system on the market before its class date, a general-purpose AI model before
# the GPAI date, a generative system before the general date for the Art. 50(2) marking), the
# duties of the class-date milestone are tracked against the one that applies to that system.
# In order of preference: a legacy system intended for public authorities is bound by the
# backstop date even without a significant change, so the backstop wins over the cut-off.
_LEGACY_ANNEX_III = (law.PUBLIC_AUTHORITY_BACKSTOP, law.LEGACY_ANNEX_III)
_LEGACY_ANNEX_I = (law.PUBLIC_AUTHORITY_BACKSTOP, law.LEGACY_ANNEX_I)
SUBSTITUTES: dict[str, tuple[str, ...]] = {
    law.ANNEX_III_APPLY: _LEGACY_ANNEX_III,
    "ai-act-fria": _LEGACY_ANNEX_III,
    "ai-act-fria-notification": _LEGACY_ANNEX_III,
    "ai-act-authorised-representative-high-risk": _LEGACY_ANNEX_III,
    law.ANNEX_I_APPLY: _LEGACY_ANNEX_I,
    "ai-act-authorised-representative-high-risk-annex-i": _LEGACY_ANNEX_I,
    law.GPAI_APPLY: (law.LEGACY_GPAI,),
    "ai-act-transparency-synthetic-marking": (law.ART50_2_GRACE,),
}

# Art. 111(2) names the providers and deployers of a legacy system intended for public
# authorities: only their duties move to the backstop. An importer's or a distributor's duties
# for that system stay at the cut-off (the Regulation reaches them on a significant change).
BACKSTOP_ROLES = frozenset({"provider", "product_manufacturer", "deployer"})

COMPANY_FIELDS = ("established_in_eu", "public_body", "provides_public_services")


@dataclass(frozen=True)
class Duty:
    """One obligation owed for one system ("" : by the company), and the milestone whose date
    it is tracked against (its own, or the Art. 111 substitute that applies to the system)."""

    system_key: str
    obligation: Any  # a catalogue Obligation row (milestone joined)
    milestone_key: str


def system_facts(system: law.SystemFacts, company: law.CompanyFacts) -> dict[str, Any]:
    """A system's facts under the workspace's field names, with the company's flags; `roles`
    are the roles the company acts in for the system."""
    return {
        **company_facts(company),
        "name": system.name,
        "roles": acting_roles(system),
        "risk_class": system.risk,
        "annex_iii_point": system.annex_iii_point,
        "annex_i_section": system.annex_i_section,
        "art50": system.art50,
        "is_gpai_model": system.gpai_model,
        "gpai_systemic_risk": system.systemic_risk,
        "open_source": system.open_source,
        "placed_on_market": system.placed_on_market,
        "intended_for_public_authorities": system.intended_for_public_authorities,
        "art25": system.art25,
    }


def company_facts(company: law.CompanyFacts) -> dict[str, Any]:
    """The company's flags, and every role it holds (Art. 25 re-qualification included)."""
    return {"roles": company.roles, **{name: getattr(company, name) for name in COMPANY_FIELDS}}


def acting_roles(system: law.SystemFacts) -> frozenset[str]:
    """The roles the company acts in for the system, as the rules read them."""
    roles = set(system.acting_roles)
    if law._requalified(system):
        roles.add("provider")
    return frozenset(roles)


def holds(conditions: Mapping[str, Any] | None, facts: Mapping[str, Any]) -> bool:
    """Every field's fact is among its allowed values (a set-valued fact: shares one). A fact
    the facts do not have does not hold."""
    for name, allowed in (conditions or {}).items():
        if name not in facts:
            return False
        value = facts[name]
        allowed = allowed if isinstance(allowed, list | tuple | set | frozenset) else [allowed]
        if isinstance(value, list | tuple | set | frozenset):
            if not set(value) & set(allowed):
                return False
        elif value not in allowed:
            return False
    return True


def conditions_hold(obligation: Any, facts: Mapping[str, Any]) -> bool:
    """`when`, one of `when_any` (if any) and none of `unless`."""
    return (
        holds(obligation.when, facts)
        and (not obligation.when_any or any(holds(m, facts) for m in obligation.when_any))
        and not any(holds(m, facts) for m in obligation.unless or [])
    )


def names_system_facts(obligation: Any) -> bool:
    """Whether the obligation's conditions read a fact of a system (not only the company's)."""
    maps = [obligation.when or {}, *(obligation.when_any or []), *(obligation.unless or [])]
    return any(name not in COMPANY_FIELDS for conditions in maps for name in conditions)


def _effective(base: str, reached: set[str], roles: set[str]) -> str | None:
    """The milestone a duty of `base`, owed in `roles`, is tracked against, among those
    `reached` (the system's milestones), or None when neither it nor a substitute is."""
    for key in SUBSTITUTES.get(base, ()):
        if key == law.PUBLIC_AUTHORITY_BACKSTOP and not roles & BACKSTOP_ROLES:
            continue
        if key in reached:
            return key
    return base if base in reached else None


def duties_matching(
    company: law.CompanyFacts,
    applicable: Iterable[law.Applicability],
    obligations: Iterable[Any],
) -> list[Duty]:
    """Every duty that applies, in the order of `obligations`, then of the company's systems
    (company duties first). `obligations` are rows with `milestone` joined."""
    per_system: dict[str, set[str]] = {s.key: set() for s in company.systems}
    company_level: set[str] = set()
    for found in applicable:
        for reason in found.reasons:
            if reason.system_key:
                per_system.setdefault(reason.system_key, set()).add(found.milestone_key)
            else:
                company_level.add(found.milestone_key)
    facts = {s.key: system_facts(s, company) for s in company.systems}
    roles = {s.key: acting_roles(s) for s in company.systems}
    own = company_facts(company)
    out: list[Duty] = []
    for obligation in obligations:
        base = obligation.milestone.key
        wanted = set(obligation.roles or [])
        by_system = names_system_facts(obligation)
        if base in company_level and not by_system:
            if wanted & company.roles and conditions_hold(obligation, own):
                out.append(Duty("", obligation, base))
            continue
        for system in company.systems:
            reached = per_system[system.key] | (company_level if by_system else set())
            owed_as = wanted & roles[system.key]
            milestone = _effective(base, reached, owed_as)
            if milestone is None or not owed_as:
                continue
            if conditions_hold(obligation, facts[system.key]):
                out.append(Duty(system.key, obligation, milestone))
    return out


def duties_by_milestone(duties: Iterable[Duty]) -> dict[str, list[Duty]]:
    """The duties grouped by the milestone they are tracked against."""
    grouped: dict[str, list[Duty]] = {}
    for duty in duties:
        grouped.setdefault(duty.milestone_key, []).append(duty)
    return grouped


_CHUNKS = re.compile(r"(\d+)")


def article_order(article: str) -> tuple:
    """Sort key reading numbers as numbers: Art. 9 before Art. 10, 16(b) before 16(k)."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in _CHUNKS.split(article)
    )


def duties_listed(
    company: law.CompanyFacts, applicable: Iterable[law.Applicability], obligations: Iterable
) -> dict[str, list[dict]]:
    """The duties that apply to a company, by the key of the milestone they are tracked
    against, each as {"article", "title"} once, in article order (for the checker's answer);
    a milestone with no duty that applies is not a key."""
    found: dict[str, dict[str, dict]] = {}
    for duty in duties_matching(company, applicable, obligations):
        row = {"article": duty.obligation.article, "title": duty.obligation.title}
        found.setdefault(duty.milestone_key, {}).setdefault(duty.obligation.key, row)
    return {
        key: sorted(rows.values(), key=lambda r: (article_order(r["article"]), r["title"]))
        for key, rows in found.items()
    }
