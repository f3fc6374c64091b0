"""Writes for the workspace: organisations, members, the inventory, tracking and incidents."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from tracker.catalogue.events import catalogue_version
from tracker.catalogue.models import LIVE_STATUSES
from tracker.workspace import applicability
from tracker.workspace.checker import catalogue_dates, catalogue_milestones
from tracker.workspace.facts import facts_from_organisation, system_fields
from tracker.workspace.models import AISystem, Incident, Membership, Organisation, TrackedItem
from tracker.workspace.notifications import owner_reminders_sync

RESERVED_SLUGS = {"import", "invitations"}


@transaction.atomic
def organisation_create(*, name: str, owner: AbstractBaseUser) -> Organisation:
    """A new organisation with its creator as owner; the slug is made unique."""
    base = slugify(name)[:50] or "organisation"
    if base in RESERVED_SLUGS:  # would hide the page under that address (/w/import/...)
        base = f"{base}-co"
    slug, n = base, 1
    while Organisation.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    organisation = Organisation.objects.create(name=name.strip(), slug=slug)
    Membership.objects.create(organisation=organisation, user=owner, role=Membership.Role.OWNER)
    return organisation


@transaction.atomic
def tracking_sync(*, organisation: Organisation) -> dict[str, int]:
    """Bring the tracked items in line with what applies now, by the catalogue's dates now.

    New obligations get an item; ones that no longer apply are marked so, not deleted (their
    history and notes stay); reasons are refreshed. Run after every profile or inventory edit,
    and by the workspace's consumer after every catalogue change.
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
    existing = {item.milestone.key: item for item in organisation.items.select_related("milestone")}
    counts = {"added": 0, "updated": 0, "retired": 0}
    for key, result in found.items():
        if key not in live:
            continue  # a rule names a milestone this catalogue does not have (yet)
        reasons = [
            {"rule": r.rule, "article": r.article, "text": r.explanation, "system": r.system_key}
            for r in result.reasons
        ]
        item = existing.get(key)
        if item is None:
            TrackedItem.objects.create(
                organisation=organisation, milestone=live[key], reasons=reasons
            )
            counts["added"] += 1
        elif item.reasons != reasons or not item.applies:
            item.reasons, item.applies = reasons, True
            item.save(update_fields=["reasons", "applies"])
            counts["updated"] += 1
    for key, item in existing.items():
        if key not in live and item.applies:
            item.applies = False
            item.save(update_fields=["applies"])
            counts["retired"] += 1
    Organisation.objects.filter(pk=organisation.pk).update(catalogue_version=catalogue_version())
    return counts


@transaction.atomic
def system_save(*, system: AISystem) -> AISystem:
    """Create or change an AI system, then recompute what applies."""
    system.full_clean()
    system.save()
    tracking_sync(organisation=system.organisation)
    return system


@transaction.atomic
def organisation_set_facts(
    *, organisation: Organisation, established_in_eu: bool, public_body: bool,
    provides_public_services: bool,
) -> None:  # fmt: skip
    """Record who the company is under the AI Act, then recompute what applies."""
    organisation.established_in_eu = established_in_eu
    organisation.public_body = public_body
    organisation.provides_public_services = provides_public_services
    organisation.save(
        update_fields=["established_in_eu", "public_body", "provides_public_services"]
    )
    tracking_sync(organisation=organisation)


def organisation_review_dismiss(*, organisation: Organisation) -> None:
    """The owners have read what changed in how Jalon reads their facts."""
    Organisation.objects.filter(pk=organisation.pk).update(review_notes=[])


@transaction.atomic
def item_update(*, item: TrackedItem, by: AbstractBaseUser, **changes) -> TrackedItem:
    """Change an item's status, owner, target date, notes or evidence; kept in its history.

    The owner's reminders follow: a new owner starts getting them, a done item stops them.
    """
    previous_owner = item.owner
    for name, value in changes.items():
        setattr(item, name, value)
    item.changed_in_catalogue = False  # whoever edits it has seen the current date
    item._history_user = by
    item.full_clean()
    item.save()
    for owner in {previous_owner, item.owner} - {None}:
        owner_reminders_sync(organisation=item.organisation, user=owner)
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
    """Record a serious incident; its clock starts at `aware_at` (never in the future)."""
    incident = Incident(
        organisation=organisation, system=system, kinds=_incident_kinds(kinds),
        member_state=member_state, region=region, aware_at=aware_at,
        description=description.strip(), owner=owner,
    )  # fmt: skip
    if by is not None:
        incident._history_user = by
    incident.full_clean()
    incident.save()
    return incident


@transaction.atomic
def incident_update(
    *, incident: Incident, by: AbstractBaseUser | None, kinds: list[str], member_state: str,
    region: str, aware_at: dt.datetime, description: str, owner: AbstractBaseUser | None,
) -> Incident:  # fmt: skip
    """Correct an incident: where, what, when, who. Every change is kept in its history."""
    incident.kinds = _incident_kinds(kinds)
    incident.member_state, incident.region = member_state, region
    incident.aware_at, incident.description = aware_at, description.strip()
    incident.owner = owner
    if by is not None:
        incident._history_user = by
    incident.full_clean()
    incident.save()
    return incident


def incident_mark_reported(*, incident: Incident) -> None:
    Incident.objects.filter(pk=incident.pk, reported_at=None).update(reported_at=timezone.now())


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
