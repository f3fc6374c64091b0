"""Writes for the workspace: organisations, members, the inventory, tracking and incidents."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from tracker.catalogue.events import catalogue_version
from tracker.catalogue.models import LIVE_STATUSES
from tracker.workspace import applicability, item_notices
from tracker.workspace.checker import catalogue_dates, catalogue_milestones
from tracker.workspace.facts import facts_from_organisation, system_fields
from tracker.workspace.models import AISystem, Incident, Membership, Organisation, TrackedItem
from tracker.workspace.notifications import (
    incident_notify_assigned,
    incident_notify_recorded,
    incident_reminders_withdraw,
    owner_reminders_sync,
)
from tracker.workspace.slugs import slug_is_reserved


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


@transaction.atomic
def tracking_sync(*, organisation: Organisation, cause: str = "") -> dict[str, int]:
    """Bring the tracked items in line with what applies now, by the catalogue's dates now.

    New obligations get an item: "In force: confirm you comply" when its date had passed
    before the organisation was created (nobody here could have met it), "Not started"
    otherwise. Nothing is deleted: an item that no longer applies records why (`cause`, what
    changed, in words: "the system “CV screener” is no longer high-risk") and when, keeps its
    status, notes, evidence, owner and history, and its owner is emailed once; if it applies
    again it comes back as it was. Reasons are refreshed. Run after every profile or inventory
    edit, and by the workspace's consumer after every catalogue change.
    """
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
    existing = {
        item.milestone.key: item
        for item in organisation.items.select_related("milestone", "owner", "organisation")
    }
    founded = timezone.localdate(organisation.created_at)
    now = timezone.now()
    counts = {"added": 0, "updated": 0, "retired": 0}
    stopped, restored = [], []
    for key, result in found.items():
        if key not in live:
            continue  # a rule names a milestone this catalogue does not have (yet)
        reasons = [
            {"rule": r.rule, "article": r.article, "text": r.explanation, "system": r.system_key}
            for r in result.reasons
        ]
        item = existing.get(key)
        if item is None:
            date = live[key].date
            in_force = date is not None and date <= founded
            status = TrackedItem.Status.TO_CONFIRM if in_force else TrackedItem.Status.NOT_STARTED
            TrackedItem.objects.create(
                organisation=organisation, milestone=live[key], reasons=reasons, status=status
            )
            counts["added"] += 1
        elif item.reasons != reasons or not item.applies:
            fields = ["reasons", "applies"]
            if not item.applies:  # back, as it was: only the record of its absence goes
                item.stopped_at, item.stopped_reason = None, ""
                item.kept_at, item.kept_by = None, None
                fields += ["stopped_at", "stopped_reason", "kept_at", "kept_by"]
                restored.append(item)
            item.reasons, item.applies = reasons, True
            item.save(update_fields=fields)
            counts["updated"] += 1
    for key, item in existing.items():
        if key not in live and item.applies:
            item.applies, item.stopped_at = False, now
            item.stopped_reason = item_notices.stop_reason(
                milestone=item.milestone, selected=key in found, cause=cause
            )
            item.save(update_fields=["applies", "stopped_at", "stopped_reason"])
            stopped.append(item)
            counts["retired"] += 1
    Organisation.objects.filter(pk=organisation.pk).update(catalogue_version=catalogue_version())
    item_notices.item_stopped_withdraw(items=restored)
    item_notices.item_stopped_notices(items=stopped, now=now)
    for owner in {item.owner for item in [*stopped, *restored]} - {None}:
        owner_reminders_sync(organisation=organisation, user=owner)
    return counts


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


def organisation_review_dismiss(*, organisation: Organisation) -> None:
    """The owners have read what changed in how Jalon reads their facts."""
    Organisation.objects.filter(pk=organisation.pk).update(review_notes=[])


ITEM_FIELDS = ("status", "not_applicable_reason", "owner", "target_date", "notes",
               "evidence_links")  # fmt: skip


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
