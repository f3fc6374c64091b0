"""Writes of the law watch: run the sources into candidates; record an editor's decision.

Nothing here changes the catalogue. A candidate is a suggestion; an editor dismisses it or
opens it as a pre-filled "Record an amendment" form, and only that form moves a date.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from tracker.catalogue.models import Milestone, Regulation
from tracker.lawwatch import sources
from tracker.lawwatch.models import LawChangeCandidate, LawWatchRun
from tracker.lawwatch.selectors import (
    amendments_recorded_for,
    article_numbers,
    milestones_naming_articles,
    watch_targets,
)

log = logging.getLogger(__name__)

Kind = LawChangeCandidate.Kind
VERBS = {
    Kind.AMENDS: "Amends",
    Kind.CORRECTS: "Corrects",
    Kind.REPEALS: "Repeals",
    Kind.CONSOLIDATED: "A consolidated version of",
    Kind.PROCEDURE: "A document in a legislative procedure followed for",
    Kind.OTHER: "Mentions",
}
# When one act is found under two relations (the final act of a followed procedure also amends
# the regulation), the more telling one names the candidate.
KIND_ORDER = [Kind.REPEALS, Kind.AMENDS, Kind.CORRECTS, Kind.CONSOLIDATED, Kind.PROCEDURE]


@dataclass
class LawWatchReport:
    """What a run did, for the task's log and the tests."""

    enabled: bool
    run_id: int | None = None
    found: int = 0
    new: int = 0
    failed_sources: list[str] = field(default_factory=list)
    skipped_records: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def law_watch_run(*, now: dt.datetime) -> LawWatchReport:
    """Ask every configured source about the tracked acts; new findings become candidates.

    Off unless LAW_WATCH_ENABLED: then one log line and nothing written. A source that fails
    (network, timeout, an answer that cannot be read) is logged in one line and recorded on
    the run; it changes no candidate and the other sources still count. One record that
    cannot be read or stored is skipped alone. Running twice never doubles a candidate.
    """
    if not settings.LAW_WATCH_ENABLED:
        log.info("law watch is off (LAW_WATCH_ENABLED)")
        return LawWatchReport(enabled=False)

    targets = watch_targets()
    regulations = Regulation.objects.in_bulk([t.regulation_id for t in targets])
    run = LawWatchRun.objects.create(started_at=now)
    report = LawWatchReport(enabled=True, run_id=run.pk)
    outcomes: dict[str, dict] = {}
    errors: list[str] = []

    for name, ask in _sources(targets):
        try:
            findings, skipped = ask()
        except sources.SourceError as exc:
            log.warning("law watch: %s failed: %s", name, exc)
            outcomes[name] = {"ok": False, "found": 0, "new": 0, "skipped": 0, "error": str(exc)}
            errors.append(f"{name}: {exc}")
            report.failed_sources.append(name)
            continue
        except Exception as exc:  # a bug or a surprise in one source must not stop the others
            log.exception("law watch: %s failed unexpectedly", name)
            message = f"{type(exc).__name__}: {exc}"
            outcomes[name] = {"ok": False, "found": 0, "new": 0, "skipped": 0, "error": message}
            errors.append(f"{name}: {message}")
            report.failed_sources.append(name)
            continue
        new = 0
        for finding in sorted(findings, key=_finding_order):
            try:
                new += candidate_record(
                    finding=finding, regulation=regulations[finding.regulation_id], run=run, now=now
                )
            except (DatabaseError, ValidationError, ValueError) as exc:
                skipped.append(f"{finding.external_id}: {exc}")
        for problem in skipped:
            log.warning("law watch: %s skipped a record: %s", name, problem)
        errors.extend(f"{name}: skipped {problem}" for problem in skipped)
        outcomes[name] = {
            "ok": True,
            "found": len(findings),
            "new": new,
            "skipped": len(skipped),
            "error": "",
        }
        report.found += len(findings)
        report.new += new
        report.skipped_records += len(skipped)

    failed = len(report.failed_sources)
    if outcomes and failed == len(outcomes):
        run.status = LawWatchRun.Status.FAILED
    elif failed or report.skipped_records:
        run.status = LawWatchRun.Status.PARTIAL
    else:
        run.status = LawWatchRun.Status.OK
    run.finished_at = timezone.now()
    run.found, run.new, run.sources, run.error = (
        report.found,
        report.new,
        outcomes,
        "\n".join(errors),
    )
    run.save()
    log.info(
        "law watch: %d finding(s), %d new, %d source(s) failed",
        report.found,
        report.new,
        failed,
    )
    return report


