"""The public checker's answers, carried in a link.

The checker (tracker/web/checker.py) stores nothing: its result page is a permalink whose `f`
parameter holds the answers in the applicability contract's JSON shape, compact and base64url
encoded. The codec lives in the workspace because "save to my workspace" (import_views.py)
reads the same links and the web layer sits above the workspace. Whatever a link holds is read
by the one validator, `facts_parse`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from typing import Any

from tracker.workspace import applicability as law
from tracker.workspace.facts import FactsInvalid, facts_parse
from tracker.workspace.models import ANNEX_III_POINTS, AISystem, CompanyRole

# 50 systems with long names and every answer given stay well under this.
MAX_LINK_CHARS = 64_000
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
# Answers equal to the contract's defaults are left out of the link to keep it short.
_DEFAULTS = {"established_in_eu": True}


class FactsLinkInvalid(Exception):
    """A checker link whose answers cannot be read: damaged, truncated or tampered with."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = problems or []
        super().__init__(message)


def _compact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _compact(v)
            for k, v in value.items()
            if v not in ("", None, [], {}) and v != _DEFAULTS.get(k, False)
        }
    if isinstance(value, list):
        return [_compact(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def facts_link_encode(payload: dict) -> str:
    """The `f` parameter for the contract's payload: compact JSON, base64url, no padding."""
    compact = _compact(payload)
    if not compact.get("company"):
        compact.pop("company", None)
    text = json.dumps(compact, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode("utf-8")).rstrip(b"=").decode("ascii")


def facts_link_decode(token: str) -> Any:
    """The JSON a link holds (not yet validated), or FactsLinkInvalid."""
    damaged = "This link is damaged or incomplete: its answers cannot be read."
    if not token:
        raise FactsLinkInvalid("This link holds no answers.")
    if len(token) > MAX_LINK_CHARS or not _BASE64URL.fullmatch(token):
        raise FactsLinkInvalid(damaged)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise FactsLinkInvalid(damaged) from None


def facts_link_read(token: str, *, today: dt.date) -> tuple[dict, law.CompanyFacts, dt.date]:
    """The payload, the company's facts and the day to answer for, from a checker link."""
    payload = facts_link_decode(token)
    try:
        company, as_of = facts_parse(payload, today=today)
    except FactsInvalid as exc:
        problems = [f"{where or 'answers'}: {' '.join(msgs)}" for where, msgs in exc.errors.items()]
        raise FactsLinkInvalid(
            "The answers in this link are not valid: it was probably changed by hand.", problems
        ) from None
    return payload, company, as_of


_ROLE_LABELS = dict(CompanyRole.choices)
_RISK_LABELS = dict(AISystem.RiskClass.choices)
_POINT_LABELS = dict(ANNEX_III_POINTS)
_ART50_LABELS = dict(AISystem.Art50.choices)
_ART25_LABELS = dict(AISystem.Art25.choices)


def facts_summary(company: law.CompanyFacts) -> dict:
    """The answers in words, for the result and import pages (labels of the workspace's models)."""
    about = [
        "Established in the EU" if company.established_in_eu else "Established outside the EU",
    ]
    if company.public_body:
        about.append("A body governed by public law")
    if company.provides_public_services:
        about.append("A private entity providing public services")
    systems = []
    for system in company.systems:
        risk = _RISK_LABELS[system.risk]
        if system.annex_iii_point:
            risk += f", point {_POINT_LABELS[system.annex_iii_point]}"
        if system.annex_i_section:
            risk += f", Section {system.annex_i_section}"
        gpai = ""
        if system.gpai_model:
            gpai = "General-purpose AI model"
            gpai += ", with systemic risk" if system.systemic_risk else ""
            gpai += ", open source" if system.open_source else ""
        systems.append(
            {
                "name": system.name,
                "roles": [_ROLE_LABELS[r] for r in law.ROLES if r in system.roles],
                "risk": risk,
                "art50": [_ART50_LABELS[f] for f in law.ART50 if f in system.art50],
                "art25": [_ART25_LABELS[t] for t in law.ART25 if t in system.art25],
                "gpai": gpai,
                "placed_on_market": system.placed_on_market,
                "public_authorities": system.intended_for_public_authorities,
            }
        )
    return {"company": about, "systems": systems}
