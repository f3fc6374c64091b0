"""Writes for the workspace: organisations, members, the inventory, tracking and incidents."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from tracker.catalogue.events import catalogue_version
from tracker.catalogue.models import LIVE_STATUSES, Milestone, Obligation
from tracker.workspace import applicability, duties, item_notices
from tracker.workspace.checker import catalogue_dates, catalogue_milestones, catalogue_obligations
from tracker.workspace.evidence import evidence_files_drop_on_commit
from tracker.workspace.facts import facts_from_organisation, system_fields
from tracker.workspace.models import AISystem, Incident, Membership, Organisation, TrackedItem
from tracker.workspace.notifications import (
    incident_notify_assigned,
    incident_notify_recorded,
    incident_reminders_withdraw,
    owner_reminders_sync,
)
from tracker.workspace.slugs import slug_is_reserved

log = logging.getLogger(__name__)

# Where an item starts (which one depends on its date); anything else is someone's work.
INITIAL_STATUSES = (TrackedItem.Status.NOT_STARTED, TrackedItem.Status.TO_CONFIRM)
# The work a duty item takes over from the milestone item it replaces.
WORK_FIELDS = ("status", "not_applicable_reason", "owner", "target_date", "notes")
CARRIED_OVER = "Started with the work done on the milestone, tracked as a whole until then."
SYNCED_FIELDS = ["reasons", "applies", "stopped_at", "stopped_reason", "kept_at", "kept_by",
                 "system_name"]  # fmt: skip


@transaction.atomic
def organisation_create(*, name: str, owner: AbstractBaseUser) -> Organisation:
    """A new organisation with its creator as owner; the slug is made unique."""
    base = slugify(name)[:50] or "organisation"
    if slug_is_reserved(base):  # would hide a route under that address (/w/invitations/...)
        base = f"{base}-co"
    slug, n = base, 1
    while Organisation.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    organisation = Organisation.objects.create(name=name.strip(), slug=slug)
    Membership.objects.create(organisation=organisation, user=owner, role=Membership.Role.OWNER)
    return organisation


@dataclass
class _Wanted:
    """An item the rules select now: its milestone, its duty and system (if any), why."""

    milestone: Milestone
    obligation: Obligation | None
    system: AISystem | None
    reasons: list[dict]


def _reason_rows(found: applicability.Applicability, system_key: str | None) -> list[dict]:
    """The reasons of a milestone as stored on an item: for a duty, those naming its system
    (a company duty: the company-level ones); for a milestone tracked as a whole, all."""
    reasons = list(found.reasons)
    if system_key is not None:
        reasons = (
            [r for r in reasons if r.system_key == system_key]
            or [r for r in reasons if not r.system_key]
            or reasons
        )
    return [
        {"rule": r.rule, "article": r.article, "text": r.explanation, "system": r.system_key}
        for r in reasons
    ]


def _identity(item: TrackedItem) -> tuple:
    """What makes an item that item: a duty of a removed system is no live identity."""
    if item.system_removed:
        return ("removed", item.pk)
    return (item.milestone_id, item.system_id, item.obligation_id)


REASON_MAX = 100  # the history's change reason column


def _moved_words(milestone: Milestone) -> str:
    """The history's note on a duty that moved to another milestone (at most 100 characters)."""
    room = REASON_MAX - len("Now tracked against “”")
    title = milestone.title if len(milestone.title) <= room else milestone.title[: room - 1] + "…"
    return f"Now tracked against “{title}”"


def _fresher(item: TrackedItem, other: TrackedItem) -> bool:
    """Which of two items of one duty to move: the one that applies, else the latest stopped."""

    def rank(i: TrackedItem) -> tuple:
        return (i.applies, i.stopped_at.timestamp() if i.stopped_at else 0, i.pk)

    return rank(item) > rank(other)


