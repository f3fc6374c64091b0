"""Writes to the catalogue: loading packs and recording amendments."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from tracker.catalogue.models import Amendment, Milestone, Regulation, Role, Scope
from tracker.catalogue.packs import Pack, pack_parse


@dataclass
class LoadReport:
    """What a pack load did, for the command's output and for tests."""

    regulation: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    not_in_pack: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def _upsert(model, *, lookup: dict, values: dict, reason: str):
    """Create or update one row, saving only when a value differs.

    Returns (obj, created, old) where `old` maps each changed field to its previous value.
    """
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model(**lookup, **values)
        obj._change_reason = reason
        obj.save()
        return obj, True, {}
    old = {
        name: getattr(obj, name) for name, value in values.items() if getattr(obj, name) != value
    }
    if old:
        for name in old:
            setattr(obj, name, values[name])
        obj._change_reason = f"{reason}: {', '.join(old)}"
        obj.save()
    return obj, False, old


def milestone_changed(*, milestone: Milestone, old_date: dt.date | None, **source) -> None:
    """Tell the reminder engine, in this transaction, that a date or status changed."""
    from tracker.reminders.subscriptions import milestone_changed as reminders_milestone_changed
    from tracker.workspace.notifications import items_flag_moved_milestone

    reminders_milestone_changed(milestone=milestone, old_date=old_date, **source)
    if old_date is not None and old_date != milestone.date:
        items_flag_moved_milestone(milestone=milestone, old_date=old_date)


def _sync_keys(manager, wanted: set[str], by_key: dict) -> bool:
    current = {item.key for item in manager.all()}
    if current == wanted:
        return False
    manager.set([by_key[key] for key in wanted])
    return True


@transaction.atomic
def catalogue_load_pack(*, pack: Pack) -> LoadReport:
    """Write a validated pack; rows that match the pack are left untouched (idempotent)."""
    reason = f"Loaded from {Path(pack.path).name}"
    regulation, _, _ = _upsert(
        Regulation,
        lookup={"key": pack.regulation["key"]},
        values={k: v for k, v in pack.regulation.items() if k != "key"},
        reason=reason,
    )
    roles = {
        key: _upsert(Role, lookup={"key": key}, values={"name": name}, reason=reason)[0]
        for key, name in pack.roles.items()
    }
    scopes = {
        key: _upsert(Scope, lookup={"key": key}, values={"name": name}, reason=reason)[0]
        for key, name in pack.scopes.items()
    }
    report = LoadReport(regulation=regulation.key)
    for spec in pack.milestones:
        values = {k: v for k, v in spec.fields.items() if k != "key"}
        values["regulation_id"] = regulation.id
        milestone, created, old = _upsert(
            Milestone, lookup={"key": spec.key}, values=values, reason=reason
        )
        changed = bool(old)
        changed |= _sync_keys(milestone.roles, set(spec.roles), roles)
        changed |= _sync_keys(milestone.scopes, set(spec.scopes), scopes)
        for amendment in spec.amendments:
            changed |= (
                _upsert(
                    Amendment,
                    lookup={
                        "milestone": milestone,
                        "old_date": amendment.old_date,
                        "new_date": amendment.new_date,
                        "amending_act": amendment.amending_act,
                    },
                    values={
                        "source_url": amendment.source_url,
                        "effective_on": amendment.effective_on,
                        "confidence": amendment.confidence,
                        "note": amendment.note,
                    },
                    reason=reason,
                )[2]
                != {}
            )
        if created or "date" in old or "status" in old:
            milestone_changed(milestone=milestone, old_date=old.get("date", milestone.date))
        if created:
            report.created.append(spec.key)
        elif changed:
            report.updated.append(spec.key)
        else:
            report.unchanged += 1
    in_pack = {spec.key for spec in pack.milestones}
    report.not_in_pack = sorted(set(regulation.milestones.values_list("key", flat=True)) - in_pack)
    return report


def catalogue_load_file(*, path: Path | str) -> LoadReport:
    """Parse and validate the whole file first, then write it in one transaction."""
    return catalogue_load_pack(pack=pack_parse(path=path))


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
    milestone = Milestone.objects.select_for_update().get(pk=milestone.pk)
    if milestone.kind == Milestone.Kind.RELATIVE:
        raise ValidationError("A relative milestone has no date to amend.")
    if new_date == milestone.date:
        raise ValidationError({"new_date": "The new date is the date already in force."})
    amendment = Amendment(
        milestone=milestone,
        old_date=milestone.date,
        new_date=new_date,
        amending_act=amending_act.strip(),
        source_url=source_url.strip(),
        effective_on=effective_on,
        confidence=confidence,
        note=note.strip(),
        recorded_by=recorded_by,
    )
    amendment.full_clean()
    amendment.save()
    if milestone.original_date is None:
        milestone.original_date = milestone.date
    milestone.date = new_date
    milestone._change_reason = (
        f"Amended by {amendment.amending_act}: {amendment.old_date} → {new_date}"
    )
    milestone._history_user = recorded_by
    milestone.save()
    milestone_changed(
        milestone=milestone,
        old_date=amendment.old_date,
        amending_act=amendment.amending_act,
        source_url=amendment.source_url,
    )
    return amendment
