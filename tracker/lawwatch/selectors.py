"""Reads of the law watch: what to ask about, and which milestones a candidate may move."""

from __future__ import annotations

import re

from django.db.models import QuerySet

from tracker.catalogue.models import Amendment, Milestone, Regulation
from tracker.lawwatch.sources import Target


def watch_targets() -> list[Target]:
    """The regulations with a CELEX number or a procedure to follow."""
    targets = []
    for regulation in Regulation.objects.order_by("pk").only("pk", "celex", "procedures"):
        procedures = regulation.procedures if isinstance(regulation.procedures, list) else []
        procedures = tuple(p for p in procedures if isinstance(p, str) and p.strip())
        if regulation.celex.strip() or procedures:
            targets.append(
                Target(
                    regulation_id=regulation.pk,
                    celex=regulation.celex.strip().upper(),
                    procedures=procedures,
                )
            )
    return targets


def milestones_movable(*, regulation: Regulation) -> QuerySet[Milestone]:
    """The milestones of a regulation that an amendment can move: the dated ones."""
    return Milestone.objects.filter(
        regulation=regulation, kind__in=[Milestone.Kind.FIXED, Milestone.Kind.RECURRING]
    ).order_by("date", "key")


# "Art. 5(6)", "Arts. 28 to 39", "Arts. 99 and 100", "Article 113", "Articles 5 and 6"
ARTICLES = re.compile(r"\bArt(?:icle)?s?\.?\s*(\d+)(?:\(\w+\))*(?:\s*(to|and|,)\s*(\d+))?", re.I)


def article_numbers(text: str) -> set[int]:
    """The article numbers a text names; a range ("Arts. 28 to 39") names every one."""
    found: set[int] = set()
    for match in ARTICLES.finditer(text):
        first = int(match[1])
        found.add(first)
        if match[3]:
            last = int(match[3])
            if match[2].lower() == "to" and first < last <= first + 60:
                found.update(range(first, last + 1))
            else:
                found.add(last)
    return found


def milestones_naming_articles(*, regulation: Regulation, numbers: set[int]) -> list[str]:
    """Titles of the regulation's milestones whose legal basis names one of these articles."""
    return [
        title
        for title, legal_basis in Milestone.objects.filter(regulation=regulation)
        .order_by("date", "key")
        .values_list("title", "legal_basis")
        if article_numbers(legal_basis) & numbers
    ]


def amendments_recorded_for(*, regulation: Regulation, amending_act: str) -> list[str]:
    """Titles of the regulation's milestones on which this act is already recorded."""
    if not amending_act:
        return []
    titles = (
        Amendment.objects.filter(
            milestone__regulation=regulation, amending_act__iexact=amending_act
        )
        .order_by("milestone__date", "milestone__key")
        .values_list("milestone__title", flat=True)
    )
    return list(dict.fromkeys(titles))