def _sources(targets: list[sources.Target]) -> list[tuple[str, Callable]]:
    asked: list[tuple[str, Callable]] = []
    if settings.LAW_WATCH_SPARQL_URL:
        endpoint = settings.LAW_WATCH_SPARQL_URL
        asked.append(("sparql", lambda: sources.sparql_ask(endpoint, targets)))
    for feed in settings.LAW_WATCH_FEED_URLS:
        asked.append((f"feed {feed}", lambda feed=feed: sources.feed_ask(feed, targets)))
    return asked


def _finding_order(finding: sources.Finding) -> tuple[int, str]:
    rank = KIND_ORDER.index(finding.kind) if finding.kind in KIND_ORDER else len(KIND_ORDER)
    return rank, finding.external_id


def candidate_record(
    *,
    finding: sources.Finding,
    regulation: Regulation,
    run: LawWatchRun | None,
    now: dt.datetime,
) -> bool:
    """Store a finding as a candidate unless this act is already one; True if it is new."""
    candidate = LawChangeCandidate(
        regulation=regulation,
        source=finding.source,
        kind=finding.kind,
        external_id=finding.external_id[:500],
        title=finding.title[:1000],
        link=finding.link if len(finding.link) <= 1000 else "",
        published_on=finding.published_on,
        raw=finding.raw,
        first_seen_at=now,
        run=run,
    )
    with transaction.atomic():
        _, created = LawChangeCandidate.objects.get_or_create(
            regulation=regulation,
            external_id=candidate.external_id,
            defaults={
                "source": candidate.source,
                "kind": candidate.kind,
                "title": candidate.title,
                "link": candidate.link,
                "published_on": candidate.published_on,
                "raw": candidate.raw,
                "first_seen_at": now,
                "run": run,
                # Only worked out for a new candidate (get_or_create calls it then).
                "may_affect": lambda: candidate_effect(candidate=candidate, text=finding.text),
            },
        )
    return created


def candidate_effect(*, candidate: LawChangeCandidate, text: str) -> str:
    """What the candidate may affect, from the record: the regulation, and the milestones
    whose legal basis names an article the record names."""
    regulation = candidate.regulation
    lines = [f"{VERBS[candidate.kind]} {regulation.short_name} ({regulation.celex or regulation})."]
    numbers = article_numbers(text)
    if numbers:
        named = ", ".join(f"Art. {n}" for n in sorted(numbers))
        hits = milestones_naming_articles(regulation=regulation, numbers=numbers)
        if hits:
            lines.append(f"Milestones whose legal basis names {named}: " + "; ".join(hits) + ".")
        else:
            lines.append(f"It names {named}; no milestone's legal basis does.")
    recorded = amendments_recorded_for(regulation=regulation, amending_act=candidate.amending_act)
    if recorded:
        lines.append(
            f"Already recorded as {candidate.amending_act} on: " + "; ".join(recorded) + "."
        )
    return "\n".join(lines)


# Editors' decisions ----------------------------------------------------------------------------


def candidates_dismiss(
    *, candidates: QuerySet[LawChangeCandidate], dismissed_by, now: dt.datetime
) -> int:
    """Dismiss the new candidates among these; returns how many."""
    return candidates.filter(status=LawChangeCandidate.Status.NEW).update(
        status=LawChangeCandidate.Status.DISMISSED, decided_by=dismissed_by, decided_at=now
    )


def candidate_open_as_amendment(
    *, candidate: LawChangeCandidate, milestone: Milestone, used_by, now: dt.datetime
) -> dict[str, str]:
    """Mark the candidate used; return what pre-fills the milestone's "Record an amendment"."""
    if milestone.regulation_id != candidate.regulation_id:
        raise ValidationError("The milestone belongs to another regulation.")
    if milestone.kind not in (Milestone.Kind.FIXED, Milestone.Kind.RECURRING):
        raise ValidationError("Only a fixed or recurring milestone has a date to move.")
    LawChangeCandidate.objects.filter(pk=candidate.pk).update(
        status=LawChangeCandidate.Status.USED, decided_by=used_by, decided_at=now
    )
    prefill = {
        "amending_act": candidate.amending_act[:200],
        "note": f"Found by the law watch: {candidate.title}",
    }
    if candidate.link:
        prefill["source_url"] = candidate.link[:500]
    return prefill
