"""The facts the AI Act turns on, read from a request or from the workspace's rows.

`facts_parse` is the one validator of the applicability contract (docs/applicability.md): the
API, the public checker, `manage.py applicability_explain` and the workspace's system form all
go through it, so the same input gets the same answer and the same messages everywhere. Errors
are collected per field ("systems[0].risk") and raised together as `FactsInvalid`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from tracker.workspace import applicability as law
from tracker.workspace.models import AISystem, Organisation

MAX_SYSTEMS = 50
COMPANY_FLAGS = ("established_in_eu", "public_body", "provides_public_services")
SYSTEM_FLAGS = ("gpai_model", "systemic_risk", "open_source", "intended_for_public_authorities")
SYSTEM_FIELDS = {
    "name", "roles", "risk", "annex_iii_point", "annex_i_section", "art50", *SYSTEM_FLAGS,
    "placed_on_market", "art25",
}  # fmt: skip
ANNEX_III_RISKS = ("high_risk_annex_iii", "annex_iii_not_high_risk")


class FactsInvalid(Exception):
    """The input cannot be read as facts; `errors` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


class _Errors(dict):
    def add(self, where: str, message: str) -> None:
        self.setdefault(where, []).append(message)


def _date(errors: _Errors, where: str, value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    try:
        parsed = dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or not 1990 <= parsed.year <= 2100:
        errors.add(where, "Enter a date written YYYY-MM-DD, between 1990 and 2100.")
        return None
    return parsed


def _flag(errors: _Errors, where: str, value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        errors.add(where, "Must be true or false.")
        return default
    return value


def _choices(errors: _Errors, where: str, value: Any, allowed, *, required=False) -> frozenset:
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.add(where, "Must be a list of strings.")
        return frozenset()
    unknown = [v for v in value if v not in allowed]
    if unknown:
        errors.add(where, f"Unknown: {', '.join(unknown)}. Choose among: {', '.join(allowed)}.")
    if required and not value:
        errors.add(where, f"Give at least one of: {', '.join(allowed)}.")
    return frozenset(v for v in value if v in allowed)


def _system(errors: _Errors, where: str, raw: Any, index: int) -> law.SystemFacts | None:
    if not isinstance(raw, dict):
        errors.add(where, "Each system must be an object.")
        return None
    before = len(errors)
    for name in sorted(set(raw) - SYSTEM_FIELDS):
        errors.add(f"{where}.{name}", "Unknown field.")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 120 or "\x00" in name:
        errors.add(f"{where}.name", "Give the system a name (at most 120 characters).")
        name = ""
    roles = _choices(errors, f"{where}.roles", raw.get("roles"), law.ROLES, required=True)
    risk = raw.get("risk")
    if risk not in law.RISKS:
        errors.add(f"{where}.risk", f"Choose one of: {', '.join(law.RISKS)}.")
    point = raw.get("annex_iii_point") or ""
    if point and point not in law.ANNEX_III_POINTS:
        errors.add(f"{where}.annex_iii_point", "Write the Annex III point as 1a to 8b.")
    elif point and risk not in ANNEX_III_RISKS:
        errors.add(
            f"{where}.annex_iii_point",
            "Only for high_risk_annex_iii or annex_iii_not_high_risk.",
        )
    section = raw.get("annex_i_section") or ""
    if section and section not in law.ANNEX_I_SECTIONS:
        errors.add(f"{where}.annex_i_section", "Write A or B.")
    elif section and risk != "high_risk_annex_i":
        errors.add(f"{where}.annex_i_section", "Only for high_risk_annex_i.")
    flags = {name: _flag(errors, f"{where}.{name}", raw.get(name)) for name in SYSTEM_FLAGS}
    for flag in ("systemic_risk", "open_source"):
        if flags[flag] and not flags["gpai_model"]:
            errors.add(f"{where}.{flag}", "Only for a general-purpose AI model (gpai_model).")
    placed = _date(errors, f"{where}.placed_on_market", raw.get("placed_on_market"))
    art50 = _choices(errors, f"{where}.art50", raw.get("art50"), law.ART50)
    art25 = _choices(errors, f"{where}.art25", raw.get("art25"), law.ART25)
    if len(errors) > before:
        return None
    return law.SystemFacts(
        key=str(raw.get("key", index)), name=name.strip(), roles=roles, risk=risk,
        annex_iii_point=point, annex_i_section=section, art50=art50,
        gpai_model=flags["gpai_model"], systemic_risk=flags["systemic_risk"],
        open_source=flags["open_source"], placed_on_market=placed,
        intended_for_public_authorities=flags["intended_for_public_authorities"], art25=art25,
    )  # fmt: skip


def facts_parse(payload: Any, *, today: dt.date) -> tuple[law.CompanyFacts, dt.date]:
    """The company's facts and the day to answer for, from the contract's JSON shape."""
    errors = _Errors()
    if not isinstance(payload, dict):
        raise FactsInvalid({"": ["Send a JSON object with company and systems."]})
    for name in sorted(set(payload) - {"as_of", "company", "systems"}):
        errors.add(name, "Unknown field.")
    as_of = _date(errors, "as_of", payload.get("as_of")) or today
    company = payload.get("company") or {}
    if not isinstance(company, dict):
        errors.add("company", "Must be an object.")
        company = {}
    for name in sorted(set(company) - set(COMPANY_FLAGS)):
        errors.add(f"company.{name}", "Unknown field.")
    flags = {
        name: _flag(
            errors, f"company.{name}", company.get(name), default=name == "established_in_eu"
        )
        for name in COMPANY_FLAGS
    }
    raw_systems = payload.get("systems", [])
    if not isinstance(raw_systems, list):
        errors.add("systems", "Must be a list.")
        raw_systems = []
    if len(raw_systems) > MAX_SYSTEMS:
        errors.add("systems", f"At most {MAX_SYSTEMS} systems at a time.")
        raw_systems = []
    systems = [_system(errors, f"systems[{i}]", raw, i) for i, raw in enumerate(raw_systems)]
    names = [s.name.casefold() for s in systems if s is not None]
    if len(names) != len(set(names)):
        errors.add("systems", "Give each system its own name.")
    if errors:
        raise FactsInvalid(dict(errors))
    return law.CompanyFacts(systems=tuple(systems), **flags), as_of


# The workspace's field names that differ from the contract's (the validator speaks the contract).
CONTRACT_NAMES = {
    "risk_class": "risk", "is_gpai_model": "gpai_model", "gpai_systemic_risk": "systemic_risk",
}  # fmt: skip
MODEL_FIELDS = [
    "name", "roles", "risk_class", "annex_iii_point", "annex_i_section", "art50",
    "is_gpai_model", "gpai_systemic_risk", "open_source", "placed_on_market",
    "intended_for_public_authorities", "art25",
]  # fmt: skip


def system_payload(system: AISystem) -> dict:
    """A workspace system in the contract's shape (what `facts_parse` reads)."""
    return {CONTRACT_NAMES.get(name, name): getattr(system, name) for name in MODEL_FIELDS}


def system_fields(facts: law.SystemFacts) -> dict:
    """A system's facts as AISystem fields, its lists in the law's order."""
    values = {name: getattr(facts, CONTRACT_NAMES.get(name, name)) for name in MODEL_FIELDS}
    for name, order in (("roles", law.ROLES), ("art50", law.ART50), ("art25", law.ART25)):
        values[name] = [item for item in order if item in values[name]]
    return values


def facts_from_organisation(organisation: Organisation, systems) -> law.CompanyFacts:
    """The organisation's facts, keyed by system pk; its rows were validated when saved."""
    payload = {
        "company": {name: getattr(organisation, name) for name in COMPANY_FLAGS},
        "systems": [system_payload(system) for system in systems],
    }
    company, _ = facts_parse(payload, today=dt.date.min)
    keyed = tuple(
        dataclasses.replace(facts, key=str(system.pk))
        for facts, system in zip(company.systems, systems, strict=True)
    )
    return dataclasses.replace(company, systems=keyed)
