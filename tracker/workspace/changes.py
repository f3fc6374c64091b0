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
from tracker.workspace.models import Organisation
from tracker.workspace.notifications import items_flag_moved_milestone
from tracker.workspace.services import tracking_sync

# Changes that can alter what applies to a company (the rules name milestones by key and
# only live ones are tracked); a moved date or a new title does not.
RESYNC_FIELDS = {"status", "kind"}


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
    if change.kind == MilestoneChange.Kind.CREATED or RESYNC_FIELDS & set(change.changes):
        synced = tracking_sync_all()
        outcome["errors"] += synced.pop("errors")
        outcome.update(synced)
    return outcome
