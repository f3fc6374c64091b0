"""What the AI Act asks of a company, by when, and why: the answer the public checker, the API,
`manage.py applicability_explain` and the workspace share.

The rules (`applicability.py`) read every date from the catalogue as it is at the time of
asking; the answer names the catalogue version it was computed on.
"""

from __future__ import annotations

import datetime as dt

from tracker.catalogue.events import catalogue_version
from tracker.catalogue.models import LIVE_STATUSES, Milestone, Obligation
from tracker.workspace import applicability as law
from tracker.workspace.duties import duties_listed

KEYS = sorted(law.MILESTONE_KEYS | set(law.CUTOFFS))


def catalogue_milestones() -> dict[str, Milestone]:
    """The milestones the rules can name, by key, in one query."""
    return {
        m.key: m
        for m in Milestone.objects.filter(key__in=KEYS).only(
            "key", "title", "kind", "date", "every_months", "until", "legal_basis", "status"
        )
    }


def catalogue_dates(milestones: dict[str, Milestone]) -> dict[str, dt.date | None]:
    return {key: milestone.date for key, milestone in milestones.items()}


def _date(milestone: Milestone, as_of: dt.date) -> dt.date | None:
    if milestone.kind == Milestone.Kind.RECURRING:
        return milestone.next_date(as_of) or milestone.date
    return milestone.date


def catalogue_obligations() -> list[Obligation]:
    """The duties of the milestones the rules can name, milestones joined, in one query."""
    return list(
        Obligation.objects.filter(milestone__key__in=KEYS)
        .select_related("milestone")
        .order_by("pk")
    )


def applicability_answer(*, company: law.CompanyFacts, as_of: dt.date) -> dict:
    """The obligations that apply, sorted by date (event-relative ones last), with reasons.

    Raises law.CatalogueIncomplete when the catalogue lacks a date the rules turn on.
    """
    milestones = catalogue_milestones()
    found = law.applicable_milestones(company, catalogue_dates(milestones))
    listed = duties_listed(company, found, catalogue_obligations())
    names = {system.key: system.name for system in company.systems}
    rows = []
    for applicable in found:
        milestone = milestones.get(applicable.milestone_key)
        if milestone is None or milestone.status not in LIVE_STATUSES:
            continue  # not in this catalogue, or withdrawn: nothing to do by a date
        systems = sorted({names[r.system_key] for r in applicable.reasons if r.system_key})
        rows.append(
            {
                "milestone": milestone.key,
                "date": _date(milestone, as_of),
                "title": milestone.title,
                "legal_basis": milestone.legal_basis,
                # The duties it brings for this company; one that lists none is its one duty.
                "obligations": listed.get(milestone.key)
                or [{"article": milestone.legal_basis, "title": milestone.title}],
                "systems": systems,
                "reasons": [r.explanation for r in applicable.reasons],
            }
        )
    rows.sort(key=lambda row: (row["date"] is None, row["date"] or dt.date.min, row["milestone"]))
    return {"as_of": as_of, "catalogue_version": catalogue_version(), "obligations": rows}
