"""The workspace's side of a catalogue change: organisations' tracked items follow the law.

Runs in a worker after the editor's transaction has committed (tracker/catalogue/events.py).
A moved date flags the open items and tells each owner once; a new, withdrawn or re-kinded
milestone brings every organisation's items in line with what applies, one organisation at
a time, so one organisation's bad data fails alone.
"""

from __future__ import annotations

from django.db import transaction

from tracker.catalogue.models import Milestone, MilestoneChange
from tracker.reminders.changes import announces_move
from tracker.workspace import applicability as law
from tracker.workspace.models import Organisation
from tracker.workspace.notifications import items_flag_moved_milestone
from tracker.workspace.services import tracking_sync

# Changes that can alter what applies to a company: only live milestones are tracked, and the
# rules read the dates of the milestones they name (cut-offs and reasons alike).
RESYNC_FIELDS = {"status", "kind", "duties"}
RULES_READ = law.MILESTONE_KEYS | set(law.CUTOFFS)


def resync_needed(change: MilestoneChange, milestone: Milestone) -> bool:
    """A new milestone, a status or kind change, a duty of it changed (duties.py reads them),
    or the date of a milestone the rules read."""
    if change.kind == MilestoneChange.Kind.CREATED or RESYNC_FIELDS & set(change.changes):
        return True
    return "date" in change.changes and milestone.key in RULES_READ


def tracking_sync_all() -> dict:
    """Bring every organisation's tracked items in line with the catalogue and the rules."""
    counts = {"organisations": 0, "added": 0, "updated": 0, "retired": 0}
    errors = []
    for organisation in Organisation.objects.order_by("pk").iterator(chunk_size=200):
        try:
            with transaction.atomic():
                result = tracking_sync(organisation=organisation)
        except Exception as exc:  # recorded; the other organisations go on
            errors.append({"organisation": organisation.slug, "error": f"{exc!r}"[:300]})
            continue
        counts["organisations"] += 1
        for name, value in result.items():
            counts[name] += value
    return {**counts, "errors": errors}


def milestone_change_apply(change: MilestoneChange) -> dict:
    milestone = Milestone.objects.get(pk=change.milestone_id)
    outcome: dict = {"errors": []}
    if announces_move(change, milestone):
        moved = items_flag_moved_milestone(change=change, milestone=milestone)
        outcome["errors"] += moved.pop("errors")
        outcome.update(moved)
    if resync_needed(change, milestone):
        synced = tracking_sync_all()
        outcome["errors"] += synced.pop("errors")
        outcome.update(synced)
    return outcome
