"""Writes to the catalogue: one way in for every change of a milestone.

Every path that creates a milestone or changes it (the admin change form, "Record an
amendment", a history revert, a pack load, a resolved pack conflict) goes through
`milestone_create` or `milestone_update`: the same validation (`milestone_check_change`), the
same history entry, and one `MilestoneChange` row written in the same transaction. The apps
that follow the catalogue consume that row after commit (see `events.py`); the catalogue
never calls them, so an editor's request costs the same whoever follows the milestone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from itertools import pairwise

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import models, transaction

from tracker.catalogue.events import change_publish_on_commit
from tracker.catalogue.models import Amendment, Milestone, MilestoneChange, Obligation, Role, Scope
from tracker.catalogue.packs import AmendmentSpec

M2M_FIELDS = ("roles", "scopes")
# A change to one of these is announced to the followers (and shown in the public change
# log); an edit of the explainer, the editors' note, confidence or verified_on stays in the
# admin history only.
ANNOUNCED_FIELDS = (
    "title",
    "kind",
    "date",
    "every_months",
    "until",
    "offset_days",
    "offset_hours",
    "trigger",
    "category",
    "status",
    "indicative",
    "legal_basis",
    "regulation",
    "roles",
    "scopes",
)
# Never written into a change (the change log, the API and the feed are public).
PRIVATE_FIELDS = ("editor_note",)
EDITABLE_FIELDS = tuple(
    f.name
    for f in Milestone._meta.concrete_fields
    if f.editable and f.name not in ("id", "original_date", "updated_at")
)


def plain(value):
    """A field value as JSON (dates as ISO strings, rows as their key, sets sorted)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return getattr(value, "key", value.pk)
    if isinstance(value, (set, frozenset, list, tuple)):
        return sorted(plain(v) for v in value)
    return value


def milestone_snapshot(milestone: Milestone) -> dict:
    """Every editable field and the role and scope keys, as JSON values."""
    snapshot = {name: plain(getattr(milestone, name)) for name in EDITABLE_FIELDS}
    if milestone.pk:
        snapshot["roles"] = sorted(r.key for r in milestone.roles.all())
        snapshot["scopes"] = sorted(s.key for s in milestone.scopes.all())
    return snapshot


def _chain_error(start: dt.date | None, end: dt.date | None, specs: Sequence[AmendmentSpec]):
    if specs[0].old_date != start:
        return f"the first amendment must move the date in force ({start}), not {specs[0].old_date}"
    for earlier, later in pairwise(specs):
        if earlier.new_date != later.old_date:
            return f"amendments do not chain: {earlier.new_date} then from {later.old_date}"
    if specs[-1].new_date != end:
        return f"the last amendment moves the date to {specs[-1].new_date}, not {end}"
    return None


def milestone_check_change(
    *, milestone: Milestone | None, values: dict, amendments: Sequence[AmendmentSpec] = ()
) -> None:
    """The one rule for moving a date, used by the admin forms, packs and the services.

    The amendment table, `date` and `original_date` never disagree: a date set by an
    amendment moves again only through another amendment; a date never amended may be
    corrected in place. Raises ValidationError with a message an editor can act on.
    """
    if milestone is None or "date" not in values or values["date"] == milestone.date:
        if amendments and milestone is not None:
            raise ValidationError({"date": "The new date is the date already in force."})
        return
    new_date = values["date"]
    if amendments:
        if problem := _chain_error(milestone.date, new_date, amendments):
            raise ValidationError({"date": f"This amendment does not fit: {problem}."})
        return
    last = milestone.amendments.order_by("recorded_at", "id").last()
    if last is not None:
        raise ValidationError(
            {
                "date": f"This date was set by {last.amending_act} ({last.old_date} → "
                f"{last.new_date}). To move it again, use “Record an amendment”, which keeps "
                "the amendment table, the date and the original date in step."
            }
        )


def _announce(
    *,
    milestone: Milestone,
    kind: str,
    before: dict,
    after: dict,
    origin: str,
    by: AbstractBaseUser | None,
    reason: str,
    amendment: Amendment | None = None,
) -> MilestoneChange:
    changes = {
        name: [before.get(name), after.get(name)]
        for name in after
        if before.get(name) != after.get(name) and name not in PRIVATE_FIELDS
    }
    change = MilestoneChange.objects.create(
        milestone=milestone,
        kind=kind,
        origin=origin,
        changes=changes,
        old_date=before.get("date") or None,
        new_date=milestone.date,
        old_status=before.get("status") or "",
        new_status=milestone.status,
        amending_act=amendment.amending_act if amendment else "",
        source_url=amendment.source_url if amendment else "",
        reason=reason[:300],
        recorded_by=by if getattr(by, "pk", None) else None,
    )
    change_publish_on_commit(change_id=change.pk)
    return change


def obligation_change_announce(*, obligation: Obligation, by, what: str) -> MilestoneChange:
    """Record that an editor changed a duty of a milestone (`what`: "changed", "added",
    "removed"), in the milestone's public change log, and tell the apps that follow the
    catalogue: the workspace re-reads which duties apply to each organisation. Pack loads do
    not announce (a deploy runs `workspace_sync` after loading)."""
    milestone = obligation.milestone
    same = {"date": milestone.date, "status": milestone.status}
    return _announce(
        milestone=milestone, kind=MilestoneChange.Kind.DETAILS,
        before={**same, "duties": ""},
        after={**same, "duties": f"{obligation.article}: {obligation.title} ({what})"},
        origin=MilestoneChange.Origin.ADMIN, by=by, reason=f"A duty was {what}",
    )  # fmt: skip


