"""Loading packs without undoing editors' work.

A pack load is a three-way merge. For each row, `PackRecord` keeps what the previous load of
the pack said (the base). A field the pack did not change since then is left as the
catalogue has it, whatever an editor did; a field only the pack changed is applied through
the catalogue's services (`milestone_update`, so history, re-planning and notices are the
same as for any edit); a field both changed becomes a `PackConflict` that an editor resolves
in the admin. An unchanged file (same SHA-256 as last loaded) is not read into the catalogue
at all, so starting the product twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from tracker.catalogue.models import (
    Amendment,
    Milestone,
    MilestoneChange,
    Obligation,
    PackConflict,
    PackFile,
    PackRecord,
    Regulation,
    Role,
    Scope,
)
from tracker.catalogue.packs import (
    OBLIGATION_FIELDS,
    AmendmentSpec,
    MilestoneSpec,
    ObligationPack,
    ObligationSpec,
    Pack,
    PackError,
    pack_parse_any,
)
from tracker.catalogue.services import (
    EDITABLE_FIELDS,
    milestone_create,
    milestone_snapshot,
    milestone_update,
    plain,
)

LOADED = "Loaded from"  # the history reason of every write a pack load makes
AMENDMENT_METADATA = ("source_url", "effective_on", "confidence", "note")


@dataclass
class LoadReport:
    """What a pack load did (or, in a dry run, would do)."""

    pack: str
    regulation: str = ""
    file_unchanged: bool = False
    created: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    unchanged: int = 0
    deleted: list[str] = field(default_factory=list)
    not_in_pack: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.applied)


# Values as JSON ---------------------------------------------------------------------------


def _amendment_plain(spec: AmendmentSpec | Amendment) -> dict:
    return {
        "from": plain(spec.old_date),
        "to": plain(spec.new_date),
        "act": spec.amending_act,
        "source_url": spec.source_url,
        "effective": plain(spec.effective_on),
        "confidence": spec.confidence,
        "note": spec.note,
    }


def _amendment_spec(value: dict) -> AmendmentSpec:
    to_date = Milestone._meta.get_field("date").to_python
    return AmendmentSpec(
        old_date=to_date(value["from"]),
        new_date=to_date(value["to"]),
        amending_act=value["act"],
        source_url=value["source_url"],
        effective_on=to_date(value["effective"]),
        confidence=value["confidence"],
        note=value["note"],
    )


def _pack_milestone(spec: MilestoneSpec) -> dict:
    values = {k: plain(v) for k, v in spec.fields.items() if k not in ("key", "original_date")}
    values["roles"] = sorted(spec.roles)
    values["scopes"] = sorted(spec.scopes)
    values["amendments"] = [_amendment_plain(a) for a in spec.amendments]
    return values


def _db_milestone(milestone: Milestone, names) -> dict:
    snapshot = milestone_snapshot(milestone)
    snapshot["amendments"] = [
        _amendment_plain(a) for a in milestone.amendments.order_by("recorded_at", "id")
    ]
    return {name: snapshot.get(name) for name in names}


def _db_fields(obj: models.Model, names) -> dict:
    return {name: plain(getattr(obj, name)) for name in names}


def _legacy_base(obj: models.Model, current: dict) -> dict | None:
    """The base of a row loaded before pack records existed, from its history.

    Untouched since its loads: the catalogue is the base (the pack's changes apply). Touched
    by an editor: the state after its last load, or None (every difference is a conflict).
    """
    history = getattr(obj, "history", None)
    if history is None or not history.exclude(history_change_reason__startswith=LOADED).exists():
        return dict(current)
    last_load = history.filter(history_change_reason__startswith=LOADED).first()
    if last_load is None:
        return None
    base = dict(current)  # roles, scopes and amendments: as they are
    base.update({name: plain(getattr(last_load, name)) for name in current if name in _SCALARS})
    return base


_SCALARS = set(EDITABLE_FIELDS) | {
    "short_name", "title", "reference", "source_url", "summary", "celex", "procedures", "name",
}  # fmt: skip


def _merge(new: dict, current: dict, base: dict | None) -> tuple[dict, list[str], list[str]]:
    """Split what the pack says into: apply (only the pack changed it), kept (only the
    catalogue changed it), conflicts (both did)."""
    apply, kept, conflicts = {}, [], []
    for name, value in new.items():
        if current.get(name) == value:
            continue
        if base is not None and name not in base and current.get(name) in (None, "", []):
            apply[name] = value  # a field the pack states for the first time, empty here
        elif base is not None and name in base and base[name] == value:
            kept.append(name)
        elif base is not None and name in base and base[name] == current.get(name):
            apply[name] = value
        else:
            conflicts.append(name)
    return apply, kept, conflicts


def _last_change(obj: models.Model) -> str:
    history = getattr(obj, "history", None)
    record = history.select_related("history_user").first() if history is not None else None
    if record is None:
        return ""
    who = record.history_user.get_username() if record.history_user else "no user"
    return f"{who}, {record.history_date:%Y-%m-%d %H:%M}: {record.history_change_reason or ''}"


# Applying ---------------------------------------------------------------------------------


def _moving_amendments(milestone: Milestone, target, specs) -> list[AmendmentSpec]:
    """The pack's amendments that move the date in force to `target`.

    The ones the catalogue lacks, if they continue its date; otherwise one amendment from the
    date in force to the pack's, citing the pack's last act (the table stays a chain).
    """
    have = {(a.old_date, a.new_date) for a in milestone.amendments.all()}
    new = [s for s in specs if (s.old_date, s.new_date) not in have]
    if not new:
        return []
    chained = new[0].old_date == milestone.date and all(
        a.new_date == b.old_date for a, b in pairwise(new)
    )
    if chained and new[-1].new_date == target:
        return new
    last = new[-1]
    return [
        AmendmentSpec(
            old_date=milestone.date,
            new_date=target,
            amending_act=last.amending_act,
            source_url=last.source_url,
            effective_on=last.effective_on,
            confidence=last.confidence,
            note=last.note,
        )
    ]


def _amendments_update_metadata(milestone: Milestone, specs, reason: str) -> None:
    by_move = {(a.old_date, a.new_date): a for a in milestone.amendments.all()}
    for spec in specs:
        row = by_move.get((spec.old_date, spec.new_date))
        wanted = {name: getattr(spec, name) for name in AMENDMENT_METADATA}
        if row is not None and any(getattr(row, k) != v for k, v in wanted.items()):
            for name, value in wanted.items():
                setattr(row, name, value)
            row._change_reason = reason
            row.save()


def _milestone_apply(
    *, milestone: Milestone, values: dict, amendments: list[AmendmentSpec], origin, by, reason
) -> None:
    """Apply JSON values (from a pack or a conflict) to a milestone through the service."""
    scalars = {
        name: Milestone._meta.get_field(name).to_python(value)
        for name, value in values.items()
        if name in EDITABLE_FIELDS
    }
    roles = scopes = None
    if "roles" in values:
        roles = list(Role.objects.filter(key__in=values["roles"]))
    if "scopes" in values:
        scopes = list(Scope.objects.filter(key__in=values["scopes"]))
    moving = []
    if "date" in scalars and scalars["date"] != milestone.date:
        moving = _moving_amendments(milestone, scalars["date"], amendments)
    milestone_update(
        milestone=milestone, values=scalars, roles=roles, scopes=scopes, amendments=moving,
        origin=origin, by=by, reason=reason,
    )  # fmt: skip
    if "amendments" in values:
        _amendments_update_metadata(milestone, amendments, reason)


def _conflicts_record(
    *, kind, key, names, new, current, base, pack_name, obj, pack_source, extra=None
) -> None:
    for name in names:
        PackConflict.objects.update_or_create(
            kind=kind, key=key, field=name, status=PackConflict.Status.OPEN,
            defaults={
                "milestone": obj if isinstance(obj, Milestone) else None,
                "pack": pack_name, "pack_value": new[name], "pack_source": pack_source,
                "current_value": current.get(name), "current_source": _last_change(obj),
                "base_value": (base or {}).get(name),
                "pack_extra": (extra or {}) if name == "date" else {},
            },
        )  # fmt: skip


def _record(kind, key, pack_name, new: dict, base: dict | None, conflicts: list[str]) -> None:
    """Remember what the pack said, except where a conflict waits: there the old base stays,
    so the next load still sees the pack's change and the open conflict."""
    values = dict(new)
    for name in conflicts:
        if base is not None and name in base:
            values[name] = base[name]
        else:
            values.pop(name, None)
    PackRecord.objects.update_or_create(
        kind=kind, key=key, defaults={"pack": pack_name, "values": values}
    )


def _load_simple(*, model, kind, key, new: dict, records, report, pack_name, source=""):
    """Regulations, roles and scopes: the same merge, written directly (no followers)."""
    obj = model.objects.filter(key=key).first()
    record = records.get((kind, key))
    if obj is None:
        obj = model(key=key, **new)
        obj._change_reason = f"{LOADED} {pack_name}"
        obj.save()
        _record(kind, key, pack_name, new, None, [])
        return obj
    current = _db_fields(obj, new)
    base = record.values if record else _legacy_base(obj, current)
    apply, kept, conflicts = _merge(new, current, base)
    if apply:
        for name, value in apply.items():
            setattr(obj, name, value)
        obj._change_reason = f"{LOADED} {pack_name}: {', '.join(apply)}"
        obj.save()
        report.applied.append(f"{kind} {key}: {', '.join(apply)}")
    report.kept += [f"{kind} {key}: {name}" for name in kept]
    report.conflicts += [f"{kind} {key}: {name}" for name in conflicts]
    _conflicts_record(
        kind=kind, key=key, names=conflicts, new=new, current=current, base=base,
        pack_name=pack_name, obj=obj, pack_source=source,
    )  # fmt: skip
    _record(kind, key, pack_name, new, base, conflicts)
    return obj


def _load_milestone(*, spec, regulation, vocab, records, report, pack_name) -> None:
    key = spec.key
    new = _pack_milestone(spec)
    milestone = Milestone.objects.filter(key=key).first()
    record = records.get((PackRecord.Kind.MILESTONE, key))
    if milestone is None:
        if record is not None:
            report.deleted.append(key)  # deleted by an editor after an earlier load: stays so
            return
        fields = {k: v for k, v in spec.fields.items() if k not in ("key", "original_date")}
        milestone_create(
            milestone=Milestone(key=key, regulation=regulation, **fields),
            roles=[vocab["roles"][k] for k in spec.roles],
            scopes=[vocab["scopes"][k] for k in spec.scopes],
            amendments=spec.amendments, origin=MilestoneChange.Origin.PACK,
            reason=f"{LOADED} {pack_name}",
        )  # fmt: skip
        _record(PackRecord.Kind.MILESTONE, key, pack_name, new, None, [])
        report.created.append(key)
        return
    current = _db_milestone(milestone, new)
    base = record.values if record else _legacy_base(milestone, current)
    apply, kept, conflicts = _merge(new, current, base)
    if apply:
        reason = f"{LOADED} {pack_name}: {', '.join(apply)}"
        try:
            with transaction.atomic():
                _milestone_apply(
                    milestone=milestone, values=apply, amendments=list(spec.amendments),
                    origin=MilestoneChange.Origin.PACK, by=None, reason=reason,
                )  # fmt: skip
        except ValidationError:
            conflicts += list(apply)  # cannot be applied as it stands: an editor decides
            apply = {}
        else:
            report.applied.append(f"{key}: {', '.join(apply)}")
    if not (apply or kept or conflicts):
        report.unchanged += 1
    report.kept += [f"{key}: {name}" for name in kept]
    report.conflicts += [f"{key}: {name}" for name in conflicts]
    source = spec.amendments[-1].source_url if spec.amendments else spec.fields["source_url"]
    _conflicts_record(
        kind=PackRecord.Kind.MILESTONE, key=key, names=conflicts, new=new, current=current,
        base=base, pack_name=pack_name, obj=milestone, pack_source=source,
        extra={"amendments": new["amendments"]},
    )  # fmt: skip
    _record(PackRecord.Kind.MILESTONE, key, pack_name, new, base, conflicts)


@transaction.atomic
def catalogue_load_pack(*, pack: Pack, dry_run: bool = False) -> LoadReport:
    """Merge a validated pack into the catalogue (see the module docstring)."""
    pack_name = Path(pack.path).name
    report = LoadReport(pack=pack_name, regulation=pack.regulation["key"])
    records = {(r.kind, r.key): r for r in PackRecord.objects.all()}
    regulation = _load_simple(
        model=Regulation, kind=PackRecord.Kind.REGULATION, key=pack.regulation["key"],
        new={k: v for k, v in pack.regulation.items() if k != "key"}, records=records,
        report=report, pack_name=pack_name, source=pack.regulation["source_url"],
    )  # fmt: skip
    vocab = {"roles": {}, "scopes": {}}
    for model, kind, names, bucket in (
        (Role, PackRecord.Kind.ROLE, pack.roles, "roles"),
        (Scope, PackRecord.Kind.SCOPE, pack.scopes, "scopes"),
    ):
        for key, name in names.items():
            vocab[bucket][key] = _load_simple(
                model=model, kind=kind, key=key, new={"name": name}, records=records,
                report=report, pack_name=pack_name,
            )  # fmt: skip
    for spec in pack.milestones:
        _load_milestone(
            spec=spec, regulation=regulation, vocab=vocab, records=records, report=report,
            pack_name=pack_name,
        )  # fmt: skip
    in_pack = {spec.key for spec in pack.milestones}
    report.not_in_pack = sorted(set(regulation.milestones.values_list("key", flat=True)) - in_pack)
    if dry_run:
        transaction.set_rollback(True)  # nothing written, nothing announced
    return report


# Obligations -------------------------------------------------------------------------------

OBLIGATION_VALUES = tuple(name for name in OBLIGATION_FIELDS if name != "key")
REASON_LENGTH = 100  # the history's change-reason column


def _reason(text: str) -> str:
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"


def _json(value):
    """A value as JSON, lists kept in their order (the order roles are read in)."""
    return value.isoformat() if isinstance(value, dt.date) else value


def _pack_obligation(spec: ObligationSpec) -> dict:
    return {name: _json(spec.fields[name]) for name in OBLIGATION_VALUES}


def _db_obligation(obligation: Obligation) -> dict:
    values = {name: _json(getattr(obligation, name)) for name in OBLIGATION_VALUES}
    values["milestone"] = obligation.milestone.key
    return values


def _obligation_base(obligation: Obligation, current: dict) -> dict | None:
    """The base of an obligation no load recorded: the catalogue, if only loads ever wrote it;
    None (every difference is a conflict) if an editor wrote it."""
    by_editor = obligation.history.exclude(history_change_reason__startswith=LOADED).exists()
    return None if by_editor else dict(current)


def _obligation_set(obligation: Obligation, values: dict) -> None:
    """JSON values (from a pack or a conflict) onto an obligation, not saved."""
    for name, value in values.items():
        if name == "milestone":
            milestone = Milestone.objects.filter(key=value).first()
            if milestone is None:
                raise ValidationError({"milestone": f"Unknown milestone “{value}”."})
            obligation.milestone = milestone
        elif name == "verified_on":
            obligation.verified_on = Obligation._meta.get_field(name).to_python(value)
        else:
            setattr(obligation, name, value)


def obligation_save(*, obligation: Obligation, by, reason: str) -> Obligation:
    """Validate an obligation with the catalogue's one rule (`Obligation.clean`, the same as
    the admin's) and save it with a history entry saying who and why."""
    obligation.full_clean()
    obligation._change_reason = _reason(reason)
    obligation._history_user = by
    obligation.save()
    return obligation


def _load_obligation(*, spec, milestones, existing, records, report, pack_name) -> None:
    key = spec.key
    new = _pack_obligation(spec)
    obligation = existing.get(key)
    record = records.get((PackRecord.Kind.OBLIGATION, key))
    if obligation is None:
        if record is not None:
            report.deleted.append(key)  # deleted by an editor after an earlier load: stays so
            return
        fields = {k: v for k, v in spec.fields.items() if k != "milestone"}
        obligation = Obligation(milestone=milestones[spec.fields["milestone"]], **fields)
        obligation_save(obligation=obligation, by=None, reason=f"{LOADED} {pack_name}")
        _record(PackRecord.Kind.OBLIGATION, key, pack_name, new, None, [])
        report.created.append(key)
        return
    current = _db_obligation(obligation)
    base = record.values if record else _obligation_base(obligation, current)
    apply, kept, conflicts = _merge(new, current, base)
    if apply:
        try:
            with transaction.atomic():
                _obligation_set(obligation, apply)
                obligation_save(
                    obligation=obligation, by=None,
                    reason=f"{LOADED} {pack_name}: {', '.join(apply)}",
                )  # fmt: skip
        except ValidationError:
            conflicts += list(apply)  # cannot be applied as it stands: an editor decides
            apply = {}
        else:
            report.applied.append(f"{key}: {', '.join(apply)}")
    if not (apply or kept or conflicts):
        report.unchanged += 1
    report.kept += [f"{key}: {name}" for name in kept]
    report.conflicts += [f"{key}: {name}" for name in conflicts]
    _conflicts_record(
        kind=PackRecord.Kind.OBLIGATION, key=key, names=conflicts, new=new, current=current,
        base=base, pack_name=pack_name, obj=obligation, pack_source=spec.fields["source_url"],
    )  # fmt: skip
    _record(PackRecord.Kind.OBLIGATION, key, pack_name, new, base, conflicts)


def _obligation_milestones(pack: ObligationPack) -> tuple[Regulation, dict[str, Milestone]]:
    """The pack's regulation and the milestones its entries name, or PackError naming every
    entry whose milestone is not in the catalogue (nothing is written then)."""
    regulation = Regulation.objects.filter(key=pack.regulation).first()
    if regulation is None:
        raise PackError(
            pack.path,
            [f"regulation: {pack.regulation!r} is not in the catalogue; load its pack first"],
        )
    wanted = {spec.fields["milestone"] for spec in pack.obligations}
    milestones = {m.key: m for m in Milestone.objects.filter(key__in=wanted)}
    problems = []
    for spec in pack.obligations:
        milestone = milestones.get(spec.fields["milestone"])
        where = f"line {spec.line or '?'}, obligation {spec.key!r}: milestone"
        if milestone is None:
            problems.append(f"{where}: unknown milestone {spec.fields['milestone']!r}")
        elif milestone.regulation_id != regulation.pk:
            problems.append(f"{where}: {milestone.key!r} is not a milestone of {pack.regulation!r}")
    if problems:
        raise PackError(pack.path, problems)
    return regulation, milestones


@transaction.atomic
def catalogue_load_obligations(*, pack: ObligationPack, dry_run: bool = False) -> LoadReport:
    """Merge a validated obligations pack into the catalogue, after its milestones.

    The same three-way merge as milestones (see the module docstring). An obligation the pack
    no longer lists is reported in `not_in_pack`, never deleted: tracked duties may hang on it.
    """
    pack_name = Path(pack.path).name
    report = LoadReport(pack=pack_name, regulation=pack.regulation)
    regulation, milestones = _obligation_milestones(pack)
    records = {
        (r.kind, r.key): r for r in PackRecord.objects.filter(kind=PackRecord.Kind.OBLIGATION)
    }
    keys = [spec.key for spec in pack.obligations]
    existing = Obligation.objects.select_related("milestone").in_bulk(keys, field_name="key")
    for spec in pack.obligations:
        try:
            _load_obligation(
                spec=spec, milestones=milestones, existing=existing, records=records,
                report=report, pack_name=pack_name,
            )  # fmt: skip
        except ValidationError as exc:  # a new entry the model refuses: the file is refused
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
            raise PackError(
                pack.path,
                [
                    f"line {spec.line or '?'}, obligation {spec.key!r}: {name}: {message}"
                    for name, messages in errors.items()
                    for message in messages
                ],
            ) from exc
    from_other_packs = {key for (_, key), r in records.items() if r.pack != pack_name}
    listed = set(
        Obligation.objects.filter(milestone__regulation=regulation).values_list("key", flat=True)
    )
    report.not_in_pack = sorted(listed - set(keys) - from_other_packs)
    if dry_run:
        transaction.set_rollback(True)  # nothing written
    return report


def catalogue_load_file(
    *, path: Path | str, dry_run: bool = False, force: bool = False
) -> LoadReport:
    """Load a pack file (milestones or obligations) unless it is byte for byte the one loaded
    last time.

    The whole file is parsed and validated first (PackError names every problem); then it is
    merged in one transaction.
    """
    path = Path(path)
    name = path.name
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        digest = ""  # pack_parse reports the unreadable file
    if not force and digest and PackFile.objects.filter(name=name, sha256=digest).exists():
        return LoadReport(pack=name, file_unchanged=True)
    with transaction.atomic():
        pack = pack_parse_any(path=path)
        if isinstance(pack, ObligationPack):
            report = catalogue_load_obligations(pack=pack, dry_run=dry_run)
        else:
            report = catalogue_load_pack(pack=pack, dry_run=dry_run)
        if not dry_run:
            PackFile.objects.update_or_create(name=name, defaults={"sha256": digest})
    return report


@transaction.atomic
def pack_conflict_resolve(*, conflict: PackConflict, take: bool, by) -> None:
    """Settle a conflict: keep the catalogue's value, or take the pack's (applied once).

    Either way the pack's value becomes the base, so the next load does not ask again.
    """
    conflict = PackConflict.objects.select_for_update().get(pk=conflict.pk)
    if conflict.status != PackConflict.Status.OPEN:
        return
    if take:
        reason = f"Took the pack's {conflict.field} from {conflict.pack}"
        values = {conflict.field: conflict.pack_value}
        if conflict.kind == PackRecord.Kind.MILESTONE:
            milestone = Milestone.objects.get(key=conflict.key)
            amendments = [_amendment_spec(a) for a in conflict.pack_extra.get("amendments", [])]
            if conflict.field == "amendments":
                amendments = [_amendment_spec(a) for a in conflict.pack_value]
            _milestone_apply(
                milestone=milestone, values=values, amendments=amendments,
                origin=MilestoneChange.Origin.CONFLICT, by=by, reason=reason,
            )  # fmt: skip
        elif conflict.kind == PackRecord.Kind.OBLIGATION:
            obligation = Obligation.objects.filter(key=conflict.key).first()
            if obligation is None:
                raise ValidationError(
                    f"The obligation {conflict.key} was deleted from the catalogue: "
                    "keep the catalogue's value to close this conflict."
                )
            _obligation_set(obligation, values)
            obligation_save(obligation=obligation, by=by, reason=reason)
        else:
            model = {"regulation": Regulation, "role": Role, "scope": Scope}[conflict.kind]
            obj = model.objects.get(key=conflict.key)
            setattr(obj, conflict.field, conflict.pack_value)
            obj._change_reason = reason
            obj._history_user = by
            obj.save()
    record, _ = PackRecord.objects.get_or_create(
        kind=conflict.kind, key=conflict.key, defaults={"pack": conflict.pack, "values": {}}
    )
    record.values[conflict.field] = conflict.pack_value
    record.save(update_fields=["values", "loaded_at"])
    conflict.status = PackConflict.Status.TAKEN if take else PackConflict.Status.KEPT
    conflict.resolved_at, conflict.resolved_by = timezone.now(), by
    conflict.save(update_fields=["status", "resolved_at", "resolved_by"])