def _has_work(item: TrackedItem) -> bool:
    """Someone worked on it: a status beyond where items start, an owner, a target date,
    notes, or evidence."""
    return bool(
        item.status not in INITIAL_STATUSES
        or item.owner_id is not None
        or item.target_date is not None
        or item.notes.strip()
        or item.evidence.exists()
    )


def _names(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def duty_by_duty_words(duties: list[_Wanted]) -> str:
    """Why a milestone tracked as a whole stopped: its duties are tracked one by one now."""
    systems = sorted({f"“{w.system.name}”" for w in duties if w.system is not None})
    if any(w.system is None for w in duties):
        systems.append("the whole company")
    n = len(duties)
    return f"Now tracked duty by duty ({n} dut{'y' if n == 1 else 'ies'} for {_names(systems)})."


def _notice_items(stopped: list[TrackedItem]) -> list[TrackedItem]:
    """One notice per owner for the duties of one milestone and system that stop together:
    the first item carries the others (`also_stopped`, listed in the email)."""
    firsts: dict[tuple, TrackedItem] = {}
    out = []
    for item in stopped:
        if not item.is_duty:
            out.append(item)
            continue
        group = (item.owner_id, item.milestone_id, item.system_id, item.system_name)
        if group in firsts:
            firsts[group].also_stopped.append(item)
            continue
        item.also_stopped = []
        firsts[group] = item
        out.append(item)
    return out


@transaction.atomic
def tracking_sync(*, organisation: Organisation, cause: str = "") -> dict[str, int]:
    """Bring the tracked items in line with what applies now, by the catalogue's dates now.

    Each duty the catalogue lists for an applicable milestone is tracked per AI system it
    applies to (a company duty once: duties.py decides); a milestone with no duty that applies
    is tracked as a whole. New items start as "In force: confirm you comply" when their date
    had passed before the organisation was created (nobody here could have met it), "Not
    started" otherwise. Nothing is deleted: an item that no longer applies records why
    (`cause`, what changed, in words: "the system “CV screener” is no longer high-risk") and
    when, keeps its status, notes, evidence, owner and history, and its owner is emailed once;
    if it applies again it comes back as it was. A duty the rules now track against another
    milestone (its Art. 111 substitute for that system, or back) moves there with its work. A
    milestone tracked as a whole that is now tracked duty by duty hands its work (status,
    owner, target date, notes, evidence) to each of its new duty items and stops, saying so.
    Reasons are refreshed. Run after every profile or inventory edit, by the workspace's
    consumer after every catalogue change, and by `manage.py workspace_sync`; a second run
    changes nothing.
    """
    Organisation.objects.select_for_update().filter(pk=organisation.pk).first()
    systems = list(organisation.systems.all())
    company = facts_from_organisation(organisation, systems)
    milestones = catalogue_milestones()
    try:
        applicable = applicability.applicable_milestones(company, catalogue_dates(milestones))
    except applicability.CatalogueIncomplete:
        return {"added": 0, "updated": 0, "retired": 0}  # no AI Act pack loaded: nothing to say
    found = {a.milestone_key: a for a in applicable}
    # Only live milestones are tracked: a withdrawn or superseded one retires its items.
    live = {key: m for key, m in milestones.items() if key in found and m.status in LIVE_STATUSES}
    by_key = {str(system.pk): system for system in systems}
    wanted: dict[tuple, _Wanted] = {}
    for duty in duties.duties_matching(company, applicable, catalogue_obligations()):
        milestone = live.get(duty.milestone_key)
        if milestone is None:
            continue  # withdrawn, or not in this catalogue
        system = by_key.get(duty.system_key)
        reasons = _reason_rows(found[duty.milestone_key], duty.system_key)
        identity = (milestone.pk, system.pk if system else None, duty.obligation.pk)
        wanted[identity] = _Wanted(milestone, duty.obligation, system, reasons)
    by_duty: dict[int, list[_Wanted]] = {}
    for want in wanted.values():
        by_duty.setdefault(want.milestone.pk, []).append(want)
    for key, milestone in live.items():
        if milestone.pk not in by_duty:
            wanted[(milestone.pk, None, None)] = _Wanted(
                milestone, None, None, _reason_rows(found[key], None)
            )
    existing = {
        _identity(item): item
        for item in organisation.items.select_related(
            "milestone", "owner", "organisation", "obligation"
        )
    }
    # Milestones tracked as a whole until now, tracked duty by duty from this run on.
    handing_over = {
        item.milestone_id: item
        for item in existing.values()
        if not item.is_duty and item.applies and item.milestone_id in by_duty
    }
    work = {pk: item for pk, item in handing_over.items() if _has_work(item)}
    founded = timezone.localdate(organisation.created_at)
    now = timezone.now()
    counts = {"added": 0, "updated": 0, "retired": 0}
    created, changed, stopped, restored, handed = [], [], [], [], []
    # A system's duty the rules now track against another milestone (its Art. 111 substitute,
    # or back): the same item moves there, with its work, rather than starting again.
    movable: dict[tuple, TrackedItem] = {}
    for identity, item in existing.items():
        if item.is_duty and not item.system_removed and identity not in wanted:
            pair = (item.system_id, item.obligation_id)
            if pair not in movable or _fresher(item, movable[pair]):
                movable[pair] = item
    moved: list[TrackedItem] = []
    for identity, want in wanted.items():
        item = existing.get(identity)
        name = want.system.name if want.system is not None else ""
        if item is None and want.system is not None:
            item = movable.pop((want.system.pk, want.obligation.pk), None)
            if item is not None:
                if not item.applies:
                    item.stopped_at, item.stopped_reason = None, ""
                    item.kept_at, item.kept_by = None, None
                    restored.append(item)
                item.milestone, item.reasons, item.applies = want.milestone, want.reasons, True
                item.system_name = name
                moved.append(item)
                continue
        if item is None:
            date = want.milestone.date
            in_force = date is not None and date <= founded
            status = TrackedItem.Status.TO_CONFIRM if in_force else TrackedItem.Status.NOT_STARTED
            item = TrackedItem(
                organisation=organisation, milestone=want.milestone, obligation=want.obligation,
                system=want.system, system_name=name, reasons=want.reasons, status=status,
            )  # fmt: skip
            source = work.get(want.milestone.pk) if want.obligation is not None else None
            if source is not None:
                for field in WORK_FIELDS:
                    setattr(item, field, getattr(source, field))
                item.carried_over = True
            created.append(item)
        elif item.reasons != want.reasons or not item.applies or item.system_name != name:
            if not item.applies:  # back, as it was: only the record of its absence goes
                item.stopped_at, item.stopped_reason = None, ""
                item.kept_at, item.kept_by = None, None
                restored.append(item)
            item.reasons, item.applies, item.system_name = want.reasons, True, name
            changed.append(item)
    moved_ids = {item.pk for item in moved}
    for identity, item in existing.items():
        if identity in wanted or not item.applies or item.pk in moved_ids:
            continue
        item.applies, item.stopped_at = False, now
        if item.milestone_id in handing_over and handing_over[item.milestone_id] is item:
            item.stopped_reason = duty_by_duty_words(by_duty[item.milestone_id])
            handed.append(item)
        else:
            key = item.milestone.key
            item.stopped_reason = item_notices.stop_reason(
                milestone=item.milestone, selected=key in found and key not in live, cause=cause
            )
            stopped.append(item)
    carried = [item for item in created if getattr(item, "carried_over", False)]
    fresh = [item for item in created if not getattr(item, "carried_over", False)]
    if fresh:
        bulk_create_with_history(fresh, TrackedItem, default_date=now)
    if carried:
        bulk_create_with_history(carried, TrackedItem, default_date=now,
                                 default_change_reason=CARRIED_OVER)  # fmt: skip
        _evidence_hand_over(work, carried)
    if changed:
        bulk_update_with_history(changed, TrackedItem, fields=SYNCED_FIELDS, default_date=now)
    for milestone_id in {item.milestone_id for item in moved}:
        group = [item for item in moved if item.milestone_id == milestone_id]
        reason = _moved_words(group[0].milestone)
        bulk_update_with_history(group, TrackedItem, fields=["milestone", *SYNCED_FIELDS],
                                 default_date=now, default_change_reason=reason)  # fmt: skip
    if stopped or handed:
        bulk_update_with_history([*stopped, *handed], TrackedItem, default_date=now,
                                 fields=["applies", "stopped_at", "stopped_reason"])  # fmt: skip
    counts.update(added=len(created), updated=len(changed) + len(moved),
                  retired=len(stopped) + len(handed))  # fmt: skip
    Organisation.objects.filter(pk=organisation.pk).update(catalogue_version=catalogue_version())
    item_notices.item_stopped_withdraw(items=restored)
    item_notices.item_stopped_notices(items=_notice_items(stopped), now=now)
    touched = [*stopped, *restored, *handed, *moved, *(i for i in created if i.owner_id)]
    for owner in {item.owner for item in touched} - {None}:
        owner_reminders_sync(organisation=organisation, user=owner)
    return counts


def _evidence_hand_over(work: dict[int, TrackedItem], carried: list[TrackedItem]) -> None:
    """The evidence pieces that covered a milestone tracked as a whole cover each of the duty
    items that take over its work (kept in the pieces' history)."""
    for milestone_id, source in work.items():
        targets = [i for i in carried if i.milestone_id == milestone_id]
        if not targets:
            continue
        for piece in source.evidence.all():
            piece.covers.add(*targets)


SYNC_ERROR = "Jalon could not bring the tracked obligations up to date"


def _sync_error_notes(notes: list, error: str | None, today: dt.date) -> list:
    """The review notes without the last sync failure, and with this one if any."""
    kept = [n for n in notes if not (isinstance(n, str) and n.startswith(SYNC_ERROR))]
    if error is not None:
        kept.append(
            f"{SYNC_ERROR} on {today.day} {today:%B %Y}: {error}. Nothing was changed; it is "
            "tried again at the next sync."
        )
    return kept


def tracking_sync_every(*, slugs: list[str] | None = None) -> dict:
    """`tracking_sync` for every organisation (or those of `slugs`), each on its own: one that
    fails is rolled back alone, its error logged and put on its review notes (the admin and
    its owners see it) until a later run succeeds. Running it twice changes nothing."""
    organisations = Organisation.objects.order_by("pk")
    if slugs:
        organisations = organisations.filter(slug__in=slugs)
    counts = {"organisations": 0, "added": 0, "updated": 0, "retired": 0}
    errors = []
    today = timezone.localdate()
    for organisation in organisations.iterator(chunk_size=200):
        error = None
        try:
            with transaction.atomic():
                result = tracking_sync(organisation=organisation)
        except Exception as exc:  # recorded; the other organisations go on
            log.exception("Tracking sync failed for %s", organisation.slug)
            error = f"{type(exc).__name__}: {exc}"[:300]
            errors.append({"organisation": organisation.slug, "error": error})
        else:
            counts["organisations"] += 1
            for name, value in result.items():
                counts[name] += value
        notes = organisation.review_notes if isinstance(organisation.review_notes, list) else []
        new_notes = _sync_error_notes(notes, error, today)
        if new_notes != notes:
            Organisation.objects.filter(pk=organisation.pk).update(review_notes=new_notes)
    return {**counts, "errors": errors}


@transaction.atomic
def system_save(*, system: AISystem, by: AbstractBaseUser | None = None) -> AISystem:
    """Create or change an AI system, then recompute what applies (an item it makes stop
    applying says what changed about the system)."""
    # As saved: a ModelForm has already put the new values on the instance.
    before = AISystem.objects.filter(pk=system.pk).first() if system.pk else None
    system.full_clean()
    if by is not None:
        system._history_user = by
    system.save()
    cause = item_notices.system_change_words(before=before, after=system)
    tracking_sync(organisation=system.organisation, cause=cause)
    return system


@transaction.atomic
def system_delete(*, system: AISystem, by: AbstractBaseUser | None = None) -> None:
    """Remove an AI system (one with incidents is protected), then recompute what applies:
    its items stay, under "No longer applies", saying it was removed."""
    organisation, cause = system.organisation, item_notices.system_removed_words(system=system)
    if by is not None:
        system._history_user = by
    system.delete()
    tracking_sync(organisation=organisation, cause=cause)


@transaction.atomic
def organisation_set_facts(
    *, organisation: Organisation, established_in_eu: bool, public_body: bool,
    provides_public_services: bool,
) -> None:  # fmt: skip
    """Record who the company is under the AI Act, then recompute what applies."""
    before = (
        Organisation.objects.filter(pk=organisation.pk).values(*item_notices.COMPANY_FACTS).first()
        or {}
    )
    organisation.established_in_eu = established_in_eu
    organisation.public_body = public_body
    organisation.provides_public_services = provides_public_services
    organisation.save(
        update_fields=["established_in_eu", "public_body", "provides_public_services"]
    )
    cause = item_notices.company_change_words(before=before, after=organisation)
    tracking_sync(organisation=organisation, cause=cause)


@transaction.atomic
def organisation_delete(*, organisation: Organisation, by: AbstractBaseUser | None) -> None:
    """Delete an organisation and all it holds (an admin's act); its stored evidence files go
    once the deletion has committed, so none is left behind in the store."""
    evidence_files_drop_on_commit(organisation=organisation)
    organisation._history_user = by
    organisation.delete()


def organisation_review_dismiss(*, organisation: Organisation) -> None:
    """The owners have read what changed in how Jalon reads their facts."""
    Organisation.objects.filter(pk=organisation.pk).update(review_notes=[])


ITEM_FIELDS = ("status", "not_applicable_reason", "owner", "target_date", "notes")


@transaction.atomic
def item_update(*, item: TrackedItem, by: AbstractBaseUser | None, **changes) -> TrackedItem:
    """Change an item's status, owner, target date, notes or evidence; kept in its history.

    The owner must be a member. Saving what is already there writes nothing (no empty line in
    the history). The owner's reminders follow: a new owner starts getting them, a done item
    stops them.
    """
    unknown = set(changes) - set(ITEM_FIELDS)
    if unknown:
        raise TypeError(f"item_update cannot change {sorted(unknown)}")
    # As saved: a ModelForm has already put the new values on the instance.
    saved = TrackedItem.objects.get(pk=item.pk)
    for name, value in changes.items():
        setattr(item, name, value)
    previous_owner_id, owner_id = saved.owner_id, item.owner_id
    member = Membership.objects.filter(organisation_id=item.organisation_id, user_id=owner_id)
    if owner_id not in (None, previous_owner_id) and not member.exists():
        raise ValidationError({"owner": "The owner must be a member of the organisation."})
    attnames = [TrackedItem._meta.get_field(name).attname for name in ITEM_FIELDS]
    if not item.changed_in_catalogue and all(
        getattr(saved, a) == getattr(item, a) for a in attnames
    ):
        return item
    item.changed_in_catalogue = False  # whoever edits it has seen the current date
    item._history_user = by
    item.full_clean()
    item.save()
    for user_id in {previous_owner_id, owner_id} - {None}:
        owner_reminders_sync(organisation=item.organisation, user=_user(user_id, item))
    return item


def _user(user_id: int, item: TrackedItem):
    if item.owner_id == user_id and item.owner is not None:
        return item.owner
    return get_user_model().objects.get(pk=user_id)


@transaction.atomic
def item_keep_tracking(*, item: TrackedItem, by: AbstractBaseUser, keep: bool) -> TrackedItem:
    """Keep tracking an item the rules no longer select (on purpose: it returns to the
    timeline with a note and its owner's reminders), or stop keeping it."""
    if item.applies:
        raise ValidationError("It applies: there is nothing to keep.")
    if keep == (item.kept_at is not None):
        return item
    item.kept_at, item.kept_by = (timezone.now(), by) if keep else (None, None)
    item._history_user = by
    item.save(update_fields=["kept_at", "kept_by"])
    if item.owner is not None:
        owner_reminders_sync(organisation=item.organisation, user=item.owner)
    return item


def _incident_kinds(kinds) -> list[str]:
    """The kinds once each, in the order the model lists them (a stable history)."""
    order = list(Incident.Kind.values)
    return sorted(set(kinds), key=lambda kind: order.index(kind) if kind in order else len(order))


@transaction.atomic
def incident_record(
    *, organisation: Organisation, system: AISystem, kinds: list[str], member_state: str,
    region: str, aware_at: dt.datetime, description: str, owner: AbstractBaseUser | None,
    by: AbstractBaseUser | None = None,
) -> Incident:  # fmt: skip
    """Record a serious incident; its clock starts at `aware_at` (never in the future, never
    more than five years back). Its owner (a member; required) and the organisation's owners
    are emailed at once, after commit."""
    incident = Incident(
        organisation=organisation, system=system, kinds=_incident_kinds(kinds),
        member_state=member_state, region=region, aware_at=aware_at,
        description=description.strip(), owner=owner,
    )  # fmt: skip
    if by is not None:
        incident._history_user = by
    incident.full_clean()
    incident.save()
    incident_notify_recorded(incident=incident, by=by)
    return incident


@transaction.atomic
def incident_update(
    *, incident: Incident, by: AbstractBaseUser | None, kinds: list[str], member_state: str,
    region: str, aware_at: dt.datetime, description: str, owner: AbstractBaseUser | None,
) -> Incident:  # fmt: skip
    """Correct an incident: where, what, when, who. Every change is kept in its history.

    A new owner is told at once (unless they made the change themselves).
    """
    # As saved (a ModelForm has already put the new values on the instance).
    previous_owner_id = (
        Incident.objects.filter(pk=incident.pk).values_list("owner_id", flat=True).first()
    )
    incident.kinds = _incident_kinds(kinds)
    incident.member_state, incident.region = member_state, region
    incident.aware_at, incident.description = aware_at, description.strip()
    incident.owner = owner
    if by is not None:
        incident._history_user = by
    incident.full_clean()
    incident.save()
    if owner is not None and owner.pk != previous_owner_id and owner.pk != getattr(by, "pk", None):
        incident_notify_assigned(incident=incident, by=by)
    return incident


@transaction.atomic
def incident_mark_reported(*, incident: Incident, by: AbstractBaseUser | None = None) -> bool:
    """Mark it reported (once: a second click changes nothing); kept in its history, which
    stops its daily reminders. True when this call marked it."""
    locked = Incident.objects.select_for_update().filter(pk=incident.pk, reported_at=None).first()
    if locked is None:
        return False
    locked.reported_at = timezone.now()
    if by is not None:
        locked._history_user = by
    locked.save(update_fields=["reported_at"])
    incident_reminders_withdraw(incident=locked)
    return True


@transaction.atomic
def organisation_import(
    *, name: str, owner: AbstractBaseUser, company: applicability.CompanyFacts
) -> Organisation:
    """A new organisation owned by `owner`, with the checker's company facts and systems, and
    the items they make apply: all or nothing."""
    organisation = organisation_create(name=name, owner=owner)
    organisation_set_facts(
        organisation=organisation,
        established_in_eu=company.established_in_eu,
        public_body=company.public_body,
        provides_public_services=company.provides_public_services,
    )
    for facts in company.systems:
        system_save(system=AISystem(organisation=organisation, **system_fields(facts)))
    return organisation