def _amendments_add(
    *, milestone: Milestone, specs: Sequence[AmendmentSpec], by: AbstractBaseUser | None
) -> Amendment | None:
    amendment = None
    for spec in specs:
        amendment = Amendment(
            milestone=milestone,
            old_date=spec.old_date,
            new_date=spec.new_date,
            amending_act=spec.amending_act.strip(),
            source_url=spec.source_url.strip(),
            effective_on=spec.effective_on,
            confidence=spec.confidence,
            note=spec.note.strip(),
            recorded_by=by if getattr(by, "pk", None) else None,
        )
        amendment.full_clean()
        amendment.save()
    if specs and milestone.original_date is None:
        milestone.original_date = specs[0].old_date
    return amendment


def _set_vocabulary(manager, wanted: Sequence[Role | Scope] | None) -> None:
    if wanted is not None and {x.pk for x in manager.all()} != {x.pk for x in wanted}:
        manager.set(wanted)


@transaction.atomic
def milestone_create(
    *,
    milestone: Milestone,
    roles: Sequence[Role] = (),
    scopes: Sequence[Scope] = (),
    origin: str,
    by: AbstractBaseUser | None = None,
    reason: str = "",
    amendments: Sequence[AmendmentSpec] = (),
) -> MilestoneChange:
    """Add a milestone (unsaved instance) with its roles, scopes and past amendments."""
    if amendments and (problem := _chain_error(amendments[0].old_date, milestone.date, amendments)):
        raise ValidationError({"date": f"The amendments do not fit: {problem}."})
    milestone.original_date = amendments[0].old_date if amendments else None
    milestone.full_clean()
    milestone._change_reason = reason or "Created"
    milestone._history_user = by
    milestone.save()
    milestone.roles.set(roles)
    milestone.scopes.set(scopes)
    last = _amendments_add(milestone=milestone, specs=amendments, by=by)
    return _announce(
        milestone=milestone,
        kind=MilestoneChange.Kind.CREATED,
        before={},
        after={"date": plain(milestone.date), "status": milestone.status},
        origin=origin,
        by=by,
        reason=reason,
        amendment=last,
    )


@transaction.atomic
def milestone_update(
    *,
    milestone: Milestone,
    values: dict,
    roles: Sequence[Role] | None = None,
    scopes: Sequence[Scope] | None = None,
    origin: str,
    by: AbstractBaseUser | None = None,
    reason: str = "",
    amendments: Sequence[AmendmentSpec] = (),
) -> MilestoneChange | None:
    """Change a milestone; the one path for a date, a status or anything followers see.

    `values` may hold every field of a form: they are compared with the row as it is in the
    database (locked), not with what a form started from, so a history revert or a stale
    form is judged by what it really changes. Returns the change announced, if any.
    """
    current = Milestone.objects.select_for_update().get(pk=milestone.pk)
    before = milestone_snapshot(current)
    changed = {
        name: value
        for name, value in values.items()
        if name in EDITABLE_FIELDS and getattr(current, name) != value
    }
    milestone_check_change(milestone=current, values=changed, amendments=amendments)
    for name, value in changed.items():
        setattr(current, name, value)
    last = _amendments_add(milestone=current, specs=amendments, by=by)
    current._change_reason = reason or "Changed: roles or scopes"
    current._history_user = by  # also for the history rows a role or scope change writes
    if changed or amendments:
        current._change_reason = reason or f"Changed: {', '.join(changed)}"
        current.full_clean()
        current.save()
    _set_vocabulary(current.roles, roles)
    _set_vocabulary(current.scopes, scopes)
    after = milestone_snapshot(current)
    announced = [name for name in ANNOUNCED_FIELDS if before.get(name) != after.get(name)]
    milestone.refresh_from_db()  # the caller's instance shows what was saved
    if not announced:
        return None
    if "date" in announced:
        kind = MilestoneChange.Kind.MOVED
    elif "status" in announced:
        kind = MilestoneChange.Kind.STATUS
    else:
        kind = MilestoneChange.Kind.DETAILS
    return _announce(
        milestone=current,
        kind=kind,
        before=before,
        after=after,
        origin=origin,
        by=by,
        reason=reason or f"Changed: {', '.join(announced)}",
        amendment=last,
    )


@transaction.atomic
def milestone_amend(
    *,
    milestone: Milestone,
    new_date: dt.date,
    amending_act: str,
    source_url: str,
    confidence: str,
    effective_on: dt.date | None = None,
    note: str = "",
    recorded_by: AbstractBaseUser | None = None,
) -> Amendment:
    """Move a milestone's date because a later act changed it, keeping the old date on record."""
    current = Milestone.objects.select_for_update().get(pk=milestone.pk)
    if current.kind == Milestone.Kind.RELATIVE:
        raise ValidationError("A relative milestone has no date to amend.")
    if new_date == current.date:
        raise ValidationError({"new_date": "The new date is the date already in force."})
    spec = AmendmentSpec(
        old_date=current.date,
        new_date=new_date,
        amending_act=amending_act,
        source_url=source_url,
        effective_on=effective_on,
        confidence=confidence,
        note=note,
    )
    milestone_update(
        milestone=milestone,
        values={"date": new_date},
        amendments=[spec],
        origin=MilestoneChange.Origin.AMENDMENT,
        by=recorded_by,
        reason=f"Amended by {amending_act.strip()}: {current.date} → {new_date}",
    )
    return milestone.amendments.order_by("-id").first()
