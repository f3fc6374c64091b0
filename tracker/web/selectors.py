"""Reads the public pages make beyond the catalogue's own selectors."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from tracker.catalogue.models import Milestone, Obligation, Role
from tracker.catalogue.selectors import milestone_with_changes_queryset
from tracker.workspace.applicability import ROLES

_NUMBERS = re.compile(r"\d+")


@dataclass(frozen=True)
class Duty:
    """An obligation as the public milestone page shows it, its roles in words."""

    obligation: Obligation
    who: list[str]


def milestone_page_queryset() -> QuerySet[Milestone]:
    """Milestones with their change log and their duties: the detail page's queries, one more.

    `note` is for editors: it is not even read.
    """
    duties = Obligation.objects.defer("note").order_by("key")  # no join for the model ordering
    return milestone_with_changes_queryset().prefetch_related(
        Prefetch("obligations", queryset=duties)
    )


def _order(obligation: Obligation) -> tuple:
    """Providers' duties first (the law's order of roles), then by article number."""
    ranks = [ROLES.index(role) for role in obligation.roles if role in ROLES]
    numbers = tuple(int(n) for n in _NUMBERS.findall(obligation.article))
    return (min(ranks, default=len(ROLES)), numbers, obligation.key)


def milestone_duties(milestone: Milestone) -> list[Duty]:
    """The duties of a milestone from `milestone_page_queryset`, in one query for role names
    (none when it has no duties)."""
    obligations = sorted(milestone.obligations.all(), key=_order)
    keys = {role for obligation in obligations for role in obligation.roles}
    names = dict(Role.objects.filter(key__in=keys).values_list("key", "name")) if keys else {}
    return [
        Duty(
            obligation=obligation,
            who=[names.get(role, role.replace("_", " ")) for role in obligation.roles],
        )
        for obligation in obligations
    ]
